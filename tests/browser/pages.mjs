// The hosted pages as a product (issue 20), measured in headless Chromium
// against the axum example started with a brand (OAUTH_CONNECT_BRAND_*):
//
// - axe-core (@axe-core/playwright) on every page and every step, light
//   and dark, at 390 and 1280 px: no violation of impact serious or
//   critical (the plain consent page, each Connect step, the upstream
//   sign-in, a customer form with errors, error pages);
// - the brand, "Step N of M", a distinct <title> per step, focus on the
//   step's heading, Exit in the same place on every step;
// - the picker's filter narrows the providers without a page load;
// - a session with "locale": "fr" in French (lang="fr", no English button
//   label), and a browser sending Accept-Language: es in Spanish;
// - a keyboard-only walk (Tab, Enter, Space, typing) completes the flow;
// - screenshots of every step in $ARTIFACTS_DIR (pages-*.png).
//
// Driven by `cargo test` (tests/examples_e2e.rs, `browser_hosted_pages`),
// which starts the example and passes OAUTH_CONNECT_BASE,
// OAUTH_CONNECT_ADMIN_KEY, OAUTH_CONNECT_BRAND_NAME and ARTIFACTS_DIR.
// Prints `RESULT {json}` with the counts it checked.

import { chromium } from 'playwright-core';
import AxeBuilder from '@axe-core/playwright';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const base = process.env.OAUTH_CONNECT_BASE;
const adminKey = process.env.OAUTH_CONNECT_ADMIN_KEY;
const brand = process.env.OAUTH_CONNECT_BRAND_NAME;
const artifacts = process.env.ARTIFACTS_DIR ?? 'browser-artifacts';
if (!base || !adminKey || !brand) {
  console.error('set OAUTH_CONNECT_BASE, OAUTH_CONNECT_ADMIN_KEY and OAUTH_CONNECT_BRAND_NAME');
  process.exit(2);
}
mkdirSync(artifacts, { recursive: true });

function check(condition, message) {
  if (!condition) throw new Error(message);
}

const counts = { axe: 0, pages: 0, screenshots: 0 };

// The app's side: a tiny HTTP server for the redirect URI.
const app = createServer((req, res) => {
  res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
  res.end('<!doctype html><html lang="en"><title>Demo app</title><main><h1>Back at the demo app</h1></main></html>');
});
await new Promise((resolve) => app.listen(0, '127.0.0.1', resolve));
const redirectUri = `http://127.0.0.1:${app.address().port}/callback`;

async function createApp(type) {
  const answer = await fetch(`${base}/v1/oauth-apps`, {
    method: 'POST',
    headers: { authorization: `Bearer ${adminKey}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      name: `Pages ${type.toLowerCase()} app`,
      redirectUris: [redirectUri],
      allowedScopes: ['read:devices', 'read:sites'],
      type,
    }),
  });
  check(answer.status === 201, `creating the app: ${answer.status}`);
  return answer.json();
}
const connectApp = await createApp('CONFIDENTIAL');
const publicApp = await createApp('PUBLIC');
const basic = Buffer.from(`${connectApp.clientId}:${connectApp.clientSecret}`).toString('base64');

let sessions = 0;
async function connectSession(body = {}) {
  sessions += 1;
  const answer = await fetch(`${base}/v1/connect/sessions`, {
    method: 'POST',
    headers: { authorization: `Basic ${basic}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      redirectUrl: redirectUri,
      scopes: ['read:devices'],
      referenceId: `pages-user-${sessions}`,
      clientName: 'Pages Energy',
      customerInfo: { firstName: 'Ada', email: 'ada@example.com' },
      state: `pages-${sessions}`,
      ...body,
    }),
  });
  check(answer.status === 201, `creating a Connect session: ${answer.status} ${await answer.clone().text()}`);
  return answer.json();
}

function authorizeUrl() {
  const verifier = Buffer.from(randomBytes(32)).toString('base64url');
  const challenge = createHash('sha256').update(verifier).digest('base64url');
  const url = new URL('/oauth/authorize', base);
  url.search = new URLSearchParams({
    response_type: 'code',
    client_id: publicApp.clientId,
    redirect_uri: redirectUri,
    scope: 'read:devices read:sites',
    state: 'pages',
    code_challenge: challenge,
    code_challenge_method: 'S256',
  }).toString();
  return url.toString();
}

