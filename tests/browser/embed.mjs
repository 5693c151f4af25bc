// Headless Chromium drives Connect in the browser: the demo integrating app
// of an oauth-connect example (its page on a second origin loads the embed
// script with its Subresource Integrity) opens Connect in a popup and in a
// modal, and we check every callback it shows:
//
//   popup-success     publishable key, popup, Demo Energy (its sign-in in a
//                     window of its own, through the upstream server), consent:
//                     onSuccess, and the demo's backend exchanges the code
//   modal-success     Connect token from the backend, modal, Demo Energy
//                     (its sign-in, which refuses framing, in a window of
//                     its own): onSuccess and the exchange; the overlay
//                     traps focus (the page behind is inert) and goes away
//   modal-escape      Escape in the modal (outside and inside the frame):
//                     onExit user-cancelled
//   popup-closed      the user closes the popup: onError popup-closed
//   popup-blocked     open() without a click, popup blocking on:
//                     onError popup-blocked
//   denied            Deny on the consent step: onExit denied; Exit on an
//                     earlier step: onExit user-cancelled
//   session-used      a used Connect token: onError session-used
//   session-other-browser  a session another browser claimed first (its
//                     first post), in a popup and in a modal:
//                     onError session-other-browser
//   forged            messages from another origin (even with the right
//                     nonce), or from a window of the server's origin that
//                     the script did not open, are ignored
//   unregistered      a page at an origin the app never registered opens the
//                     hosted page and completes it: it receives no message
//   modal-not-allowed the script asks the server (GET /connect/status)
//                     before framing: a page at an origin the session does
//                     not report to, or one the app's allowedOrigins lack,
//                     gets onError modal-not-allowed saying which, and the
//                     hosted page is never framed; an unknown token:
//                     session-invalid; a frame that never answers (a server
//                     that says yes, a page that stays silent): the timer's
//                     modal-not-allowed; an unreachable server: network
//   opener-gone       the page that opened the popup closed: the result page
//                     falls back to the redirect, whose page exchanges the code
//   web-message       plain OAuth, response_mode=web_message, in a popup
//   module            the ES module twin exports the same API
//   session-expired   a token older than the session lifetime (a second
//                     server with 60-second sessions): onError session-expired
//
// Driven by `cargo test` (tests/examples_e2e.rs, `browser_connect_embed`),
// which starts two axum examples and passes:
//   OAUTH_CONNECT_BASE, OAUTH_CONNECT_DEMO_APP   the main server and its demo app
//   OAUTH_CONNECT_ADMIN_KEY                      an admin key (both servers)
//   EXPIRY_BASE, EXPIRY_DEMO_APP                 the server with 60 s sessions
//   ARTIFACTS_DIR                                where to save screenshots
// Prints `RESULT {json}` on success.

import { chromium } from 'playwright-core';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const base = process.env.OAUTH_CONNECT_BASE;
const demo = process.env.OAUTH_CONNECT_DEMO_APP;
const adminKey = process.env.OAUTH_CONNECT_ADMIN_KEY;
const expiryBase = process.env.EXPIRY_BASE;
const expiryDemo = process.env.EXPIRY_DEMO_APP;
const artifacts = process.env.ARTIFACTS_DIR ?? 'browser-artifacts';
if (!base || !demo || !adminKey || !expiryBase || !expiryDemo) {
  console.error('set OAUTH_CONNECT_BASE, OAUTH_CONNECT_DEMO_APP, OAUTH_CONNECT_ADMIN_KEY, EXPIRY_BASE and EXPIRY_DEMO_APP');
  process.exit(2);
}
mkdirSync(artifacts, { recursive: true });

