// useConnect and ConnectButton in a jsdom window, with the bundled embed
// script as it is (window.open and fetch are the fakes): readiness, the
// popup and the modal, every callback, the config's changes, and the
// clean-up on unmount. Run with React 19 and React 18 (scripts/unit.mjs).
import { PAGE, SERVER, nonceOf, post, stubFetch, stubOpen, tick, win } from './dom.js';
import assert from 'node:assert/strict';
import { after, afterEach, describe, test } from 'node:test';
import { act, createElement, useState, version as reactVersion } from 'react';
import { createRoot } from 'react-dom/client';
import type { Root } from 'react-dom/client';
import { ConnectButton, useConnect } from '../../dist/index.js';
import type { ConnectConfig, UseConnect } from '../../dist/index.js';

declare const REACT_VERSION: string;

let root: Root | null = null;
let host: HTMLElement | null = null;

// The window's timers would keep this process alive.
after(() => win.close());

afterEach(async () => {
  if (root) await act(async () => root?.unmount());
  root = null;
  host?.remove();
  host = null;
});

async function render(element: React.ReactElement): Promise<void> {
  if (!host) {
    host = document.createElement('div');
    document.body.appendChild(host);
  }
  if (!root) root = createRoot(host);
  await act(async () => root?.render(element));
}

/** Renders useConnect(config) and returns every value it returned, in order. */
function probe(): { seen: UseConnect[]; Probe: (props: { config: ConnectConfig }) => null } {
  const seen: UseConnect[] = [];
  function Probe({ config }: { config: ConnectConfig }) {
    seen.push(useConnect(config));
    return null;
  }
  return { seen, Probe };
}

const last = <T,>(list: T[]): T => {
  const value = list[list.length - 1];
  assert.ok(value !== undefined, 'rendered at least once');
  return value;
};

