import { useCallback, useEffect, useRef, useState } from 'react';
import type { ConnectError, Handle, OpenOptions, Options, Result } from './connect-sdk.js';
import { sdk } from './sdk.js';

/**
 * What `useConnect` and `ConnectButton` take: what the embed script's
 * `OAuthConnect.create` takes (a Connect token, a function returning one,
 * or a publishable key with the session to create; the callbacks), and
 * the server's base URL, which is required here.
 */
export type ConnectConfig = Options & {
  /** The server's base URL (its issuer), e.g. `https://auth.example.com`. */
  server: string | URL;
};

/** An error `useConnect` reports: one of the embed script's, or a config it cannot use. */
export type UseConnectError =
  | ConnectError
  | {
      /** `create` refused the config (no server, neither or both of `connectToken` and `publishableKey`, …). */
      type: 'invalid-config';
      reason: string;
    };

/** What `useConnect` returns. */
export interface UseConnect {
  /**
   * Opens Connect: a popup (the default) or `{ mode: 'modal' }`. Call it
   * from a click (a popup needs the user's gesture). Does nothing until
   * `ready`; while Connect is open, focuses it.
   */
  open: (options?: OpenOptions) => void;
  /** Closes the popup or modal, if open, without any callback. */
  close: () => void;
  /** Whether `open` can be called: false during server rendering and until the first effect ran. */
  ready: boolean;
  /** The last error (cleared by `open`), or null. */
  error: UseConnectError | null;
  /** The last success (`{ code, state, iss, scopedKey? }`), or null. */
  result: Result | null;
}

const CALLBACKS = ['onSuccess', 'onExit', 'onError', 'onEvent'] as const;

/**
 * What makes a new handle: the server, the session's source, and which
 * callbacks are functions. The callbacks and a token function themselves
 * may change on every render without one (the handle calls the latest).
 */
function identity(config: ConnectConfig): string {
  const token = config.connectToken;
  return JSON.stringify([
    String(config.server),
    typeof token === 'function' ? { fn: true } : (token ?? null),
    config.publishableKey ?? null,
    config.session ?? null,
    CALLBACKS.map((name) => typeof config[name]),
  ]);
}

/**
 * The Connect flow of an oauth-connect server in a React component: the
 * server's embed script (bundled), one handle per config, closed (its
 * popup or modal with it) when the component unmounts or the config names
 * another session.
 */
export function useConnect(config: ConnectConfig): UseConnect {
  const latest = useRef(config);
  const handle = useRef<Handle | null>(null);
  const [ready, setReady] = useState(false);
  const [error, setError] = useState<UseConnectError | null>(null);
  const [result, setResult] = useState<Result | null>(null);

  useEffect(() => {
    latest.current = config;
  });

  const key = identity(config);
  useEffect(() => {
    const given = latest.current;
    let made: Handle;
    try {
      for (const name of CALLBACKS) {
        if (given[name] !== undefined && typeof given[name] !== 'function') {
          throw new TypeError(`OAuthConnect: ${name} must be a function`);
        }
      }
      const token = given.connectToken;
      const options = {
        server: given.server,
        connectToken:
          typeof token === 'function'
            ? () => {
                const now = latest.current.connectToken;
                return typeof now === 'function' ? now() : (now ?? '');
              }
            : token,
        publishableKey: given.publishableKey,
        session: given.session,
        onSuccess: (success: Result) => {
          setResult(success);
          latest.current.onSuccess?.(success);
        },
        onExit: (exit: { reason: 'denied' | 'user-cancelled' }) => {
          latest.current.onExit?.(exit);
        },
        onError: (problem: ConnectError) => {
          setError(problem);
          latest.current.onError?.(problem);
        },
        onEvent: (...args: Parameters<NonNullable<Options['onEvent']>>) => {
          latest.current.onEvent?.(...args);
        },
      } as Options;
      made = sdk().create(options);
    } catch (problem) {
      setReady(false);
      setError({ type: 'invalid-config', reason: problem instanceof Error ? problem.message : String(problem) });
      return undefined;
    }
    handle.current = made;
    setReady(true);
    setError((now) => (now?.type === 'invalid-config' ? null : now));
    return () => {
      if (handle.current === made) handle.current = null;
      made.close();
    };
  }, [key]);

  const open = useCallback((options?: OpenOptions) => {
    const current = handle.current;
    if (current === null) return;
    setError(null);
    current.open(options);
  }, []);
  const close = useCallback(() => {
    handle.current?.close();
  }, []);

  return { open, close, ready, error, result };
}
