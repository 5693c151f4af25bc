// Headless Chromium clicks through the pages of an oauth-connect example
// server. The plain consent page: approve as the demo user (landing on the
// app's redirect URI with a code), then deny (landing with
// error=access_denied). The hosted Connect page through the example's demo
// catalogue: terms, the provider picker, Demo Energy's sign-in and consent
// at the example's second authorization server (/upstream), back to the
// customer step (known fields prefilled, the rest filled in), consent and
// approve (landing with a code); a second session is denied.
// Screenshots go to $ARTIFACTS_DIR (terms, picker, link, upstream, customer,
// consent, done for the Connect walk).
//
// Driven by `cargo test` (tests/examples_e2e.rs, `browser_consent_page`),
// which starts the axum example and passes:
//   OAUTH_CONNECT_BASE       the server's base URL
//   OAUTH_CONNECT_ADMIN_KEY  an admin key of its workspace
//   ARTIFACTS_DIR            where to save screenshots
// On success it prints one line `RESULT {json}` with the consent flow's code
// and PKCE verifier, and under `connect` the Connect code with the
// confidential app's credentials, so the Rust side can finish both flows.

import { chromium } from 'playwright-core';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const base = process.env.OAUTH_CONNECT_BASE;
const adminKey = process.env.OAUTH_CONNECT_ADMIN_KEY;
const artifacts = process.env.ARTIFACTS_DIR ?? 'browser-artifacts';
if (!base || !adminKey) {
  console.error('set OAUTH_CONNECT_BASE and OAUTH_CONNECT_ADMIN_KEY');
  process.exit(2);
}
mkdirSync(artifacts, { recursive: true });

const b64url = (bytes) => Buffer.from(bytes).toString('base64url');

function check(condition, message) {
  if (!condition) throw new Error(message);
}

// The app's side: a tiny HTTP server for the redirect URI.
const app = createServer((req, res) => {
  res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
  res.end('<!doctype html><title>Demo app</title><h1>Back at the demo app</h1>');
});
await new Promise((resolve) => app.listen(0, '127.0.0.1', resolve));
const redirectUri = `http://127.0.0.1:${app.address().port}/callback`;

const created = await fetch(`${base}/v1/oauth-apps`, {
  method: 'POST',
  headers: { authorization: `Bearer ${adminKey}`, 'content-type': 'application/json' },
  body: JSON.stringify({
    name: 'Browser test app',
    redirectUris: [redirectUri],
    allowedScopes: ['read:devices', 'read:sites'],
    type: 'PUBLIC',
  }),
});
check(created.status === 201, `creating the app: ${created.status}`);
const { clientId } = await created.json();

// A confidential app for Connect, and a session made by its backend.
const confidential = await fetch(`${base}/v1/oauth-apps`, {
  method: 'POST',
  headers: { authorization: `Bearer ${adminKey}`, 'content-type': 'application/json' },
  body: JSON.stringify({
    name: 'Browser Connect app',
    redirectUris: [redirectUri],
    allowedScopes: ['read:devices', 'read:sites'],
    type: 'CONFIDENTIAL',
  }),
});
check(confidential.status === 201, `creating the confidential app: ${confidential.status}`);
const connectApp = await confidential.json();
const basic = Buffer.from(`${connectApp.clientId}:${connectApp.clientSecret}`).toString('base64');

async function connectSession(body) {
  const answer = await fetch(`${base}/v1/connect/sessions`, {
    method: 'POST',
    headers: { authorization: `Basic ${basic}`, 'content-type': 'application/json' },
    body: JSON.stringify({ redirectUrl: redirectUri, scopes: ['read:devices'], ...body }),
  });
  check(answer.status === 201, `creating a Connect session: ${answer.status} ${await answer.clone().text()}`);
  return answer.json();
}