describe(`useConnect (${REACT_VERSION}, React ${reactVersion})`, () => {
  test('the React under test is the one named', () => {
    assert.equal(reactVersion.split('.')[0], REACT_VERSION === 'react18' ? '18' : '19');
  });

  test('is not ready on the first render, ready after its effect', async () => {
    stubOpen();
    const { seen, Probe } = probe();
    await render(<Probe config={{ server: SERVER, connectToken: 'oc_ct_token' }} />);
    assert.equal(seen[0]?.ready, false);
    assert.equal(last(seen).ready, true);
    assert.equal(last(seen).error, null);
    assert.equal(last(seen).result, null);
  });

  test('open() opens the hosted page in a popup; success reaches onSuccess and result, and the popup closes', async () => {
    const opened = stubOpen();
    const successes: unknown[] = [];
    const events: unknown[][] = [];
    const { seen, Probe } = probe();
    await render(
      <Probe
        config={{
          server: SERVER,
          connectToken: 'oc_ct_token',
          onSuccess: (result) => successes.push(result),
          onEvent: (...args) => events.push(args),
        }}
      />,
    );
    await act(async () => last(seen).open());
    assert.equal(opened.length, 1);
    const popup = opened[0]!;
    const url = new URL(popup.url);
    assert.equal(url.origin + url.pathname, `${SERVER}/connect`);
    assert.equal(url.searchParams.get('token'), 'oc_ct_token');
    assert.equal(url.searchParams.get('embed'), 'popup');
    const nonce = nonceOf(popup.url);
    await act(async () => post(popup, nonce, { event: 'step', step: 'consent' }));
    await act(async () => post(popup, nonce, { event: 'success', code: 'oc_code_1', state: 's', iss: SERVER }));
    assert.deepEqual(successes, [{ code: 'oc_code_1', state: 's', iss: SERVER }]);
    assert.deepEqual(last(seen).result, { code: 'oc_code_1', state: 's', iss: SERVER });
    assert.equal(popup.closed, true);
    assert.deepEqual(events, [
      ['opened', { mode: 'popup' }],
      ['step', { step: 'consent' }],
      ['completed', { outcome: 'success' }],
      ['closed', { reason: 'success' }],
    ]);
  });

  test('a message with another nonce, origin or source is ignored', async () => {
    const opened = stubOpen();
    const successes: unknown[] = [];
    const { seen, Probe } = probe();
    await render(<Probe config={{ server: SERVER, connectToken: 'oc_ct_token', onSuccess: (r) => successes.push(r) }} />);
    await act(async () => last(seen).open());
    const popup = opened[0]!;
    const nonce = nonceOf(popup.url);
    await act(async () => {
      post(popup, 'another-nonce', { event: 'success', code: 'forged' });
      post(popup, nonce, { event: 'success', code: 'forged' }, 'http://evil.example');
      post({}, nonce, { event: 'success', code: 'forged' });
    });
    assert.deepEqual(successes, []);
    assert.equal(popup.closed, false);
    assert.equal(last(seen).result, null);
  });

  test('a blocked popup is an error (popup-blocked), reported to onError and error', async () => {
    stubOpen(true);
    const errors: unknown[] = [];
    const { seen, Probe } = probe();
    await render(<Probe config={{ server: SERVER, connectToken: 'oc_ct_token', onError: (e) => errors.push(e) }} />);
    await act(async () => last(seen).open());
    assert.equal(errors.length, 1);
    assert.equal(last(seen).error?.type, 'popup-blocked');
    // The next open() starts clean.
    stubOpen();
    await act(async () => last(seen).open());
    assert.equal(last(seen).error, null);
  });

  test('onExit gets the reason (denied) and the popup closes', async () => {
    const opened = stubOpen();
    const exits: unknown[] = [];
    const { seen, Probe } = probe();
    await render(<Probe config={{ server: SERVER, connectToken: 'oc_ct_token', onExit: (e) => exits.push(e) }} />);
    await act(async () => last(seen).open());
    const popup = opened[0]!;
    await act(async () => post(popup, nonceOf(popup.url), { event: 'exit', reason: 'denied' }));
    assert.deepEqual(exits, [{ reason: 'denied' }]);
    assert.equal(popup.closed, true);
  });

  test('unmounting closes the popup it opened, without a callback', async () => {
    const opened = stubOpen();
    const calls: string[] = [];
    const { seen, Probe } = probe();
    await render(
      <Probe
        config={{
          server: SERVER,
          connectToken: 'oc_ct_token',
          onSuccess: () => calls.push('success'),
          onExit: () => calls.push('exit'),
          onError: () => calls.push('error'),
        }}
      />,
    );
    await act(async () => last(seen).open());
    assert.equal(opened[0]!.closed, false);
    await act(async () => root?.unmount());
    root = null;
    assert.equal(opened[0]!.closed, true);
    await tick(500); // past the script's closed-window poll
    assert.deepEqual(calls, []);
  });

  test('close() closes the popup without a callback', async () => {
    const opened = stubOpen();
    const calls: string[] = [];
    const { seen, Probe } = probe();
    await render(<Probe config={{ server: SERVER, connectToken: 'oc_ct_token', onError: () => calls.push('error') }} />);
    await act(async () => last(seen).open());
    await act(async () => last(seen).close());
    assert.equal(opened[0]!.closed, true);
    await tick(500);
    assert.deepEqual(calls, []);
  });

  test('a modal: the overlay covers the page, which is inert; unmounting removes both', async () => {
    stubOpen();
    const requests = stubFetch((url) => {
      assert.ok(url.startsWith(`${SERVER}/connect/status?token=oc_ct_modal`), url);
      return { status: 200, body: { embed: { origin: PAGE, framable: true, messages: true } } };
    });
    const { seen, Probe } = probe();
    await render(<Probe config={{ server: SERVER, connectToken: 'oc_ct_modal' }} />);
    await act(async () => last(seen).open({ mode: 'modal' }));
    await act(async () => tick(10));
    const overlay = document.querySelector('[data-oauth-connect="modal"]');
    assert.ok(overlay, 'the modal is shown');
    assert.equal(overlay.getAttribute('role'), 'dialog');
    const frame = overlay.querySelector('iframe');
    assert.ok(frame, 'the frame is in once the server said so');
    assert.equal(new URL(frame.src).searchParams.get('embed'), 'modal');
    assert.equal(requests.length, 1);
    const shell = document.getElementById('app-shell') as HTMLElement & { inert: boolean };
    assert.equal(shell.inert, true);
    await act(async () => root?.unmount());
    root = null;
    assert.equal(document.querySelector('[data-oauth-connect="modal"]'), null);
    assert.equal(shell.inert, false);
  });

  test('a new token closes the old opening; callbacks change without one', async () => {
    const opened = stubOpen();
    const calls: string[] = [];
    const { seen, Probe } = probe();
    const config = (token: string, tag: string): ConnectConfig => ({
      server: SERVER,
      connectToken: token,
      onSuccess: (r) => calls.push(`${tag}:${r.code}`),
    });
    await render(<Probe config={config('oc_ct_a', 'first')} />);
    await act(async () => last(seen).open());
    // New callbacks, same session: the popup stays, the latest callback hears.
    await render(<Probe config={config('oc_ct_a', 'second')} />);
    const a = opened[0]!;
    assert.equal(a.closed, false);
    await act(async () => post(a, nonceOf(a.url), { event: 'success', code: 'c1', state: null }));
    assert.deepEqual(calls, ['second:c1']);
    // Another token: a new handle; the popup of the old one is closed.
    await act(async () => last(seen).open());
    const b = opened[1]!;
    await render(<Probe config={config('oc_ct_b', 'third')} />);
    assert.equal(b.closed, true);
    await act(async () => last(seen).open());
    assert.equal(new URL(opened[2]!.url).searchParams.get('token'), 'oc_ct_b');
  });

  test('a token function: called by open() (the latest one), the popup blank until it answers', async () => {
    const opened = stubOpen();
    const asked: string[] = [];
    let answer: (token: string) => void = () => {};
    const { seen, Probe } = probe();
    const config = (tag: string): ConnectConfig => ({
      server: SERVER,
      connectToken: () => {
        asked.push(tag);
        return new Promise<string>((resolve) => {
          answer = resolve;
        });
      },
    });
    await render(<Probe config={config('one')} />);
    await render(<Probe config={config('two')} />);
    await act(async () => last(seen).open());
    assert.deepEqual(asked, ['two']);
    assert.equal(opened[0]!.url, 'about:blank');
    await act(async () => answer('oc_ct_two'));
    assert.equal(new URL(opened[0]!.url).searchParams.get('token'), 'oc_ct_two');
  });

  test('a publishable key: open() creates the session (POST, Bearer key, the body as given)', async () => {
    const opened = stubOpen();
    const requests = stubFetch(() => ({
      status: 201,
      body: { connectToken: 'oc_ct_made', url: `${SERVER}/connect?token=oc_ct_made`, expiresAt: new Date(Date.now() + 60_000).toISOString() },
    }));
    const session = { redirectUrl: `${PAGE}/callback`, referenceId: 'user-1', scopes: ['read:devices'] };
    const { seen, Probe } = probe();
    await render(<Probe config={{ server: SERVER, publishableKey: 'oc_pk_key', session }} />);
    await act(async () => last(seen).open());
    await act(async () => tick(10));
    assert.equal(requests.length, 1);
    assert.equal(requests[0]!.url, `${SERVER}/v1/connect/sessions`);
    assert.equal(requests[0]!.init?.method, 'POST');
    assert.equal((requests[0]!.init?.headers as Record<string, string>).authorization, 'Bearer oc_pk_key');
    assert.deepEqual(JSON.parse(String(requests[0]!.init?.body)), session);
    assert.equal(new URL(opened[0]!.url).searchParams.get('token'), 'oc_ct_made');
  });

  test('a session refused by the server is an error (session-invalid)', async () => {
    stubOpen();
    stubFetch(() => ({ status: 400, body: { error: 'invalid_request', message: 'redirectUrl: is not one of the app\'s registered redirect URIs' } }));
    const { seen, Probe } = probe();
    await render(<Probe config={{ server: SERVER, publishableKey: 'oc_pk_key', session: { redirectUrl: `${PAGE}/cb` } }} />);
    await act(async () => last(seen).open());
    await act(async () => tick(10));
    assert.equal(last(seen).error?.type, 'session-invalid');
    assert.match(last(seen).error?.reason ?? '', /redirectUrl/);
  });

  test('a config create() refuses: invalid-config, never ready, open() does nothing', async () => {
    const opened = stubOpen();
    const { seen, Probe } = probe();
    const both = { server: SERVER, connectToken: 'oc_ct_x', publishableKey: 'oc_pk_y' } as unknown as ConnectConfig;
    await render(<Probe config={both} />);
    assert.equal(last(seen).ready, false);
    assert.equal(last(seen).error?.type, 'invalid-config');
    assert.match(last(seen).error?.reason ?? '', /exactly one of connectToken and publishableKey/);
    await act(async () => last(seen).open());
    assert.equal(opened.length, 0);
    const otherOrigin = { server: SERVER, publishableKey: 'oc_pk_y', session: { redirectUrl: 'https://elsewhere.example/cb' } };
    await render(<Probe config={otherOrigin} />);
    assert.match(last(seen).error?.reason ?? '', /this page's origin/);
    const notAFunction = { server: SERVER, connectToken: 'oc_ct_x', onSuccess: 'nope' } as unknown as ConnectConfig;
    await render(<Probe config={notAFunction} />);
    assert.match(last(seen).error?.reason ?? '', /onSuccess must be a function/);
    // A usable config again: ready, and the error is gone.
    await render(<Probe config={{ server: SERVER, connectToken: 'oc_ct_x', onSuccess: () => {} }} />);
    assert.equal(last(seen).ready, true);
    assert.equal(last(seen).error, null);
  });
});

describe(`ConnectButton (${REACT_VERSION})`, () => {
  test('a styled button, disabled until ready, children as its label, opening Connect on click', async () => {
    const opened = stubOpen();
    const states: (boolean | undefined)[] = [];
    function Spy() {
      const [, force] = useState(0);
      return (
        <ConnectButton
          config={{ server: SERVER, connectToken: 'oc_ct_button' }}
          ref={(el) => {
            if (el) states.push(el.disabled);
          }}
          data-testid="connect"
          onFocus={() => force(1)}
        >
          Link your meter
        </ConnectButton>
      );
    }
    await render(createElement(Spy));
    assert.equal(states[0], true, 'disabled on its first render');
    const button = document.querySelector('[data-testid="connect"]') as HTMLButtonElement;
    assert.equal(button.disabled, false, 'enabled once ready');
    assert.equal(button.type, 'button');
    assert.equal(button.textContent, 'Link your meter');
    assert.ok(button.style.background.length > 0, 'styled');
    await act(async () => button.click());
    assert.equal(opened.length, 1);
    assert.equal(new URL(opened[0]!.url).searchParams.get('token'), 'oc_ct_button');
  });

  test('a default label, openOptions, its own onClick first (preventDefault keeps Connect closed), disabled, unstyled', async () => {
    stubOpen();
    stubFetch(() => ({ status: 200, body: { embed: { origin: PAGE, framable: true, messages: true } } }));
    let prevent = true;
    const clicks: string[] = [];
    await render(
      <ConnectButton
        config={{ server: SERVER, connectToken: 'oc_ct_modal' }}
        openOptions={{ mode: 'modal' }}
        onClick={(event) => {
          clicks.push('mine');
          if (prevent) event.preventDefault();
        }}
      />,
    );
    const button = document.querySelector('button') as HTMLButtonElement;
    assert.equal(button.textContent, 'Connect your account');
    await act(async () => button.click());
    assert.deepEqual(clicks, ['mine']);
    assert.equal(document.querySelector('[data-oauth-connect="modal"]'), null);
    prevent = false;
    await act(async () => button.click());
    assert.ok(document.querySelector('[data-oauth-connect="modal"]'), 'the modal opened');
    await act(async () => root?.unmount());
    root = null;
    assert.equal(document.querySelector('[data-oauth-connect="modal"]'), null);

    await render(<ConnectButton config={{ server: SERVER, connectToken: 'oc_ct_x' }} disabled unstyled className="mine" />);
    const off = document.querySelector('button.mine') as HTMLButtonElement;
    assert.equal(off.disabled, true);
    assert.equal(off.getAttribute('style'), null);
  });
});