function check(condition, message) {
  if (!condition) throw new Error(message);
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function admin(server, path, init = {}) {
  const answer = await fetch(`${server}${path}`, {
    ...init,
    headers: { authorization: `Bearer ${adminKey}`, 'content-type': 'application/json', ...(init.headers ?? {}) },
  });
  const body = await answer.json().catch(() => null);
  return { status: answer.status, body };
}

// The demo app's app, found through the management API.
async function demoAppId(server) {
  const { body } = await admin(server, '/v1/oauth-apps?perPage=100');
  const app = body.data.find((a) => a.name === 'Demo web app');
  check(app, `the demo app is registered at ${server}`);
  return app.id;
}

// A Connect session for the demo app (or `appId`), made with the admin key.
async function adminSession(server, demoOrigin, referenceId, appId) {
  appId = appId ?? await demoAppId(server);
  const { status, body } = await admin(server, '/v1/connect/sessions', {
    method: 'POST',
    body: JSON.stringify({
      appId,
      redirectUrl: `${demoOrigin}/callback`,
      referenceId,
      state: `state-${referenceId}`,
      customerInfo: {
        firstName: 'Grace', lastName: 'Hopper', email: 'grace@example.com',
        location: { streetOne: '1 Navy St', city: 'Arlington', state: 'VA', postalCode: '22201', country: 'US' },
      },
    }),
  });
  check(status === 201, `a session at ${server}: ${status} ${JSON.stringify(body)}`);
  return body;
}

// The second server's token: made now, opened at the end (after 60 s).
const expiring = await adminSession(expiryBase, expiryDemo, 'browser-expiring');
const expiringMadeAt = Date.now();

// An origin the app never registered: a tiny page server on another port.
// Under /silent it also plays a Connect server that says a modal may frame
// its page (its status, readable by any origin), and whose page never
// answers.
const evil = createServer((req, res) => {
  if (req.url.startsWith('/silent/connect/status')) {
    res.writeHead(200, { 'content-type': 'application/json', 'access-control-allow-origin': req.headers.origin ?? '*' });
    res.end(JSON.stringify({ step: 'consent', version: 0, embed: { origin: req.headers.origin, framable: true, messages: true } }));
    return;
  }
  res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
  res.end('<!doctype html><title>Another origin</title><h1>Another origin</h1>');
});
await new Promise((resolve) => evil.listen(0, '127.0.0.1', resolve));
const evilOrigin = `http://localhost:${evil.address().port}`;

const userDataDir = mkdtempSync(join(tmpdir(), 'oauth-connect-embed-'));
const context = await chromium.launchPersistentContext(userDataDir, {
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  headless: true,
  // Popup blocking stays on: a click may open a popup, a script alone not.
  ignoreDefaultArgs: ['--disable-popup-blocking'],
  args: [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
  ],
});
context.setDefaultTimeout(30_000);
const done = [];

async function demoPage(origin = demo) {
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(`${origin}/`);
  check(await page.evaluate(() => typeof OAuthConnect === 'object' && OAuthConnect.version === 1),
    'the embed script loaded (its integrity matched)');
  page.scriptErrors = errors;
  return page;
}

async function logOf(page) {
  return page.$$eval('#log li', (items) => items.map((li) => ({ kind: li.dataset.kind, detail: JSON.parse(li.dataset.detail) })));
}

async function clearLog(page) {
  await page.evaluate(() => document.getElementById('log').replaceChildren());
}

async function waitFor(page, kind) {
  await page.waitForSelector(`#log li[data-kind="${kind}"]`);
  return (await logOf(page)).find((e) => e.kind === kind).detail;
}

// The script closes its popup once the flow ended (maybe already).
async function closed(popup) {
  for (let i = 0; i < 50 && !popup.isClosed(); i++) await sleep(100);
  check(popup.isClosed(), 'the script closed its popup');
}

function events(log) {
  return log.filter((e) => e.kind === 'onEvent').map((e) => e.detail.name + (e.detail.meta.step ? `:${e.detail.meta.step}` : ''));
}

// The hosted flow in a popup or a frame, from the terms to the consent
// step, through Demo Utility's form.
async function throughUtility(target) {
  await target.locator('button[value="accept"]').click();
  await target.locator('button[name="provider"][value="demo-utility"]').click();
  await target.locator('#username').fill('ada');
  await target.locator('#password').fill('demo-password');
  await target.locator('button[value="submit"]').click();
  await target.locator('button[value="approve"]').waitFor();
}

try {
  const page = await demoPage();
  await page.screenshot({ path: join(artifacts, 'embed-demo-page.png'), fullPage: true });

  // ---- popup-success: publishable key, Demo Energy through its own window ----
  {
    const [popup] = await Promise.all([page.waitForEvent('popup'), page.click('#popup-key')]);
    if (process.env.EMBED_DEBUG) {
      popup.on('framenavigated', (f) => console.error('popup navigated', f.url()));
      popup.on('console', (m) => console.error('popup console', m.text()));
    }
    await popup.waitForURL((url) => url.toString().startsWith(`${base}/connect?`));
    check(popup.url().includes('embed=popup') && popup.url().includes('nonce='), `the popup's URL: ${popup.url()}`);
    await popup.locator('button[value="accept"]').click();
    await popup.screenshot({ path: join(artifacts, 'embed-popup-picker.png'), fullPage: true });
    await popup.locator('button[name="provider"][value="demo-energy"]').click();
    const [signIn] = await Promise.all([
      context.waitForEvent('page'),
      popup.locator('button[value="start"]').click(),
    ]);
    await signIn.waitForURL((url) => url.toString().startsWith(`${base}/upstream/oauth/authorize`));
    check(await popup.locator('#oc-waiting').isVisible(), 'the popup says it waits for the sign-in window');
    await signIn.locator('#subject').fill('embed-energy-user');
    await signIn.screenshot({ path: join(artifacts, 'embed-link-window.png'), fullPage: true });
    await Promise.all([signIn.waitForEvent('close'), signIn.locator('button[value="approve"]').click()]);
    // The popup polls its status and moves on to the consent step.
    await popup.locator('button[value="approve"]').waitFor();
    check((await popup.textContent('body')).includes('Demo Energy account embed-energy-user'), 'the consent step shows the linked account');
    await popup.screenshot({ path: join(artifacts, 'embed-popup-consent.png'), fullPage: true });
    await Promise.all([popup.waitForEvent('close'), popup.locator('button[value="approve"]').click()]);
    const success = await waitFor(page, 'onSuccess');
    check(success.code.startsWith('oc_code_'), `onSuccess: ${JSON.stringify(success)}`);
    check(success.iss === base, 'iss is the issuer');
    check(success.scopedKey === undefined, 'no scoped key in the browser');
    const exchanged = await waitFor(page, 'exchange');
    check(exchanged.ok === true && exchanged.status === 200, `the exchange: ${JSON.stringify(exchanged)}`);
    // The page's referenceId is a label: the token speaks for the new,
    // browser-created customer, under a reference id of its own.
    check(exchanged.subject.startsWith('oc-generated:'), `the token is the new customer's: ${JSON.stringify(exchanged)}`);
    const seen = events(await logOf(page));
    for (const name of ['opened', 'step:terms', 'step:provider', 'step:link', 'step:consent', 'completed', 'closed']) {
      check(seen.includes(name), `onEvent ${name} in ${seen}`);
    }
    check((await logOf(page)).every((e) => e.kind !== 'onError' && e.kind !== 'onExit'), 'nothing else reported');
    await page.screenshot({ path: join(artifacts, 'embed-popup-success.png'), fullPage: true });
    done.push('popup-success');
  }

  // ---- modal-success: a Connect token from the backend, Demo Utility ----
  {
    await clearLog(page);
    await page.click('#modal-token');
    const overlay = page.locator('[data-oauth-connect="modal"]');
    await overlay.waitFor();
    check(await overlay.getAttribute('role') === 'dialog' && await overlay.getAttribute('aria-modal') === 'true', 'a modal dialog');
    check(await page.evaluate(() => document.querySelector('main').inert), 'the page behind the modal is inert');
    check(await page.evaluate(() => document.activeElement.getAttribute('aria-label') === 'Close'), 'the focus is in the dialog');
    // Tab and Shift+Tab stay in the dialog.
    for (const key of ['Shift+Tab', 'Shift+Tab', 'Tab', 'Tab', 'Tab']) {
      await page.keyboard.press(key);
      check(await page.evaluate(() => !!document.activeElement.closest('[data-oauth-connect]')), `the focus stays in the dialog after ${key}`);
    }
    const frame = page.frameLocator('iframe[title="Connect your account"]');
    await frame.locator('button[value="accept"]').waitFor();
    await page.screenshot({ path: join(artifacts, 'embed-modal.png') });
    // Demo Energy's sign-in refuses to be framed: it opens in a window of
    // its own, from the frame, and the frame moves on when it is done.
    await frame.locator('button[value="accept"]').click();
    await frame.locator('button[name="provider"][value="demo-energy"]').click();
    const [signIn] = await Promise.all([
      context.waitForEvent('page'),
      frame.locator('button[value="start"]').click(),
    ]);
    await signIn.waitForURL((url) => url.toString().startsWith(`${base}/upstream/oauth/authorize`));
    await signIn.locator('#subject').fill('embed-modal-user');
    await Promise.all([signIn.waitForEvent('close'), signIn.locator('button[value="approve"]').click()]);
    await frame.locator('button[value="approve"]').waitFor();
    check((await frame.locator('body').textContent()).includes('Demo Energy account embed-modal-user'), 'the modal shows the linked account');
    await page.screenshot({ path: join(artifacts, 'embed-modal-consent.png') });
    await frame.locator('button[value="approve"]').click();
    const success = await waitFor(page, 'onSuccess');
    check(success.code.startsWith('oc_code_'), 'onSuccess in the modal');
    await overlay.waitFor({ state: 'detached' });
    check(!(await page.evaluate(() => document.querySelector('main').inert)), 'the page is live again');
    const exchanged = await waitFor(page, 'exchange');
    check(exchanged.ok === true && exchanged.scopedKey === true, `the modal's exchange: ${JSON.stringify(exchanged)}`);
    await page.screenshot({ path: join(artifacts, 'embed-modal-success.png'), fullPage: true });
    done.push('modal-success');
  }

  // ---- modal-escape: Escape outside and inside the frame ----
  {
    for (const inside of [false, true]) {
      await clearLog(page);
      await page.click('#modal-token');
      const frame = page.frameLocator('iframe[title="Connect your account"]');
      await frame.locator('button[value="accept"]').waitFor();
      if (inside) await frame.locator('button[value="accept"]').focus();
      await page.keyboard.press('Escape');
      const exit = await waitFor(page, 'onExit');
      check(exit.reason === 'user-cancelled', `Escape (${inside ? 'in the frame' : 'on the page'}): ${JSON.stringify(exit)}`);
      await page.locator('[data-oauth-connect="modal"]').waitFor({ state: 'detached' });
    }
    done.push('modal-escape');
  }

  // ---- popup-closed ----
  {
    await clearLog(page);
    const [popup] = await Promise.all([page.waitForEvent('popup'), page.click('#popup-token')]);
    await popup.locator('button[value="accept"]').waitFor();
    await popup.close();
    const error = await waitFor(page, 'onError');
    check(error.type === 'popup-closed', `closing the popup: ${JSON.stringify(error)}`);
    done.push('popup-closed');
  }

  // ---- popup-blocked: open() without a click ----
  {
    const pages = context.pages().length;
    // Playwright's evaluate carries a user gesture: wait until it expired.
    const blocked = await page.evaluate(() => new Promise((resolve) => {
      const open = () => {
        if (navigator.userActivation.isActive) {
          setTimeout(open, 200);
          return;
        }
        OAuthConnect.create({ connectToken: 'oc_ct_not-used', onError: resolve }).open({ mode: 'popup' });
      };
      open();
      setTimeout(() => resolve(null), 15000);
    }));
    check(context.pages().length === pages, 'no window opened');
    check(blocked && blocked.type === 'popup-blocked', `a popup without a click: ${JSON.stringify(blocked)}`);
    done.push('popup-blocked');
  }

  // ---- denied, and user-cancelled from an earlier step ----
  {
    await clearLog(page);
    const [popup] = await Promise.all([page.waitForEvent('popup'), page.click('#popup-token')]);
    await throughUtility(popup);
    await Promise.all([popup.waitForEvent('close'), popup.locator('button[value="deny"]').click()]);
    const exit = await waitFor(page, 'onExit');
    check(exit.reason === 'denied', `Deny: ${JSON.stringify(exit)}`);

    await clearLog(page);
    const [again] = await Promise.all([page.waitForEvent('popup'), page.click('#popup-token')]);
    await again.locator('button[value="accept"]').waitFor();
    await Promise.all([again.waitForEvent('close'), again.locator('button[value="deny"]').click()]);
    const cancelled = await waitFor(page, 'onExit');
    check(cancelled.reason === 'user-cancelled', `Exit on the terms step: ${JSON.stringify(cancelled)}`);
    done.push('denied');
  }

  // ---- session-used: a token whose session was already completed ----
  {
    await clearLog(page);
    const session = await adminSession(base, demo, 'browser-used');
    const hosted = await fetch(`${base}/connect?token=${encodeURIComponent(session.connectToken)}`);
    const html = await hosted.text();
    const fieldOf = (name) => html.match(new RegExp(`name="${name}" value="([^"]*)"`))[1];
    // The session is bound to the client that opened it: its cookie goes back.
    const binding = (hosted.headers.get('set-cookie') ?? '').split(';')[0];
    const denied = await fetch(`${base}/connect`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: binding },
      body: new URLSearchParams({ token: fieldOf('token'), csrf_token: fieldOf('csrf_token'), step: fieldOf('step'), decision: 'deny' }),
    });
    check(denied.status === 303, `completing the session first: ${denied.status}`);
    await page.fill('#token', session.connectToken);
    const [popup] = await Promise.all([page.waitForEvent('popup'), page.click('#popup-token')]);
    const error = await waitFor(page, 'onError');
    check(error.type === 'session-used', `a used token: ${JSON.stringify(error)}`);
    await closed(popup);
    await page.fill('#token', '');
    done.push('session-used');
  }

  // ---- session-other-browser: another browser claimed the session first ----
  {
    for (const mode of ['popup', 'modal']) {
      await clearLog(page);
      const session = await adminSession(base, demo, `browser-other-${mode}`);
      // Another client (this script's fetch, its own cookie jar) opens it
      // and takes its first step: that post claims the session (opening
      // alone claims nothing).
      const opened = await fetch(`${base}/connect?token=${encodeURIComponent(session.connectToken)}`);
      check(opened.status === 200, `the first opening: ${opened.status}`);
      const html = await opened.text();
      const fieldOf = (name) => html.match(new RegExp(`name="${name}" value="([^"]*)"`))[1];
      const binding = (opened.headers.get('set-cookie') ?? '').split(';')[0];
      const claimed = await fetch(`${base}/connect`, {
        method: 'POST',
        redirect: 'manual',
        headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: binding },
        body: new URLSearchParams({ token: fieldOf('token'), csrf_token: fieldOf('csrf_token'), step: fieldOf('step'), action: 'accept' }),
      });
      check(claimed.status === 303, `the first post: ${claimed.status}`);
      await page.fill('#token', session.connectToken);
      if (mode === 'popup') {
        const [popup] = await Promise.all([page.waitForEvent('popup'), page.click('#popup-token')]);
        const error = await waitFor(page, 'onError');
        check(error.type === 'session-other-browser', `another browser's session, popup: ${JSON.stringify(error)}`);
        await closed(popup);
      } else {
        await page.click('#modal-token');
        const error = await waitFor(page, 'onError');
        check(error.type === 'session-other-browser', `another browser's session, modal: ${JSON.stringify(error)}`);
        await page.locator('[data-oauth-connect="modal"]').waitFor({ state: 'detached' });
      }
      await page.fill('#token', '');
    }
    done.push('session-other-browser');
  }

  // ---- forged: only the server's origin, the window the script opened, and its nonce ----
  {
    await clearLog(page);
    // Every message that reaches the demo page, whoever it is from.
    await page.evaluate(() => {
      window.raw = [];
      window.addEventListener('message', (e) => window.raw.push(e.origin));
    });
    const [connect] = await Promise.all([page.waitForEvent('popup'), page.click('#popup-token')]);
    await connect.locator('button[value="accept"]').waitFor();
    const nonce = new URL(connect.url()).searchParams.get('nonce');
    check(nonce && nonce.length >= 22, 'the nonce is in the popup URL');
    // A window of another origin that can post to the demo page (the page
    // opened it: any site it links to), with the right nonce even.
    const opener = async (url) => {
      await page.evaluate((url) => {
        const b = document.createElement('button');
        b.id = 'other-window';
        b.textContent = 'other window';
        b.onclick = () => window.open(url, '_blank', 'popup');
        document.querySelector('main').append(b);
      }, url);
      const [other] = await Promise.all([page.waitForEvent('popup'), page.click('#other-window')]);
      await page.evaluate(() => document.getElementById('other-window').remove());
      return other;
    };
    const attacker = await opener(`${evilOrigin}/`);
    await attacker.waitForLoadState();
    await attacker.evaluate((nonce) => {
      const forged = [
        { type: 'oauth-connect', v: 1, nonce, event: 'success', code: 'oc_code_forged', state: 'x', iss: 'https://evil.example' },
        { type: 'oauth-connect', v: 1, nonce, event: 'exit', reason: 'denied' },
        { type: 'oauth-connect', v: 1, nonce, event: 'error', error: 'session-expired', reason: 'forged' },
      ];
      for (const m of forged) window.opener.postMessage(m, '*');
    }, nonce);
    // A window of the server's origin, with the same nonce, that the
    // script did not open: another session's page, completed.
    const other = await adminSession(base, demo, 'browser-other-window');
    const second = await opener(`${base}/connect?token=${encodeURIComponent(other.connectToken)}&embed=popup&nonce=${nonce}`);
    await throughUtility(second);
    await second.locator('button[value="approve"]').click();
    await second.waitForSelector('text=You can close this window');
    await sleep(1500);
    const raw = await page.evaluate(() => window.raw);
    check(raw.filter((o) => o === evilOrigin).length === 3, `the forged messages did reach the page: ${raw}`);
    check(raw.filter((o) => o === base).length >= 2, `the other window's messages did reach the page: ${raw}`);
    const log = await logOf(page);
    check(!log.some((e) => ['onSuccess', 'onExit', 'onError'].includes(e.kind)), `forged messages were ignored: ${JSON.stringify(log)}`);
    check(!events(log).includes('step:consent'), `the other window's steps were ignored: ${events(log)}`);
    // The real flow still ends by its own window.
    await attacker.close();
    await second.close();
    await connect.close();
    const error = await waitFor(page, 'onError');
    check(error.type === 'popup-closed', `then the real close: ${JSON.stringify(error)}`);
    done.push('forged');
  }

  // ---- unregistered: another origin opens the hosted page itself ----
  {
    const session = await adminSession(base, demo, 'browser-unregistered');
    const attacker = await context.newPage();
    await attacker.goto(`${evilOrigin}/`);
    await attacker.evaluate((url) => {
      window.received = [];
      window.addEventListener('message', (e) => window.received.push({ origin: e.origin, data: e.data }));
      const b = document.createElement('button');
      b.id = 'open';
      b.textContent = 'open';
      b.onclick = () => { window.connect = window.open(url, 'connect', 'popup'); };
      document.body.append(b);
    }, `${base}/connect?token=${encodeURIComponent(session.connectToken)}&embed=popup&nonce=AAAAAAAAAAAAAAAAAAAAAAAA`);
    const [popup] = await Promise.all([attacker.waitForEvent('popup'), attacker.click('#open')]);
    await popup.locator('button[value="accept"]').waitFor();
    // The page could reach its opener: silence is the target origin's doing.
    check(await popup.evaluate(() => window.opener !== null), 'the hosted page keeps its opener');
    await throughUtility(popup);
    await popup.locator('button[value="approve"]').click();
    await popup.waitForSelector('text=You can close this window');
    await sleep(1000);
    check(popup.url().startsWith(`${base}/connect`), `the page did not redirect (its opener is there): ${popup.url()}`);
    await popup.screenshot({ path: join(artifacts, 'embed-unregistered.png'), fullPage: true });
    const received = await attacker.evaluate(() => window.received);
    check(received.length === 0, `no message reached the unregistered origin: ${JSON.stringify(received)}`);
    await popup.close();
    await attacker.close();
    done.push('unregistered');
  }

  // ---- modal-not-allowed: the server says so before anything is framed ----
  {
    const attacker = await context.newPage();
    // Every hosted page the attacker's tab loads, in any frame.
    const framed = [];
    attacker.on('request', (request) => {
      if (request.url().startsWith(`${base}/connect?`)) framed.push(request.url());
    });
    await attacker.goto(`${evilOrigin}/`);
    await attacker.addScriptTag({ url: `${base}/connect/sdk.js` });
    const openModal = (token, server) => attacker.evaluate(({ token, server }) => new Promise((resolve) => {
      OAuthConnect.create({
        connectToken: token,
        server: server ?? undefined,
        onError: resolve,
        onSuccess: () => resolve({ type: 'success?!' }),
      }).open({ mode: 'modal' });
    }), { token, server: server ?? null });
    // The demo app's session reports to the demo app's origin, not here.
    const session = await adminSession(base, demo, 'browser-framed');
    const error = await openModal(session.connectToken);
    check(error.type === 'modal-not-allowed' && error.reason.includes('redirect URL'), `not the redirect URL's origin: ${JSON.stringify(error)}`);
    check(await attacker.locator('[data-oauth-connect]').count() === 0, 'the overlay is gone');
    // An app of this origin (its redirect URL is here) without it in its
    // allowedOrigins: it would hear the page but may not frame it.
    const created = await admin(base, '/v1/oauth-apps', {
      method: 'POST',
      body: JSON.stringify({
        name: 'Another origin app', type: 'CONFIDENTIAL', allowedScopes: ['read:devices'],
        redirectUris: [`${evilOrigin}/callback`],
      }),
    });
    check(created.status === 201, `an app of the other origin: ${JSON.stringify(created)}`);
    const own = await adminSession(base, evilOrigin, 'browser-framed-own', created.body.id);
    const unlisted = await openModal(own.connectToken);
    check(unlisted.type === 'modal-not-allowed' && unlisted.reason.includes('allowedOrigins'), `not in allowedOrigins: ${JSON.stringify(unlisted)}`);
    // An unknown token: the server says so, no silent frame.
    const unknown = await openModal('oc_ct_unknown');
    check(unknown.type === 'session-invalid', `an unknown token: ${JSON.stringify(unknown)}`);
    check(framed.length === 0, `the hosted page was never framed: ${framed}`);
    // The last resort: a server that allows the modal but whose page never
    // answers in the frame: the timer says so.
    const silent = await openModal('oc_ct_silent', `${evilOrigin}/silent`);
    check(silent.type === 'modal-not-allowed' && silent.reason.includes('did not answer'), `a silent frame: ${JSON.stringify(silent)}`);
    check(await attacker.locator('[data-oauth-connect]').count() === 0, 'the overlay is gone');
    // network: a server the script cannot reach.
    const unreachable = await attacker.evaluate((origin) => new Promise((resolve) => {
      OAuthConnect.create({
        server: 'http://127.0.0.1:9',
        publishableKey: 'oc_pk_unreachable',
        session: { redirectUrl: `${origin}/callback` },
        onError: resolve,
      }).open({ mode: 'modal' });
    }), evilOrigin);
    check(unreachable.type === 'network', `an unreachable server: ${JSON.stringify(unreachable)}`);
    await attacker.close();
    done.push('modal-not-allowed');
  }

  // ---- opener-gone: the page that opened Connect closed: the redirect ----
  {
    const opener = await demoPage();
    const [popup] = await Promise.all([opener.waitForEvent('popup'), opener.click('#popup-token')]);
    await popup.locator('button[value="accept"]').waitFor();
    await opener.close();
    await throughUtility(popup);
    await Promise.all([
      popup.waitForURL((url) => url.toString().startsWith(`${demo}/callback?`)),
      popup.locator('button[value="approve"]').click(),
    ]);
    const result = JSON.parse(await popup.textContent('#result'));
    check(result.ok === true && result.status === 200, `the redirect's exchange: ${JSON.stringify(result)}`);
    await popup.screenshot({ path: join(artifacts, 'embed-opener-gone.png'), fullPage: true });
    await popup.close();
    done.push('opener-gone');
  }

  // ---- web-message: plain OAuth in a popup ----
  {
    await clearLog(page);
    const [popup] = await Promise.all([page.waitForEvent('popup'), page.click('#web-message')]);
    await popup.waitForURL((url) => url.toString().startsWith(`${base}/oauth/authorize`));
    await popup.locator('#subject').fill('web-message-user');
    await popup.screenshot({ path: join(artifacts, 'embed-web-message.png'), fullPage: true });
    await Promise.all([popup.waitForEvent('close'), popup.locator('button[value="approve"]').click()]);
    const answer = await waitFor(page, 'authorization_response');
    check(answer.code && answer.iss === base, `the web message: ${JSON.stringify(answer)}`);
    const exchanged = await waitFor(page, 'exchange');
    check(exchanged.ok === true && exchanged.subject === 'web-message-user', `web_message exchange: ${JSON.stringify(exchanged)}`);
    done.push('web-message');
  }

  // ---- module: the ES module twin ----
  {
    const module = await page.evaluate(async (url) => {
      const mod = await import(url);
      const handle = mod.default.create({ connectToken: 'oc_ct_example' });
      return {
        create: typeof mod.create,
        same: mod.create === mod.default.create,
        version: mod.default.version,
        url: handle.url,
        global: typeof window.OAuthConnect === 'object',
      };
    }, `${base}/connect/sdk.mjs`);
    check(module.create === 'function' && module.same && module.version === 1, `the module: ${JSON.stringify(module)}`);
    check(module.url === `${base}/connect?token=oc_ct_example`, `the module knows its server: ${module.url}`);
    done.push('module');
  }

  check(page.scriptErrors.length === 0, `no script error on the demo page: ${page.scriptErrors}`);

  // ---- session-expired: the second server's token, once 60 s old ----
  {
    const wait = expiringMadeAt + 62_000 - Date.now();
    if (wait > 0) await sleep(wait);
    const other = await demoPage(expiryDemo);
    await other.fill('#token', expiring.connectToken);
    const [popup] = await Promise.all([other.waitForEvent('popup'), other.click('#popup-token')]);
    const error = await waitFor(other, 'onError');
    check(error.type === 'session-expired', `an expired token: ${JSON.stringify(error)}`);
    await closed(popup);
    await other.screenshot({ path: join(artifacts, 'embed-session-expired.png'), fullPage: true });
    done.push('session-expired');
  }

  console.log(`RESULT ${JSON.stringify({ done })}`);
} catch (error) {
  console.error(`after ${JSON.stringify(done)}:`, error);
  // What every window showed, for the post-mortem.
  let n = 0;
  for (const open of context.pages()) {
    n += 1;
    const body = await open.textContent('body').catch(() => '');
    console.error(`window ${n}: ${open.url()}\n  ${String(body).replace(/\s+/g, ' ').slice(0, 600)}`);
    await open.screenshot({ path: join(artifacts, `embed-failure-${n}.png`), fullPage: true }).catch(() => {});
  }
  process.exitCode = 1;
} finally {
  await context.close();
  evil.close();
  rmSync(userDataDir, { recursive: true, force: true });
}