function authorizeUrl(state) {
  const verifier = b64url(randomBytes(32));
  const challenge = b64url(createHash('sha256').update(verifier).digest());
  const url = new URL('/oauth/authorize', base);
  url.search = new URLSearchParams({
    response_type: 'code',
    client_id: clientId,
    redirect_uri: redirectUri,
    scope: 'read:devices read:sites',
    state,
    code_challenge: challenge,
    code_challenge_method: 'S256',
  }).toString();
  return { url: url.toString(), verifier };
}

const userDataDir = mkdtempSync(join(tmpdir(), 'oauth-connect-chromium-'));
const context = await chromium.launchPersistentContext(userDataDir, {
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  headless: true,
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

try {
  const page = await context.newPage();

  // Approve.
  const approve = authorizeUrl('state-approve');
  await page.goto(approve.url);
  check((await page.title()).includes('Browser test app'), `consent page title: ${await page.title()}`);
  const text = await page.textContent('body');
  check(text.includes('See your devices'), 'the scope catalogue describes read:devices');
  await page.screenshot({ path: join(artifacts, 'oauth-consent.png'), fullPage: true });
  await page.fill('#subject', 'user-42');
  await Promise.all([
    page.waitForURL((url) => url.toString().startsWith(redirectUri)),
    page.click('button[value="approve"]'),
  ]);
  const approved = new URL(page.url());
  await page.screenshot({ path: join(artifacts, 'approved.png'), fullPage: true });
  const code = approved.searchParams.get('code');
  check(code && code.startsWith('oc_code_'), `a code in ${approved.pathname}`);
  check(approved.searchParams.get('state') === 'state-approve', 'the state comes back');
  check(approved.searchParams.get('iss') === base, 'the issuer comes back (RFC 9207)');

  // Deny.
  const deny = authorizeUrl('state-deny');
  await page.goto(deny.url);
  await Promise.all([
    page.waitForURL((url) => url.toString().startsWith(redirectUri)),
    page.click('button[value="deny"]'),
  ]);
  const denied = new URL(page.url());
  await page.screenshot({ path: join(artifacts, 'denied.png'), fullPage: true });
  check(denied.searchParams.get('error') === 'access_denied', `denied: ${denied.search}`);
  check(denied.searchParams.get('state') === 'state-deny', 'the state comes back on denial');
  check(!denied.searchParams.has('code'), 'no code on denial');

  // A bad redirect URI: an error page, and the browser stays on the server.
  const bad = new URL(approve.url);
  bad.searchParams.set('redirect_uri', 'https://evil.example/steal');
  const answer = await page.goto(bad.toString());
  check(answer.status() === 400, `bad redirect URI: ${answer.status()}`);
  check(page.url().startsWith(base), 'no redirect to an unregistered URI');
  await page.screenshot({ path: join(artifacts, 'bad-redirect.png'), fullPage: true });

  // Connect through the demo catalogue: terms, the provider picker (pick
  // Demo Energy), its sign-in and consent at the example's upstream
  // authorization server, back to the customer step (the name and e-mail
  // are known, the rest is asked), consent, approve.
  const session = await connectSession({
    referenceId: 'browser-user-1',
    clientName: 'Browser Energy',
    customerInfo: { firstName: 'Ada', email: 'ada@example.com' },
    state: 'connect-approve',
    scopedKey: true,
  });
  const shown = await page.goto(session.url);
  check(shown.status() === 200, `Connect page: ${shown.status()}`);
  check((await page.title()).includes('Browser Energy'), `Connect page title: ${await page.title()}`);
  check((await page.textContent('body')).includes('Demo terms'), 'the terms step comes first');
  await page.screenshot({ path: join(artifacts, 'terms.png'), fullPage: true });
  await Promise.all([page.waitForNavigation(), page.click('button[value="accept"]')]);
  const picker = await page.textContent('body');
  check(picker.includes('Demo Energy') && picker.includes('Demo Utility'), 'the picker lists the catalogue');
  await page.screenshot({ path: join(artifacts, 'picker.png'), fullPage: true });
  await Promise.all([page.waitForNavigation(), page.click('button[name="provider"][value="demo-energy"]')]);
  // The link step: where the user leaves for the provider's own sign-in.
  const linkText = await page.textContent('body');
  check(linkText.includes('Connect your Demo Energy account'), 'the link step names the provider');
  check(linkText.includes('Choose another provider'), 'the link step offers another provider');
  await page.screenshot({ path: join(artifacts, 'link.png'), fullPage: true });
  await Promise.all([
    page.waitForURL((url) => url.toString().startsWith(`${base}/upstream/oauth/authorize`)),
    page.click('button[value="start"]'),
  ]);
  check((await page.textContent('body')).includes('See your batteries and chargers'), 'the upstream consent page');
  await page.fill('#subject', 'browser-energy-user');
  await page.screenshot({ path: join(artifacts, 'upstream.png'), fullPage: true });
  await Promise.all([
    page.waitForURL((url) => url.toString().startsWith(`${base}/connect?token=`)),
    page.click('button[value="approve"]'),
  ]);
  check((await page.inputValue('#firstName')) === 'Ada', 'firstName is prefilled');
  check((await page.inputValue('#email')) === 'ada@example.com', 'email is prefilled');
  check((await page.inputValue('#lastName')) === '', 'lastName is asked');
  await page.fill('#lastName', 'Lovelace');
  await page.fill('#phone', '555-555-0100');
  await page.fill('#streetOne', '1 Main St');
  await page.fill('#city', 'Springfield');
  await page.fill('#state', 'IL');
  await page.fill('#postalCode', '62701');
  await page.selectOption('#country', 'US');
  await page.screenshot({ path: join(artifacts, 'customer.png'), fullPage: true });
  await Promise.all([page.waitForNavigation(), page.click('button[type="submit"].primary')]);
  const consentText = await page.textContent('body');
  check(consentText.includes('See your devices'), 'the consent step describes the scope');
  check(consentText.includes('Ada Lovelace'), 'the consent step shows the confirmed customer');
  check(consentText.includes('Demo Energy account browser-energy-user'), 'the consent step shows the linked account');
  await page.screenshot({ path: join(artifacts, 'consent.png'), fullPage: true });
  await Promise.all([
    page.waitForURL((url) => url.toString().startsWith(redirectUri)),
    page.click('button[value="approve"]'),
  ]);
  const connected = new URL(page.url());
  await page.screenshot({ path: join(artifacts, 'done.png'), fullPage: true });
  const connectCode = connected.searchParams.get('code');
  check(connectCode && connectCode.startsWith('oc_code_'), `a Connect code: ${connected.search}`);
  check(connected.searchParams.get('state') === 'connect-approve', 'the Connect state comes back');
  check(connected.searchParams.get('iss') === base, 'the issuer comes back');
  check(!connected.searchParams.has('scoped_key'), 'the scoped key is not in the URL');

  // Connect, denied: no code.
  const refused = await connectSession({
    referenceId: 'browser-user-2',
    customerInfo: { firstName: 'Grace', email: 'grace@example.com' },
    state: 'connect-deny',
  });
  await page.goto(refused.url);
  await Promise.all([
    page.waitForURL((url) => url.toString().startsWith(redirectUri)),
    page.click('button[value="deny"]'),
  ]);
  const connectDenied = new URL(page.url());
  await page.screenshot({ path: join(artifacts, 'connect-denied.png'), fullPage: true });
  check(connectDenied.searchParams.get('error') === 'access_denied', `Connect denied: ${connectDenied.search}`);
  check(connectDenied.searchParams.get('state') === 'connect-deny', 'the state comes back on denial');
  check(!connectDenied.searchParams.has('code'), 'no Connect code on denial');

  const connect = {
    appId: connectApp.id,
    clientId: connectApp.clientId,
    clientSecret: connectApp.clientSecret,
    referenceId: session.referenceId,
    code: connectCode,
  };
  console.log(
    `RESULT ${JSON.stringify({ clientId, redirectUri, code, verifier: approve.verifier, connect })}`,
  );
} finally {
  await context.close();
  app.close();
  rmSync(userDataDir, { recursive: true, force: true });
}
