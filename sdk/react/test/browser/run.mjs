// The browser test of @oauth-connect/react: Chromium (Playwright) drives a
// React page, served by this script beside an oauth-connect example server
// (cargo test starts it: tests/react_sdk.rs), with React 19 and React 18:
//
//   ready           the server-rendered ConnectButton is disabled (a click
//                   opens nothing) until the page is hydrated, then enabled
//   popup           ConnectButton, publishable key: Connect in a popup,
//                   Allow; onSuccess (code, state, iss), the popup closes,
//                   and the code is exchanged by this script (the page's
//                   backend) for a token the server accepts
//   modal           useConnect, a Connect token from the backend: Connect
//                   in a modal (the page behind inert), Allow; onSuccess,
//                   the overlay goes, the code is exchanged
//   unmount         a component opens Connect in a popup, then in a modal,
//                   and is unmounted: the popup closes and the overlay goes,
//                   without any callback
//   quick-start     the README's React quick start, as printed but for this
//                   run's server, key and origin: Connect in a popup, the
//                   customer step, Allow, its alert with the code
//
// Environment: OAUTH_CONNECT_BASE (the server), OAUTH_CONNECT_ADMIN_KEY (an
// admin key of its workspace), CHROMIUM, ARTIFACTS_DIR. Needs `npm run
// build` first. Prints `RESULT {json}` on success.
import { chromium } from 'playwright-core';
import { build } from 'esbuild';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const base = process.env.OAUTH_CONNECT_BASE;
const adminKey = process.env.OAUTH_CONNECT_ADMIN_KEY;
const artifacts = process.env.ARTIFACTS_DIR ?? join(root, '.test-build', 'artifacts');
if (!base || !adminKey) {
  console.error('set OAUTH_CONNECT_BASE and OAUTH_CONNECT_ADMIN_KEY');
  process.exit(2);
}
mkdirSync(artifacts, { recursive: true });

function check(condition, message) {
  if (!condition) throw new Error(message);
}
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function api(path, { method = 'GET', body, authorization = `Bearer ${adminKey}`, form } = {}) {
  const headers = { authorization };
  let payload;
  if (form) {
    headers['content-type'] = 'application/x-www-form-urlencoded';
    payload = new URLSearchParams(form).toString();
  } else if (body !== undefined) {
    headers['content-type'] = 'application/json';
    payload = JSON.stringify(body);
  }
  const answer = await fetch(`${base}${path}`, { method, headers, body: payload });
  const text = await answer.text();
  let json = null;
  try {
    json = JSON.parse(text);
  } catch {
    // not JSON
  }
  return { status: answer.status, json, text };
}

// ---- the page's server: its bundles, its HTML, its backend ----

const out = join(root, '.test-build', 'browser');
rmSync(out, { recursive: true, force: true });
const reacts = { r19: {}, r18: { react: 'react-18', 'react-dom': 'react-dom-18' } };
const quickStart = readFileSync(join(root, 'test', 'consumer', 'quick-start.tsx'), 'utf8');
let quickStartValues = null; // { server, publishableKey, origin }, once known

// The README's quick start with this run's values put in: each printed
// value must be there exactly once.
const substitute = {
  name: 'quick-start-values',
  setup(b) {
    b.onLoad({ filter: /quick-start\.tsx$/ }, () => {
      let text = quickStart;
      for (const [printed, actual] of [
        ["'http://127.0.0.1:3000'", JSON.stringify(quickStartValues.server)],
        ["'oc_pk_...'", JSON.stringify(quickStartValues.publishableKey)],
        ["'http://localhost:5173/callback'", JSON.stringify(`${quickStartValues.origin}/callback`)],
      ]) {
        check(text.split(printed).length === 2, `the quick start prints ${printed} once`);
        text = text.replace(printed, actual);
      }
      return { contents: text, loader: 'tsx' };
    });
  },
};

async function bundle(entry, outfile, { alias = {}, ...options }) {
  await build({
    entryPoints: [join(here, entry)],
    outfile,
    bundle: true,
    format: 'esm',
    jsx: 'automatic',
    logLevel: 'warning',
    alias: { '@oauth-connect/react': join(root, 'dist', 'index.js'), ...alias },
    define: { 'process.env.NODE_ENV': '"production"' },
    ...options,
  });
}

const renderers = {};
for (const [name, alias] of Object.entries(reacts)) {
  await bundle('client.tsx', join(out, name, 'client.js'), { alias, platform: 'browser', target: 'es2020' });
  const serverFile = join(out, name, 'server.mjs');
  await bundle('server.tsx', serverFile, {
    alias,
    platform: 'node',
    target: 'node20',
    banner: { js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);" },
  });
  renderers[name] = (await import(pathToFileURL(serverFile).href)).render;
}

