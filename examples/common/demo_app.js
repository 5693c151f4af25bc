// The demo integrating app's page: opens Connect with the embed script
// (OAuthConnect, loaded by the page from the authorization server with its
// Subresource Integrity), shows every callback, and has its backend
// exchange the code. Also a plain OAuth popup with response_mode=web_message.
// Every flow carries a `state` the backend bound to this browser's cookie
// (the page's data-state, or the one made with a Connect token): the
// backend exchanges nothing without it.
'use strict';

const config = document.body.dataset;
const log = document.getElementById('log');

// One line per callback; `data-kind` names it (the browser tests read it).
function show(kind, detail) {
  const item = document.createElement('li');
  item.dataset.kind = kind;
  item.dataset.detail = JSON.stringify(detail === undefined ? null : detail);
  const name = document.createElement('strong');
  name.textContent = kind;
  item.append(name, ' ', detail === undefined ? '' : JSON.stringify(detail));
  log.append(item);
}

function randomText(bytes) {
  const raw = crypto.getRandomValues(new Uint8Array(bytes));
  return btoa(String.fromCharCode(...raw)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

async function post(path, body) {
  const answer = await fetch(path, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return answer.json();
}

// The backend exchanges the code (it holds the client secret), once it
// has checked the state.
async function exchange(code, state, codeVerifier) {
  show('exchange', await post('/api/exchange', { code, state, codeVerifier }));
}

function callbacks(expectState) {
  return {
    onSuccess(result) {
      // A code is short-lived and single-use: never log it whole.
      show('onSuccess', {
        code: result.code.slice(0, 12) + '…',
        state: result.state,
        iss: result.iss,
        scopedKey: result.scopedKey ? result.scopedKey.slice(0, 10) + '…' : undefined,
      });
      const expected = expectState();
      if (expected !== null && result.state !== expected) {
        show('error', 'state mismatch: not exchanging');
        return;
      }
      exchange(result.code, result.state);
    },
    onExit(exit) {
      show('onExit', exit);
    },
    onError(error) {
      show('onError', error);
    },
    onEvent(name, meta) {
      show('onEvent', { name, meta });
    },
  };
}

const customerInfo = {
  firstName: 'Ada', lastName: 'Lovelace', email: 'ada@example.com',
  location: { streetOne: '1 Main St', city: 'Springfield', state: 'IL', postalCode: '62701', country: 'US' },
};

// A publishable key: the script makes the session from this page.
function withKey(mode) {
  const state = config.state;
  const browserKey = document.getElementById('browser-key').checked;
  const session = {
    redirectUrl: config.redirectUrl,
    referenceId: 'demo-browser-user',
    scopes: config.scopes.split(' '),
    state,
    customerInfo,
  };
  if (browserKey) {
    session.scopedKey = true;
    session.scopedKeyDelivery = 'redirect';
  }
  const handle = OAuthConnect.create({ publishableKey: config.publishableKey, session, ...callbacks(() => state) });
  window.lastHandle = handle;
  handle.open({ mode });
}

// A Connect token: pasted, or made by this app's backend when open()
// needs one (the popup opens at once, blank until then).
function withToken(mode) {
  let state = null;
  const pasted = document.getElementById('token').value.trim();
  const browserKey = document.getElementById('browser-key').checked;
  const connectToken = pasted || (async () => {
    const made = await post('/api/connect-token', { scopedKeyInBrowser: browserKey });
    if (!made.connectToken) throw { type: 'session-invalid', reason: JSON.stringify(made) };
    state = made.state;
    return made.connectToken;
  });
  const handle = OAuthConnect.create({ connectToken, ...callbacks(() => state) });
  window.lastHandle = handle;
  handle.open({ mode });
}

// Plain OAuth in a popup; the answer comes back by postMessage.
async function webMessage() {
  const popup = window.open('about:blank', 'demo-web-message', 'popup=yes,width=500,height=700');
  if (!popup) {
    show('error', 'popup blocked');
    return;
  }
  const state = config.state;
  const verifier = randomText(32);
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier)));
  const challenge = btoa(String.fromCharCode(...digest)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  const issuerOrigin = new URL(config.issuer).origin;
  const listener = (event) => {
    // Only the authorization server, only the popup we opened.
    if (event.origin !== issuerOrigin || event.source !== popup) return;
    const data = event.data;
    if (!data || data.type !== 'authorization_response') return;
    window.removeEventListener('message', listener);
    popup.close();
    const response = data.response || {};
    show('authorization_response', { ...response, code: response.code ? response.code.slice(0, 12) + '…' : undefined });
    if (response.state !== state) {
      show('error', 'state mismatch');
    } else if (response.iss !== config.issuer) {
      show('error', 'iss mismatch (RFC 9207)');
    } else if (response.code) {
      exchange(response.code, response.state, verifier);
    }
  };
  window.addEventListener('message', listener);
  const url = new URL(config.issuer + '/oauth/authorize');
  url.search = new URLSearchParams({
    response_type: 'code',
    client_id: config.clientId,
    redirect_uri: config.redirectUrl,
    scope: config.scopes,
    state,
    code_challenge: challenge,
    code_challenge_method: 'S256',
    response_mode: 'web_message',
  }).toString();
  popup.location.replace(url.toString());
}

document.getElementById('popup-key').addEventListener('click', () => withKey('popup'));
document.getElementById('modal-key').addEventListener('click', () => withKey('modal'));
document.getElementById('popup-token').addEventListener('click', () => withToken('popup'));
document.getElementById('modal-token').addEventListener('click', () => withToken('modal'));
document.getElementById('web-message').addEventListener('click', webMessage);
