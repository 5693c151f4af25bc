// oauth-connect embed SDK, protocol version 1. No dependencies, no build step.
// Served by the authorization server at /connect/sdk.js (classic script: one
// global, OAuthConnect) and /connect/sdk.mjs (ES module: default export and
// `create`); both wrap this one source. See the README, "Open Connect from
// your web page".
function oauthConnect(scriptUrl) {
  'use strict';

  var SDK_PATH = /\/connect\/sdk(?:\/[0-9a-f]+)?\.m?js$/;
  var POPUP = { width: 500, height: 720 };
  var POLL_MS = 400;
  var MODAL_ANSWER_MS = 3000;
  var STEPS = ['terms', 'provider', 'link', 'customer', 'consent'];

  // The server's base URL (its issuer): the script's URL without
  // /connect/sdk….js, or what the caller passes as `server`.
  function baseOf(url) {
    if (!url) return null;
    var u = new URL(url, location.href);
    if (u.protocol !== 'https:' && u.protocol !== 'http:') return null;
    return u.origin + u.pathname.replace(SDK_PATH, '').replace(/\/+$/, '');
  }

  var defaultBase = baseOf(scriptUrl);

  // 144 random bits, base64url (24 characters).
  function nonce() {
    var bytes = new Uint8Array(18);
    crypto.getRandomValues(bytes);
    var text = '';
    for (var i = 0; i < bytes.length; i++) text += String.fromCharCode(bytes[i]);
    return btoa(text).replace(/\+/g, '-').replace(/\//g, '_');
  }

  function callback(fn, name) {
    if (fn === undefined) return function () {};
    if (typeof fn !== 'function') throw new TypeError('OAuthConnect: ' + name + ' must be a function');
    return function () {
      try {
        fn.apply(null, arguments);
      } catch (e) {
        setTimeout(function () { throw e; });
      }
    };
  }

  // The script's own visible words, from the server's message catalogue
  // (keys sdk.title and sdk.close; a test keeps them the same).
  var MESSAGES = {
    en: { title: 'Connect your account', close: 'Close' },
    fr: { title: 'Connectez votre compte', close: 'Fermer' },
    es: { title: 'Conecte su cuenta', close: 'Cerrar' },
  };

  // The catalogue of `locale` (a BCP 47 tag: the option, the session's
  // `locale`, else the browser's language), English when none ships.
  function messages(locale) {
    var tag = String(locale || (typeof navigator !== 'undefined' && navigator.language) || 'en').toLowerCase();
    return MESSAGES[tag] || MESSAGES[tag.split('-')[0]] || MESSAGES.en;
  }

  function failure(type, reason) {
    return { type: type, reason: reason };
  }

  function size(value, fallback, max) {
    var n = Number(value);
    if (!isFinite(n) || n <= 0) n = fallback;
    return Math.round(Math.max(320, Math.min(n, max || n)));
  }

  function create(options) {
    if (!options || typeof options !== 'object') throw new TypeError('OAuthConnect.create needs options');
    var base = options.server ? baseOf(String(options.server)) : defaultBase;
    if (!base) throw new TypeError('OAuthConnect: unknown server; pass { server: "https://auth.example.com" }');
    var serverOrigin = new URL(base).origin;
    // A token, or a function that asks the app's backend for one (called
    // when open() needs a session: the popup opens at once, still blank).
    var fetchToken = typeof options.connectToken === 'function' ? options.connectToken : null;
    var byToken = fetchToken !== null || (typeof options.connectToken === 'string' && options.connectToken !== '');
    var byKey = typeof options.publishableKey === 'string' && options.publishableKey !== '';
    if (byToken === byKey) throw new TypeError('OAuthConnect: pass exactly one of connectToken and publishableKey');
    var session = options.session || {};
    var words = messages(options.locale || session.locale);
    if (byKey) {
      if (typeof session !== 'object') throw new TypeError('OAuthConnect: session must be an object');
      // Results are posted to the redirect URL's origin: this page's.
      var redirect = session.redirectUrl ? new URL(String(session.redirectUrl), location.href) : null;
      if (!redirect || redirect.origin !== location.origin) {
        throw new TypeError('OAuthConnect: session.redirectUrl must be a URL of this page\'s origin (' + location.origin + ')');
      }
    }
    var on = {
      success: callback(options.onSuccess, 'onSuccess'),
      exit: callback(options.onExit, 'onExit'),
      error: callback(options.onError, 'onError'),
      event: callback(options.onEvent, 'onEvent'),
    };

    var token = byToken && !fetchToken ? options.connectToken : null;
    var expiresAt = null; // publishable-key sessions: when the one made expires
    var spent = false; // the session completed (or cannot be used): make a new one
    var result = null;
    var current = null; // the open popup or modal

    function pageUrl(mode, n) {
      var url = base + '/connect?token=' + encodeURIComponent(token);
      return mode ? url + '&embed=' + mode + '&nonce=' + n : url;
    }

    function newSession() {
      if (fetchToken) {
        return Promise.resolve().then(fetchToken).then(function (given) {
          if (typeof given !== 'string' || given === '') throw failure('session-invalid', 'connectToken() gave no token');
          token = given;
          expiresAt = null;
          spent = false;
        }, function (problem) {
          throw problem && problem.type ? problem : failure('network', 'connectToken() failed: ' + String(problem));
        });
      }
      return fetch(base + '/v1/connect/sessions', {
        method: 'POST',
        mode: 'cors',
        credentials: 'omit',
        cache: 'no-store',
        referrerPolicy: 'origin',
        headers: { authorization: 'Bearer ' + options.publishableKey, 'content-type': 'application/json' },
        body: JSON.stringify(session),
      }).then(function (answer) {
        return answer.json().then(null, function () { return {}; }).then(function (body) {
          if (answer.status === 201 && typeof body.connectToken === 'string') {
            token = body.connectToken;
            expiresAt = Date.parse(body.expiresAt) || null;
            spent = false;
            return;
          }
          var message = typeof body.message === 'string' ? body.message : 'HTTP ' + answer.status;
          if (answer.status === 429) {
            throw failure('rate-limited', message + ' (Retry-After: ' + answer.headers.get('retry-after') + ' s)');
          }
          if (answer.status >= 500) throw failure('server-error', message);
          throw failure('session-invalid', message);
        });
      }, function () {
        throw failure('network', 'could not reach ' + serverOrigin);
      });
    }

    function needsSession() {
      return (byKey || fetchToken !== null) && (!token || spent || (expiresAt !== null && Date.now() >= expiresAt));
    }

    // Closes the popup or the modal and forgets it; then reports (`closed`,
    // then the callback), unless the app itself closed it.
    function finish(reason, report) {
      var c = current;
      if (!c) return;
      current = null;
      c.timers.forEach(clearTimeout);
      clearInterval(c.poll);
      window.removeEventListener('message', c.listener);
      if (c.keys) document.removeEventListener('keydown', c.keys, true);
      if (c.popup && !c.popup.closed) c.popup.close();
      if (c.overlay) {
        c.overlay.remove();
        c.inert.forEach(function (el) { el.inert = false; });
        if (c.focus && c.focus.focus) c.focus.focus();
      }
      if (!report) return;
      on.event('closed', { reason: reason });
      report();
    }

    function fail(type, reason) {
      finish(type, function () { on.error(failure(type, reason)); });
    }

    function exit(reason) {
      finish(reason, function () { on.exit({ reason: reason }); });
    }

    // Only the window this handle opened, from the server's origin, with
    // this opening's nonce.
    function listener(c) {
      return function (event) {
        if (current !== c || event.origin !== serverOrigin) return;
        var source = c.popup || (c.frame && c.frame.contentWindow);
        if (!source || event.source !== source) return;
        var m = event.data;
        if (!m || typeof m !== 'object' || m.type !== 'oauth-connect' || m.v !== 1 || m.nonce !== c.nonce) return;
        c.answered = true;
        if (m.event === 'step' && STEPS.indexOf(m.step) >= 0) {
          on.event('step', { step: m.step });
        } else if (m.event === 'success' && typeof m.code === 'string') {
          spent = true;
          result = { code: m.code, state: typeof m.state === 'string' ? m.state : null };
          if (typeof m.iss === 'string') result.iss = m.iss;
          if (typeof m.scopedKey === 'string') result.scopedKey = m.scopedKey;
          on.event('completed', { outcome: 'success' });
          var done = result;
          finish('success', function () { on.success(done); });
        } else if (m.event === 'exit' && (m.reason === 'denied' || m.reason === 'user-cancelled')) {
          spent = true;
          on.event('completed', { outcome: m.reason });
          exit(m.reason);
        } else if (m.event === 'error' && typeof m.error === 'string') {
          // Used, expired, or claimed by another browser: this session is
          // done here (a publishable key or a token function makes a new one).
          if (m.error === 'session-used' || m.error === 'session-expired' || m.error === 'session-other-browser') spent = true;
          fail(m.error, typeof m.reason === 'string' ? m.reason : m.error);
        } else if (m.event === 'close-request' && c.overlay) {
          exit('user-cancelled');
        }
      };
    }

    function openPopup(c, width, height) {
      var left = Math.round((window.screenX || 0) + Math.max(0, (window.outerWidth - width) / 2));
      var top = Math.round((window.screenY || 0) + Math.max(0, (window.outerHeight - height) / 2));
      var features = 'popup=yes,width=' + width + ',height=' + height + ',left=' + left + ',top=' + top;
      // Opened at once (a popup needs the click's user activation); when
      // the session is still to be made, blank until it is.
      var popup = window.open(token && !needsSession() ? pageUrl('popup', c.nonce) : 'about:blank', 'oauth-connect-' + c.nonce, features);
      if (!popup) return false;
      c.popup = popup;
      c.poll = setInterval(function () {
        if (current === c && popup.closed) fail('popup-closed', 'the user closed the Connect window');
      }, POLL_MS);
      try {
        popup.focus();
      } catch (e) {
        // focusing is a nicety
      }
      return true;
    }

    function style(el, css) {
      for (var name in css) el.style.setProperty(name, css[name]);
      return el;
    }

    function openModal(c, width, height) {
      var overlay = style(document.createElement('div'), {
        position: 'fixed', inset: '0', 'z-index': '2147483647', display: 'flex',
        'align-items': 'center', 'justify-content': 'center', background: 'rgba(15,23,42,.55)',
      });
      overlay.setAttribute('data-oauth-connect', 'modal');
      overlay.setAttribute('role', 'dialog');
      overlay.setAttribute('aria-modal', 'true');
      overlay.setAttribute('aria-label', words.title);
      var box = style(document.createElement('div'), {
        position: 'relative', width: 'min(' + width + 'px, calc(100vw - 16px))',
        height: 'min(' + height + 'px, calc(100vh - 16px))', background: '#fff',
        'border-radius': '12px', overflow: 'hidden', 'box-shadow': '0 20px 60px rgba(0,0,0,.35)',
      });
      var close = style(document.createElement('button'), {
        position: 'absolute', top: '6px', right: '6px', width: '36px', height: '36px',
        border: '0', 'border-radius': '18px', background: 'rgba(255,255,255,.9)', color: '#111',
        font: '24px/36px system-ui, sans-serif', cursor: 'pointer', padding: '0',
      });
      close.type = 'button';
      close.textContent = '\u00d7';
      close.setAttribute('aria-label', words.close);
      close.addEventListener('click', function () { exit('user-cancelled'); });
      var frame = style(document.createElement('iframe'), { border: '0', width: '100%', height: '100%', display: 'block' });
      frame.title = words.title;
      frame.setAttribute('referrerpolicy', 'origin');
      // The focus stays in the dialog: the sentinels at both ends send it
      // back to the other end.
      var first = document.createElement('div');
      var last = document.createElement('div');
      first.tabIndex = 0;
      last.tabIndex = 0;
      first.addEventListener('focus', function () { (frame.isConnected ? frame : close).focus(); });
      last.addEventListener('focus', function () { close.focus(); });
      box.append(close);
      overlay.append(first, box, last);
      c.focus = document.activeElement;
      c.inert = [];
      Array.prototype.forEach.call(document.body.children, function (el) {
        if (!el.inert) {
          el.inert = true;
          c.inert.push(el);
        }
      });
      document.body.appendChild(overlay);
      c.overlay = overlay;
      c.frame = frame;
      c.keys = function (event) {
        if (event.key === 'Escape' && current === c) {
          event.preventDefault();
          exit('user-cancelled');
        }
      };
      document.addEventListener('keydown', c.keys, true);
      close.focus();
      // The frame goes in once the server said this origin may frame the
      // page (modalCheck) and its URL is known (a blank frame's own load
      // must not count). The page answers as soon as it runs; the timer is
      // the last resort for a frame that never does (a page refused by an
      // ancestor of this one, or one that failed to load).
      c.show = function (url) {
        frame.addEventListener('load', function () {
          if (c.loaded) return;
          c.loaded = true;
          c.timers.push(setTimeout(function () {
            if (current === c && !c.answered) {
              fail('modal-not-allowed', 'the Connect page did not answer in the frame (a frame around this page may not frame it, or it failed to load)');
            }
          }, MODAL_ANSWER_MS));
        });
        frame.src = url;
        box.append(frame);
      };
    }

    // Before framing the page: asks the server (GET /connect/status, a CORS
    // request without credentials) whether the hosted page lets this
    // origin frame it and posts its messages here, and whether the session
    // is still open. Resolves when the modal can work; else rejects with
    // the definite failure.
    function modalCheck() {
      return fetch(base + '/connect/status?token=' + encodeURIComponent(token), {
        mode: 'cors',
        credentials: 'omit',
        cache: 'no-store',
        referrerPolicy: 'origin',
      }).then(function (answer) {
        return answer.json().then(null, function () { return {}; }).then(function (body) {
          var message = typeof body.message === 'string' ? body.message : 'HTTP ' + answer.status;
          if (answer.ok) {
            var embed = body.embed;
            if (!embed || typeof embed !== 'object') throw failure('server-error', 'the server did not say whether this origin may frame Connect');
            if (!embed.messages) {
              throw failure('modal-not-allowed', 'this page\'s origin (' + location.origin + ') is not the origin of the session\'s redirect URL, the only one the Connect page reports to');
            }
            if (!embed.framable) {
              throw failure('modal-not-allowed', 'this origin (' + location.origin + ') may not frame the Connect page: add it to the app\'s allowedOrigins');
            }
            return;
          }
          if (body.error === 'session_expired') throw failure('session-expired', message);
          if (body.error === 'session_used') throw failure('session-used', message);
          if (answer.status >= 500) throw failure('server-error', message);
          throw failure('session-invalid', message);
        });
      }, function () {
        throw failure('network', 'could not reach ' + serverOrigin);
      });
    }

    function open(openOptions) {
      var o = openOptions || {};
      var mode = o.mode === undefined ? 'popup' : o.mode;
      if (mode !== 'popup' && mode !== 'modal') throw new TypeError('OAuthConnect: mode is "popup" or "modal"');
      if (current) {
        if (current.popup && !current.popup.closed) current.popup.focus();
        return;
      }
      var width = size(o.width, POPUP.width, mode === 'popup' ? screen.availWidth : 0);
      var height = size(o.height, POPUP.height, mode === 'popup' ? screen.availHeight : 0);
      var c = { mode: mode, nonce: nonce(), timers: [], inert: [] };
      current = c;
      c.listener = listener(c);
      window.addEventListener('message', c.listener);
      if (mode === 'popup' && !openPopup(c, width, height)) {
        current = null;
        window.removeEventListener('message', c.listener);
        on.error(failure('popup-blocked', 'the browser blocked the Connect window: call open() from a click'));
        return;
      }
      if (mode === 'modal') openModal(c, width, height);
      on.event('opened', { mode: mode });
      var fresh = needsSession();
      if (!fresh && c.popup) return;
      (fresh ? newSession() : Promise.resolve()).then(function () {
        if (current !== c) return null;
        if (c.popup) {
          c.popup.location.replace(pageUrl('popup', c.nonce));
          return null;
        }
        return modalCheck().then(function () {
          if (current === c) c.show(pageUrl('modal', c.nonce));
        });
      }).then(null, function (problem) {
        if (current !== c) return;
        var p = problem && problem.type ? problem : failure('network', String(problem));
        if (p.type === 'session-used' || p.type === 'session-expired') spent = true;
        fail(p.type, p.reason);
      });
    }

    return Object.freeze({
      open: open,
      // Closes the popup or modal, if open, without a callback.
      close: function () { finish('app'); },
      // The hosted page's URL (a full-page redirect needs no script);
      // null until a publishable-key session is made.
      get url() { return token ? pageUrl() : null; },
      // { code, state, iss, scopedKey? } once the flow succeeded.
      get result() { return result; },
    });
  }

  return Object.freeze({ create: create, version: 1 });
}