const setup = {}; // the app: id, clientId, clientSecret, publishableKey
const html = (title, head, body) =>
  `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${title}</title>${head}</head><body>${body}</body></html>`;

const page = createServer(async (req, res) => {
  const url = new URL(req.url, origin);
  const send = (status, type, body) => {
    res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
    res.end(body);
  };
  try {
    const match = url.pathname.match(/^\/(r19|r18)\/(client\.js)?$/);
    if (match && match[2]) {
      send(200, 'text/javascript', readFileSync(join(out, match[1], 'client.js')));
    } else if (match) {
      const config = { server: base, publishableKey: setup.publishableKey, origin, reference: `react-${match[1]}` };
      const markup = renderers[match[1]](config);
      send(
        200,
        'text/html; charset=utf-8',
        html(
          `React ${match[1]}`,
          `<script>window.pageConfig = ${JSON.stringify(config)};</script><script type="module" src="/${match[1]}/client.js"></script>`,
          `<div id="root">${markup}</div>`,
        ),
      );
    } else if (url.pathname === '/quick-start/') {
      send(200, 'text/html; charset=utf-8', html('Quick start', '<script type="module" src="/quick-start/client.js"></script>', '<div id="root"></div>'));
    } else if (url.pathname === '/quick-start/client.js') {
      send(200, 'text/javascript', readFileSync(join(out, 'quick-start', 'client.js')));
    } else if (url.pathname === '/api/session' && req.method === 'POST') {
      // The page's backend: a session for its app, made with the admin key
      // (which never reaches the page).
      let reference = '';
      for await (const chunk of req) reference += chunk;
      const made = await api('/v1/connect/sessions', {
        method: 'POST',
        body: {
          appId: setup.id,
          redirectUrl: `${origin}/callback`,
          referenceId: reference,
          state: `${reference}-state`,
          customerInfo: {
            firstName: 'Grace',
            lastName: 'Hopper',
            email: 'grace@example.com',
            location: { streetOne: '1 Navy St', city: 'Arlington', state: 'VA', postalCode: '22201', country: 'US' },
          },
        },
      });
      if (made.status !== 201) {
        send(502, 'text/plain', made.text);
        return;
      }
      send(200, 'text/plain', made.json.connectToken);
    } else if (url.pathname === '/favicon.ico') {
      res.writeHead(204);
      res.end();
    } else if (url.pathname === '/callback') {
      send(200, 'text/html; charset=utf-8', html('Callback', '', '<p>callback</p>'));
    } else {
      send(404, 'text/plain', 'not found');
    }
  } catch (e) {
    send(500, 'text/plain', String(e?.stack ?? e));
  }
});
await new Promise((resolve) => page.listen(0, '127.0.0.1', resolve));
const origin = `http://127.0.0.1:${page.address().port}`;

// The app of this page: its redirect URL and origin, and a publishable key.
const created = await api('/v1/oauth-apps', {
  method: 'POST',
  body: {
    name: 'React page',
    redirectUris: [`${origin}/callback`],
    allowedScopes: ['read:devices'],
    allowedOrigins: [origin],
    type: 'CONFIDENTIAL',
  },
});
check(created.status === 201, `the app: ${created.text}`);
const key = await api(`/v1/oauth-apps/${created.json.id}/publishable-keys`, { method: 'POST' });
check(key.status === 201, `the publishable key: ${key.text}`);
Object.assign(setup, {
  id: created.json.id,
  clientId: created.json.clientId,
  clientSecret: created.json.clientSecret,
  publishableKey: key.json.publishableKey,
});
quickStartValues = { server: base, publishableKey: setup.publishableKey, origin };
await bundle('quick-start-client.tsx', join(out, 'quick-start', 'client.js'), {
  platform: 'browser',
  target: 'es2020',
  plugins: [substitute],
});

// The page's backend exchanges a code (Basic, the app's secret); the
// access token it gets works at the server's protected resource.
async function exchange(code) {
  const basic = `Basic ${Buffer.from(`${setup.clientId}:${setup.clientSecret}`).toString('base64')}`;
  const tokens = await api('/oauth/token', {
    method: 'POST',
    authorization: basic,
    form: { grant_type: 'authorization_code', code, redirect_uri: `${origin}/callback` },
  });
  check(tokens.status === 200, `the exchange: ${tokens.text}`);
  const me = await api('/v1/me', { authorization: `Bearer ${tokens.json.access_token}` });
  check(me.status === 200, `the access token works: ${me.text}`);
  return me.json;
}

