// The hosted pages' side of oauth-connect in the browser, protocol version 1:
// served at /connect/page/<version>.js and loaded only by pages of this
// server, with the response's CSP nonce. It reads what to do from its own
// <script> element:
//   data-target         "opener" or "parent": the window to report to
//   data-target-origin  the exact origin of the session's redirect URL
//   data-message        the one message to post (JSON), if any
//   data-fallback       where to go instead when that window is gone
//   data-nonce          the embed script's nonce (modal: the Escape key)
//   data-status         the link step: a status URL to poll while the user
//                       signs in at the provider in a window of its own
//   data-version        the session's step version this page shows
//   data-close          a provider's return, in that window: close it
//   data-count          the provider picker: its filter's "{n} shown" text
// On every page it loads, it moves focus to the step's heading (an
// element marked data-focus) when the page has the focus, as `autofocus`
// does where a browser allows it (not in a cross-origin frame).
(function () {
  'use strict';
  var script = document.currentScript;
  if (!script) return;
  var d = script.dataset;

  function show(id) {
    var el = id && document.getElementById(id);
    if (el) el.hidden = false;
  }

  function target() {
    if (d.target === 'opener') return window.opener && !window.opener.closed ? window.opener : null;
    if (d.target === 'parent') return window.parent !== window ? window.parent : null;
    return null;
  }

  var to = target();
  if (d.message && d.targetOrigin) {
    var message = JSON.parse(d.message);
    if (to) {
      to.postMessage(message, d.targetOrigin);
    } else if (d.fallback) {
      // No window to tell (the opener is gone): the ordinary redirect.
      location.replace(d.fallback);
    } else {
      show('oc-gone');
    }
  }

  // A modal: the Escape key asks the embedding page to close it (keys
  // typed in this frame never reach that page).
  if (d.target === 'parent' && to && d.nonce && d.targetOrigin) {
    document.addEventListener('keydown', function (event) {
      if (event.key === 'Escape') {
        to.postMessage({ type: 'oauth-connect', v: 1, nonce: d.nonce, event: 'close-request' }, d.targetOrigin);
      }
    });
  }

  // The link step: the provider's sign-in opens in a window of its own (it
  // may refuse to be framed, and its own Cross-Origin-Opener-Policy would
  // cut this window off from the page that opened it). This page waits
  // for the link by polling the session's status, then shows the next
  // step.
  if (d.status) {
    var button = document.querySelector('button[data-link-window]');
    if (button) {
      button.addEventListener('click', function () {
        var width = 520;
        var height = 680;
        var left = Math.round((window.screenX || 0) + Math.max(0, (window.outerWidth - width) / 2));
        var top = Math.round((window.screenY || 0) + Math.max(0, (window.outerHeight - height) / 2));
        var opened = window.open('', button.formTarget, 'popup=yes,width=' + width + ',height=' + height + ',left=' + left + ',top=' + top);
        show(opened ? 'oc-waiting' : 'oc-blocked');
      });
    }
    var poll = function () {
      fetch(d.status, { cache: 'no-store', credentials: 'omit' }).then(function (answer) {
        if (!answer.ok) {
          location.reload();
          return null;
        }
        return answer.json().then(function (status) {
          if (String(status.version) !== d.version) location.reload();
          else setTimeout(poll, 1500);
        });
      }, function () {
        setTimeout(poll, 4000);
      });
    };
    setTimeout(poll, 1500);
  }

  // Only when this document has the focus: a modal's first page leaves it
  // on the dialog's Close button, where the embed script put it.
  var heading = document.querySelector('[data-focus]');
  if (heading && document.activeElement !== heading && document.hasFocus()) heading.focus();

  // The provider picker: typing in the search box narrows the tiles
  // without a page load (the form's server-side search works without
  // JavaScript).
  var filter = document.getElementById('q');
  var list = document.getElementById('oc-providers');
  if (d.count && filter && list) {
    var tiles = list.querySelectorAll('li[data-search]');
    var none = document.getElementById('oc-none');
    var count = document.getElementById('oc-count');
    var narrow = function () {
      var words = filter.value.toLowerCase().trim().split(/\s+/).filter(Boolean);
      var shown = 0;
      for (var i = 0; i < tiles.length; i++) {
        var text = tiles[i].getAttribute('data-search') || '';
        var match = words.every(function (w) { return text.indexOf(w) !== -1; });
        tiles[i].hidden = !match;
        if (match) shown++;
      }
      if (none) none.hidden = shown !== 0;
      if (count) count.textContent = d.count.replace('{n}', String(shown));
    };
    filter.addEventListener('input', narrow);
  }

  if (d.close) window.close();
})();
