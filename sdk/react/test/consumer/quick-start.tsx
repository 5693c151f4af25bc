import { ConnectButton } from '@oauth-connect/react';

const server = 'http://127.0.0.1:3000'; // the example server
const publishableKey = 'oc_pk_...'; // from the curl above

export default function App() {
  return (
    <ConnectButton
      config={{
        server,
        publishableKey,
        session: { redirectUrl: 'http://localhost:5173/callback', referenceId: 'user-123' },
        onSuccess: ({ code }) => alert(`Connected: exchange ${code} from your backend`),
        onError: ({ type, reason }) => alert(`${type}: ${reason}`),
      }}
    >
      Connect your account
    </ConnectButton>
  );
}
