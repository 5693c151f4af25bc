// The React page of the browser test (run.mjs): rendered on the server
// (renderToString) and hydrated in Chromium, with React 19 or 18.
//   #popup-button   ConnectButton, a publishable key, a popup
//   #modal-open     useConnect, a Connect token from the page's backend
//                   (POST /api/session), a modal
//   #unmount-*      a component that opens Connect (popup or modal) and is
//                   then unmounted: what it opened goes away with it
// Every callback lands in #log as <li data-kind data-detail>.
import { useState } from 'react';
import { ConnectButton, useConnect } from '../../dist/index.js';
import type { ConnectConfig } from '../../dist/index.js';

export interface PageConfig {
  server: string;
  publishableKey: string;
  origin: string;
  reference: string;
}

type Log = (kind: string, detail: unknown) => void;

function callbacks(log: Log, tag: string): Pick<ConnectConfig, 'onSuccess' | 'onExit' | 'onError' | 'onEvent'> {
  return {
    onSuccess: (result) => log(`${tag}:success`, result),
    onExit: (exit) => log(`${tag}:exit`, exit),
    onError: (error) => log(`${tag}:error`, error),
    onEvent: (name, meta) => log(`${tag}:event`, { name, meta }),
  };
}

const customerInfo = {
  firstName: 'Ada',
  lastName: 'Lovelace',
  email: 'ada@example.com',
  location: { streetOne: '1 Main St', city: 'Springfield', state: 'IL', postalCode: '62701', country: 'US' },
};

async function connectToken(reference: string): Promise<string> {
  const answer = await fetch('/api/session', { method: 'POST', body: reference });
  if (!answer.ok) throw new Error(`the backend answered ${answer.status}`);
  return answer.text();
}

function Modal({ config, log }: { config: PageConfig; log: Log }) {
  const { open, ready, error, result } = useConnect({
    server: config.server,
    connectToken: () => connectToken(`${config.reference}-modal`),
    ...callbacks(log, 'modal'),
  });
  return (
    <section>
      <button type="button" id="modal-open" disabled={!ready} onClick={() => open({ mode: 'modal' })}>
        Connect in a modal
      </button>
      <output id="modal-result">{result ? result.code : ''}</output>
      <output id="modal-error">{error ? error.type : ''}</output>
    </section>
  );
}

function Opener({ config, log, mode }: { config: PageConfig; log: Log; mode: 'popup' | 'modal' }) {
  const { open } = useConnect({
    server: config.server,
    connectToken: () => connectToken(`${config.reference}-unmount-${mode}`),
    ...callbacks(log, `unmount-${mode}`),
  });
  return (
    <button type="button" id={`unmount-open-${mode}`} onClick={() => open({ mode })}>
      Open ({mode}), then unmount me
    </button>
  );
}

export function App({ config }: { config: PageConfig }) {
  const [entries, setEntries] = useState<{ kind: string; detail: string }[]>([]);
  const [mounted, setMounted] = useState(true);
  const log: Log = (kind, detail) => setEntries((now) => [...now, { kind, detail: JSON.stringify(detail) }]);
  return (
    <main>
      <h1>React Connect</h1>
      <ConnectButton
        id="popup-button"
        config={{
          server: config.server,
          publishableKey: config.publishableKey,
          session: {
            redirectUrl: `${config.origin}/callback`,
            referenceId: `${config.reference}-popup`,
            state: 'popup-state',
            customerInfo,
          },
          ...callbacks(log, 'popup'),
        }}
      >
        Connect in a popup
      </ConnectButton>
      <Modal config={config} log={log} />
      {mounted ? (
        <section id="unmountable">
          <Opener config={config} log={log} mode="popup" />
          <Opener config={config} log={log} mode="modal" />
        </section>
      ) : null}
      <button type="button" id="unmount" onClick={() => setMounted(false)}>
        Unmount
      </button>
      <ul id="log">
        {entries.map((entry, i) => (
          <li key={i} data-kind={entry.kind} data-detail={entry.detail}>
            {entry.kind}
          </li>
        ))}
      </ul>
    </main>
  );
}
