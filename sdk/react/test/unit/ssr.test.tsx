// Server-side rendering: no window, no document. Importing the package
// touches no browser API, and the button renders disabled (not ready).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createElement } from 'react';
import { renderToString } from 'react-dom/server.browser';
import { ConnectButton, useConnect } from '../../dist/index.js';

declare const REACT_VERSION: string;

test(`imports and renders without a window (${REACT_VERSION})`, () => {
  assert.equal(typeof (globalThis as { window?: unknown }).window, 'undefined');
  assert.equal(typeof (globalThis as { document?: unknown }).document, 'undefined');
  const html = renderToString(
    createElement(ConnectButton, { config: { server: 'https://auth.example.com', connectToken: 'oc_ct_x' } }, 'Connect'),
  );
  assert.match(html, /^<button[^>]* type="button"[^>]* disabled=""[^>]*>Connect<\/button>$/);
  let seen: ReturnType<typeof useConnect> | null = null;
  function Probe() {
    seen = useConnect({ server: 'https://auth.example.com', publishableKey: 'oc_pk_x', session: { redirectUrl: 'https://app.example.com/cb' } });
    return null;
  }
  renderToString(createElement(Probe));
  assert.equal(seen!.ready, false);
  assert.equal(seen!.error, null);
});
