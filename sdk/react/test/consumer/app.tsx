// A consumer of the package, as an app writes it: every documented option
// of useConnect, ConnectButton and the embed script's types, type-checked
// against the built declarations (`npm run typecheck`, with React 19's
// types and React 18's). The @ts-expect-error lines are what must not
// compile.
import { useRef, useState } from 'react';
import { ConnectButton, useConnect } from '@oauth-connect/react';
import type {
  ConnectButtonProps,
  ConnectConfig,
  ConnectError,
  ErrorType,
  EventArgs,
  Exit,
  ExitReason,
  Handle,
  Mode,
  OpenOptions,
  Result,
  SessionRequest,
  Step,
  UseConnect,
  UseConnectError,
} from '@oauth-connect/react';
import type * as OAuthConnect from '@oauth-connect/react/connect-sdk';

const session: SessionRequest = {
  appId: 'oauth_0123456789abcdef',
  redirectUrl: 'https://app.example.com/callback',
  referenceId: 'user-123',
  tags: ['boston'],
  clientName: 'Energy Coffee',
  customerInfo: {
    firstName: 'Ada',
    lastName: 'Lovelace',
    email: 'ada@example.com',
    phone: '555-555-0100',
    location: { streetOne: '1 Main St', city: 'Boston', state: 'MA', postalCode: '02101', country: 'US' },
  },
  filters: { providers: ['demo-energy'], categories: ['battery'] },
  scopes: ['read:devices'],
  state: 'xyz',
  scopedKey: true,
  scopedKeyDelivery: 'redirect',
  scopedKeyExpiresIn: 3600,
  codeChallenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
  codeChallengeMethod: 'S256',
};

function onEvent(...[name, meta]: EventArgs): void {
  if (name === 'step') {
    const step: Step = meta.step;
    void step;
  } else if (name === 'opened') {
    const mode: Mode = meta.mode;
    void mode;
  } else if (name === 'completed') {
    const outcome: 'success' | ExitReason = meta.outcome;
    void outcome;
  } else {
    const reason: 'success' | ExitReason | ErrorType = meta.reason;
    void reason;
  }
}

const callbacks = {
  onSuccess: (result: Result) => {
    const { code, state, iss, scopedKey } = result;
    void [code, state?.length, iss?.length, scopedKey?.length];
  },
  onExit: ({ reason }: Exit) => void reason,
  onError: ({ type, reason }: ConnectError) => void [type, reason],
  onEvent,
};

export const byKey: ConnectConfig = { server: 'https://auth.example.com', publishableKey: 'oc_pk_x', session, ...callbacks };
export const byToken: ConnectConfig = { server: new URL('https://auth.example.com'), connectToken: 'oc_ct_x', ...callbacks };
export const byFunction: ConnectConfig = {
  server: 'https://auth.example.com',
  connectToken: async () => (await fetch('/api/connect-token', { method: 'POST' })).text(),
};
export const bySyncFunction: ConnectConfig = { server: 'https://auth.example.com', connectToken: () => 'oc_ct_x' };

// @ts-expect-error: the server is required here (no script URL to take it from)
export const noServer: ConnectConfig = { connectToken: 'oc_ct_x' };
// @ts-expect-error: exactly one of connectToken and publishableKey
export const both: ConnectConfig = { server: 'https://a.example', connectToken: 'x', publishableKey: 'y', session };
// @ts-expect-error: a publishable key needs its session
export const keyWithoutSession: ConnectConfig = { server: 'https://a.example', publishableKey: 'y' };
// @ts-expect-error: customerId is for a backend, not a page
export const withCustomer: SessionRequest = { redirectUrl: 'https://a.example/cb', customerId: 'cus_x' };
// @ts-expect-error: not an error type of the script
export const unknownError: ErrorType = 'timeout';

const options: OpenOptions[] = [{}, { mode: 'popup', width: 500, height: 720 }, { mode: 'modal' }];
// @ts-expect-error: popup or modal
export const badMode: OpenOptions = { mode: 'tab' };

export function Hooked() {
  const connect: UseConnect = useConnect(byKey);
  const { open, close, ready, error, result } = connect;
  const problem: UseConnectError | null = error;
  const kind: ErrorType | 'invalid-config' | undefined = problem?.type;
  return (
    <div>
      <button type="button" disabled={!ready} onClick={() => open(options[2])}>
        Connect in a modal
      </button>
      <button type="button" onClick={() => open()}>
        Connect in a popup
      </button>
      <button type="button" onClick={close}>
        Close
      </button>
      <p>{kind ?? result?.code ?? ''}</p>
    </div>
  );
}

export function Buttons() {
  const ref = useRef<HTMLButtonElement>(null);
  const [, setLast] = useState<Result | null>(null);
  const props: ConnectButtonProps = { config: { ...byToken, onSuccess: setLast } };
  return (
    <>
      <ConnectButton {...props} />
      <ConnectButton config={byFunction} openOptions={{ mode: 'modal', width: 480 }} ref={ref} className="connect" id="connect">
        Link your meter
      </ConnectButton>
      <ConnectButton config={byKey} unstyled disabled style={{ color: 'red' }} onClick={(event) => event.preventDefault()} aria-label="Connect" />
      {/* @ts-expect-error: the button opens Connect; its type is not yours to set */}
      <ConnectButton config={byKey} type="submit" />
    </>
  );
}

// The embed script's own API, as the classic script's global or the module gives it.
declare const global: typeof OAuthConnect;
const handle: Handle = global.create({ connectToken: 'oc_ct_x', server: 'https://auth.example.com' });
handle.open({ mode: 'modal' });
handle.close();
const url: string | null = handle.url;
const last: Result | null = handle.result;
const version: 1 = global.version;
const fromDefault: Handle = global.default.create({ publishableKey: 'oc_pk_x', session, onEvent });
// @ts-expect-error: the handle's url is read-only
handle.url = 'https://elsewhere.example';
void [url, last, version, fromDefault];