// No violation of impact serious or critical.
async function axe(page, label) {
  const result = await new AxeBuilder({ page }).analyze();
  counts.axe += 1;
  const bad = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  check(
    bad.length === 0,
    `axe on ${label}: ${bad.map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`).join('; ')}`,
  );
}

async function shot(page, name) {
  await page.screenshot({ path: join(artifacts, `pages-${name}.png`), fullPage: true });
  counts.screenshots += 1;
}

// What every hosted Connect step shows: the brand, "Step N of M" of its
// own, a title of its own, focus on its heading, Exit before the primary.
const titles = new Set();
async function step(page, label, { n, lang = 'en', exit = true } = {}) {
  counts.pages += 1;
  await page.waitForLoadState('load');
  check((await page.getAttribute('html', 'lang')) === lang, `${label}: lang ${await page.getAttribute('html', 'lang')}`);
  const body = await page.textContent('body');
  check(body.includes(brand), `${label}: the brand is shown`);
  const progress = await page.textContent('.progress');
  if (n !== undefined) check(progress.includes(String(n)), `${label}: ${progress}`);
  const title = await page.title();
  check(title.includes(progress.trim()), `${label}: the title says the step: ${title}`);
  titles.add(title);
  const focused = await page.evaluate(() => document.activeElement && document.activeElement.tagName);
  check(focused === 'H1', `${label}: focus on the heading, not ${focused}`);
  if (exit) {
    const first = await page.$eval('.actions:last-of-type button, .actions button', (b) => b.value);
    check(first === 'deny', `${label}: Exit (or Deny) comes first in the actions, not ${first}`);
  }
}

async function tabTo(page, selector, label) {
  for (let i = 0; i < 60; i += 1) {
    await page.keyboard.press('Tab');
    if (await page.evaluate((s) => document.activeElement && document.activeElement.matches(s), selector)) return;
  }
  throw new Error(`keyboard: no way to ${selector} (${label})`);
}

const userDataDir = mkdtempSync(join(tmpdir(), 'oauth-connect-pages-'));
const context = await chromium.launchPersistentContext(userDataDir, {
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync'],
});
context.setDefaultTimeout(30_000);

const modes = [
  { width: 1280, height: 900, scheme: 'light' },
  { width: 1280, height: 900, scheme: 'dark' },
  { width: 390, height: 844, scheme: 'light' },
  { width: 390, height: 844, scheme: 'dark' },
];

try {
  const page = await context.newPage();
  for (const mode of modes) {
    const tag = `${mode.width}-${mode.scheme}`;
    await page.setViewportSize({ width: mode.width, height: mode.height });
    await page.emulateMedia({ colorScheme: mode.scheme });

    // The plain consent page.
    await page.goto(authorizeUrl());
    await axe(page, `consent ${tag}`);
    await shot(page, `consent-${tag}`);

    // Connect: terms, picker, link, upstream sign-in, customer, consent.
    const session = await connectSession();
    await page.goto(session.url);
    await step(page, `terms ${tag}`, { n: 1 });
    await axe(page, `terms ${tag}`);
    await shot(page, `1-terms-${tag}`);
    await Promise.all([page.waitForNavigation(), page.click('button[value="accept"]')]);

    await step(page, `picker ${tag}`, { n: 2 });
    await axe(page, `picker ${tag}`);
    await shot(page, `2-picker-${tag}`);
    // Filter as you type: no page load (a marker on the window survives).
    await page.evaluate(() => { window.__samePage = true; });
    await page.fill('#q', 'utility');
    check(await page.isHidden('button[value="demo-energy"]'), 'the filter hides Demo Energy');
    check(await page.isVisible('button[value="demo-utility"]'), 'the filter keeps Demo Utility');
    await page.fill('#q', 'nothing-matches');
    check(await page.isVisible('#oc-none'), 'no match: the page says so');
    await axe(page, `picker filtered ${tag}`);
    await page.fill('#q', '');
    check(await page.evaluate(() => window.__samePage === true), 'filtering loaded no page');
    check(await page.isVisible('button[value="demo-energy"]'), 'an empty filter shows all');
    check((await page.textContent('body')).includes('Electric vehicles'), 'categories have labels');
    await Promise.all([page.waitForNavigation(), page.click('button[value="demo-energy"]')]);

    await step(page, `link ${tag}`, { n: 3 });
    await axe(page, `link ${tag}`);
    await shot(page, `3-link-${tag}`);
    await Promise.all([
      page.waitForURL((url) => url.toString().startsWith(`${base}/upstream/oauth/authorize`)),
      page.click('button[value="start"]'),
    ]);
    await axe(page, `upstream sign-in ${tag}`);
    await shot(page, `3b-upstream-${tag}`);
    await page.fill('#subject', `pages-energy-${tag}`);
    await Promise.all([
      page.waitForURL((url) => url.toString().startsWith(`${base}/connect?token=`)),
      page.click('button[value="approve"]'),
    ]);

    await step(page, `customer ${tag}`, { n: 4 });
    await axe(page, `customer ${tag}`);
    await shot(page, `4-customer-${tag}`);
    // A field error next to its field.
    await page.fill('#lastName', 'Lovelace');
    await page.fill('#email', 'not-an-address');
    await page.evaluate(() => { document.querySelector('#email').type = 'text'; });
    await Promise.all([page.waitForNavigation(), page.click('button.primary')]);
    check(
      (await page.getAttribute('#email', 'aria-describedby')) === 'err-email',
      'the e-mail error is tied to its field',
    );
    await axe(page, `customer with an error ${tag}`);
    await shot(page, `4b-customer-error-${tag}`);
    await page.fill('#email', 'ada@example.com');
    await page.fill('#streetOne', '1 Main St');
    await page.fill('#city', 'Springfield');
    await page.fill('#state', 'IL');
    await page.fill('#postalCode', '62701');
    await page.selectOption('#country', 'US');
    await Promise.all([page.waitForNavigation(), page.click('button.primary')]);

    await step(page, `consent step ${tag}`, { n: 5 });
    await axe(page, `consent step ${tag}`);
    await shot(page, `5-consent-${tag}`);
    await Promise.all([
      page.waitForURL((url) => url.toString().startsWith(redirectUri)),
      page.click('button[value="approve"]'),
    ]);
    check(new URL(page.url()).searchParams.get('code'), 'a code at the end');

    // Error pages: a used session (a way back to the app), an unknown one.
    await page.goto(session.url);
    check((await page.textContent('body')).includes('Back to the application'), 'a used session links back');
    await axe(page, `used session ${tag}`);
    await shot(page, `error-used-${tag}`);
    await page.goto(`${base}/connect?token=oc_ct_unknown`);
    await axe(page, `unknown session ${tag}`);
    await shot(page, `error-unknown-${tag}`);
  }
  check(titles.size >= 5, `a distinct title per step: ${[...titles].join(' | ')}`);

  // French by the session's locale, Spanish by Accept-Language: every step
  // in that language, no English button label.
  const english = ['Exit', 'Continue', 'Allow', 'Deny', 'Accept and continue', 'Search', 'Connect',
    'Choose another provider'];
  async function noEnglish(page, label) {
    const labels = await page.$$eval('button', (bs) => bs.map((b) => b.textContent.trim()));
    for (const text of labels) check(!english.includes(text), `${label}: English button "${text}"`);
  }
  for (const [lang, how] of [['fr', 'locale'], ['es', 'header']]) {
    await page.setViewportSize({ width: 1280, height: 900 });
    await page.emulateMedia({ colorScheme: 'light' });
    await page.setExtraHTTPHeaders(how === 'header' ? { 'accept-language': 'es-ES,es;q=0.9' } : {});
    const session = await connectSession(how === 'locale' ? { locale: lang } : {});
    await page.goto(session.url);
    await step(page, `terms ${lang}`, { lang });
    await noEnglish(page, `terms ${lang}`);
    await shot(page, `${lang}-1-terms`);
    await Promise.all([page.waitForNavigation(), page.click('button[value="accept"]')]);
    await step(page, `picker ${lang}`, { lang });
    await noEnglish(page, `picker ${lang}`);
    await axe(page, `picker ${lang}`);
    await Promise.all([page.waitForNavigation(), page.click('button[value="demo-utility"]')]);
    await step(page, `link form ${lang}`, { lang });
    await noEnglish(page, `link ${lang}`);
    await shot(page, `${lang}-3-link`);
    await page.fill('#username', 'demo');
    await page.fill('#password', 'wrong');
    await Promise.all([page.waitForNavigation(), page.click('button[value="submit"]')]);
    check((await page.inputValue('#username')) === 'demo', `${lang}: the username is kept`);
    await noEnglish(page, `link retry ${lang}`);
    await page.goto(session.url);
    await Promise.all([page.waitForNavigation(), page.click('button[value="change"]')]);
    await Promise.all([page.waitForNavigation(), page.click('button[value="demo-energy"]')]);
    await Promise.all([
      page.waitForURL((url) => url.toString().startsWith(`${base}/upstream/oauth/authorize`)),
      page.click('button[value="start"]'),
    ]);
    await page.fill('#subject', `pages-${lang}`);
    await Promise.all([
      page.waitForURL((url) => url.toString().startsWith(`${base}/connect?token=`)),
      page.click('button[value="approve"]'),
    ]);
    await step(page, `customer ${lang}`, { lang });
    await noEnglish(page, `customer ${lang}`);
    await axe(page, `customer ${lang}`);
    await shot(page, `${lang}-4-customer`);
    await page.fill('#lastName', 'Lovelace');
    await Promise.all([page.waitForNavigation(), page.click('button.primary')]);
    await step(page, `consent ${lang}`, { lang });
    await noEnglish(page, `consent ${lang}`);
    await shot(page, `${lang}-5-consent`);
    await Promise.all([
      page.waitForURL((url) => url.toString().startsWith(redirectUri)),
      page.click('button[value="approve"]'),
    ]);
  }
  await page.setExtraHTTPHeaders({});

  // Keyboard only: Tab, Enter, Space and typing complete the flow.
  const walk = await connectSession({ customerInfo: { firstName: 'Kay' } });
  await page.goto(walk.url);
  await tabTo(page, 'button[value="accept"]', 'terms');
  await Promise.all([page.waitForNavigation(), page.keyboard.press('Enter')]);
  await tabTo(page, '#q', 'picker filter');
  await page.keyboard.type('energy');
  await tabTo(page, 'button[value="demo-energy"]', 'picker');
  await Promise.all([page.waitForNavigation(), page.keyboard.press('Space')]);
  await tabTo(page, 'button[value="start"]', 'link');
  await Promise.all([
    page.waitForURL((url) => url.toString().startsWith(`${base}/upstream/oauth/authorize`)),
    page.keyboard.press('Enter'),
  ]);
  await tabTo(page, '#subject', 'upstream sign-in');
  await page.keyboard.type('keyboard-user');
  await tabTo(page, 'button[value="approve"]', 'upstream approve');
  await Promise.all([
    page.waitForURL((url) => url.toString().startsWith(`${base}/connect?token=`)),
    page.keyboard.press('Enter'),
  ]);
  await tabTo(page, '#lastName', 'customer');
  await page.keyboard.type('Walker');
  await tabTo(page, '#email', 'customer e-mail');
  await page.keyboard.type('kay@example.com');
  await tabTo(page, 'button.primary', 'customer continue');
  await Promise.all([page.waitForNavigation(), page.keyboard.press('Enter')]);
  await tabTo(page, 'button[value="approve"]', 'consent');
  await Promise.all([
    page.waitForURL((url) => url.toString().startsWith(redirectUri)),
    page.keyboard.press('Enter'),
  ]);
  check(new URL(page.url()).searchParams.get('code'), 'the keyboard walk ends with a code');

  console.log(`RESULT ${JSON.stringify({ ...counts, titles: titles.size })}`);
} finally {
  await context.close();
  app.close();
  rmSync(userDataDir, { recursive: true, force: true });
}