// A publishable key's session keeps its referenceId as an unverified label
// only: its grant speaks for a generated reference id, which the
// connection carrying that label names.
async function labelled(label) {
  const list = await api(`/v1/connections?perPage=100`);
  check(list.status === 200, `the connections: ${list.text}`);
  const found = list.json.data.filter((c) => c.claimedReferenceId === label);
  check(found.length === 1, `one connection labelled ${label}: ${list.text}`);
  return found[0];
}

// ---- the browser ----

const userDataDir = mkdtempSync(join(tmpdir(), 'oauth-connect-react-'));
const context = await chromium.launchPersistentContext(userDataDir, {
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  headless: true,
  // Popup blocking stays on: only a click may open the popup.
  ignoreDefaultArgs: ['--disable-popup-blocking'],
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
context.setDefaultTimeout(30_000);
const done = [];

async function logOf(p) {
  return p.$$eval('#log li', (items) => items.map((li) => ({ kind: li.dataset.kind, detail: JSON.parse(li.dataset.detail) })));
}

async function waitFor(p, kind) {
  await p.waitForSelector(`#log li[data-kind="${kind}"]`);
  return (await logOf(p)).find((e) => e.kind === kind).detail;
}

async function closed(popup) {
  for (let i = 0; i < 50 && !popup.isClosed(); i++) await sleep(100);
  check(popup.isClosed(), 'the popup closed');
}

async function open(path) {
  const p = await context.newPage();
  const errors = [];
  p.on('pageerror', (e) => errors.push(String(e)));
  p.on('console', (m) => {
    // Chromium's notice that `autofocus` does not apply in a cross-origin
    // frame (the hosted step in the modal) is the browser declining an
    // attribute, not a script error: the page's script moves focus there.
    if (m.type() === 'error' && !m.text().startsWith('Blocked autofocusing on a')) {
      errors.push(m.text());
    }
  });
  await p.goto(`${origin}${path}`);
  p.scriptErrors = errors;
  return p;
}

try {
  for (const react of Object.keys(reacts)) {
    // ready: the server's markup has the button disabled; a click opens
    // nothing; hydrated, it is enabled.
    const p = await open(`/${react}/?defer`);
    const button = p.locator('#popup-button');
    check(await button.isDisabled(), `${react}: the server-rendered ConnectButton is disabled`);
    check((await button.textContent()) === 'Connect in a popup', `${react}: children are the label`);
    const pages = context.pages().length;
    await button.click({ force: true });
    await sleep(300);
    check(context.pages().length === pages, `${react}: a click before hydration opens nothing`);
    await p.evaluate(() => window.hydrateNow());
    await p.waitForSelector('#popup-button:not([disabled])');
    check(await p.evaluate(() => document.querySelector('#popup-button').type === 'button'), 'a plain button');
    await p.screenshot({ path: join(artifacts, `react-${react}-page.png`) });
    done.push(`${react}:ready`);

    // popup: publishable key, Allow, onSuccess, the popup closes.
    const [popup] = await Promise.all([p.waitForEvent('popup'), button.click()]);
    await popup.locator('button[value="approve"]').waitFor();
    await popup.screenshot({ path: join(artifacts, `react-${react}-popup.png`) });
    await popup.locator('button[value="approve"]').click();
    const success = await waitFor(p, 'popup:success');
    check(success.code.startsWith('oc_code_'), `${react}: a code: ${JSON.stringify(success)}`);
    check(success.state === 'popup-state', `${react}: the state`);
    check(success.iss === base, `${react}: the issuer`);
    await closed(popup);
    const me = await exchange(success.code);
    const popupConnection = await labelled(`react-${react}-popup`);
    check(me.subject.startsWith('oc-generated:'), `${react}: a publishable key's grant has a generated subject: ${JSON.stringify(me)}`);
    check(me.subject === popupConnection.referenceId && popupConnection.browserCreated, `${react}: the grant is the popup session's: ${JSON.stringify(me)}`);
    const events = (await logOf(p)).filter((e) => e.kind === 'popup:event').map((e) => e.detail.name);
    check(JSON.stringify(events) === JSON.stringify(['opened', 'step', 'completed', 'closed']), `${react}: events ${events}`);
    done.push(`${react}:popup`);

    // modal: a Connect token from the backend, Allow in the frame.
    await p.locator('#modal-open').click();
    const overlay = p.locator('[data-oauth-connect="modal"]');
    await overlay.waitFor();
    check(await p.evaluate(() => document.getElementById('root').inert === true), `${react}: the page behind the modal is inert`);
    const frame = p.frameLocator('[data-oauth-connect="modal"] iframe');
    await frame.locator('button[value="approve"]').waitFor();
    await p.screenshot({ path: join(artifacts, `react-${react}-modal.png`) });
    await frame.locator('button[value="approve"]').click();
    const modal = await waitFor(p, 'modal:success');
    check(modal.state === `react-${react}-modal-state`, `${react}: the modal's state`);
    await overlay.waitFor({ state: 'detached' });
    check(await p.evaluate(() => document.getElementById('root').inert === false), `${react}: the page is live again`);
    check((await p.textContent('#modal-result')) === modal.code, `${react}: result shows the code`);
    const modalMe = await exchange(modal.code);
    check(modalMe.subject === `react-${react}-modal`, `${react}: the modal session's grant`);
    done.push(`${react}:modal`);

    // unmount: what a component opened goes with it, silently.
    const [orphan] = await Promise.all([p.waitForEvent('popup'), p.locator('#unmount-open-popup').click()]);
    await orphan.waitForLoadState();
    check(!orphan.isClosed(), `${react}: the popup is open`);
    await p.locator('#unmount').click();
    await closed(orphan);
    check((await p.locator('#unmountable').count()) === 0, `${react}: unmounted`);
    await sleep(600); // past the script's closed-window poll
    const after = (await logOf(p)).filter((e) => e.kind.startsWith('unmount-popup:') && e.kind !== 'unmount-popup:event');
    check(after.length === 0, `${react}: no callback after unmount: ${JSON.stringify(after)}`);
    done.push(`${react}:unmount-popup`);
    await p.close();

    // The same with a modal.
    const q = await open(`/${react}/`);
    await q.locator('#unmount-open-modal').click();
    await q.locator('[data-oauth-connect="modal"] iframe').waitFor();
    await q.frameLocator('[data-oauth-connect="modal"] iframe').locator('button[value="approve"]').waitFor();
    // The page behind is inert (no pointer reaches it): the app unmounts
    // the component by itself, as on a route change.
    await q.evaluate(() => document.getElementById('unmount').click());
    await q.locator('[data-oauth-connect="modal"]').waitFor({ state: 'detached' });
    check((await q.locator('#unmountable').count()) === 0, `${react}: unmounted`);
    check(await q.evaluate(() => document.getElementById('root').inert === false), `${react}: the page is live again`);
    const modalAfter = (await logOf(q)).filter((e) => e.kind.startsWith('unmount-modal:') && e.kind !== 'unmount-modal:event');
    check(modalAfter.length === 0, `${react}: no callback after unmount: ${JSON.stringify(modalAfter)}`);
    done.push(`${react}:unmount-modal`);
    check(p.scriptErrors.length === 0 && q.scriptErrors.length === 0, `${react}: no script errors: ${p.scriptErrors} ${q.scriptErrors}`);
    await q.close();
  }

  // The README's quick start.
  const qs = await open('/quick-start/');
  const alerts = [];
  qs.on('dialog', async (dialog) => {
    alerts.push(dialog.message());
    await dialog.accept();
  });
  const start = qs.getByRole('button', { name: 'Connect your account' });
  await qs.waitForSelector('button:not([disabled])');
  const [popup] = await Promise.all([qs.waitForEvent('popup'), start.click()]);
  await popup.locator('#lastName').waitFor();
  await popup.fill('#firstName', 'Ada');
  await popup.fill('#lastName', 'Lovelace');
  await popup.fill('#email', 'ada@example.com');
  await popup.fill('#phone', '555-555-0100');
  await popup.fill('#streetOne', '1 Main St');
  await popup.fill('#city', 'Springfield');
  await popup.fill('#state', 'IL');
  await popup.fill('#postalCode', '62701');
  await popup.selectOption('#country', 'US');
  await popup.click('button[type="submit"].primary');
  await popup.locator('button[value="approve"]').click();
  for (let i = 0; i < 100 && alerts.length === 0; i++) await sleep(100);
  check(alerts.length === 1, `the quick start alerts once: ${alerts}`);
  const code = alerts[0].match(/^Connected: exchange (oc_code_\S+) from your backend$/)?.[1];
  check(code, `the quick start's alert: ${alerts[0]}`);
  await closed(popup);
  const quickMe = await exchange(code);
  check(quickMe.subject === (await labelled('user-123')).referenceId, `the quick start's connection, labelled user-123: ${JSON.stringify(quickMe)}`);
  check(qs.scriptErrors.length === 0, `quick start: no script errors: ${qs.scriptErrors}`);
  done.push('quick-start');

  console.log(`RESULT ${JSON.stringify({ done })}`);
} finally {
  await context.close();
  page.close();
  rmSync(userDataDir, { recursive: true, force: true });
}
