// A jsdom window as the globals a browser has, for the hook's tests; and
// fakes of what the embed script reaches for: window.open's popup and the
// server's answers to fetch.
import { JSDOM } from 'jsdom';

export const PAGE = 'http://127.0.0.1:5173';
export const SERVER = 'http://127.0.0.1:3000';

const dom = new JSDOM('<!doctype html><html><body><main id="app-shell"><p>page</p></main></body></html>', {
  url: `${PAGE}/`,
  pretendToBeVisual: true,
});
const g = globalThis as Record<string, unknown>;
for (const name of Object.getOwnPropertyNames(dom.window)) {
  if (!(name in g)) g[name] = (dom.window as unknown as Record<string, unknown>)[name];
}
g.window = dom.window;
g.document = dom.window.document;
g.location = dom.window.location;
g.IS_REACT_ACT_ENVIRONMENT = true;
export const win = dom.window as unknown as Window & typeof globalThis;

/** A popup window.open returned: records where it was sent and whether it was closed. */
export interface FakePopup {
  url: string;
  name: string;
  closed: boolean;
  close(): void;
  focus(): void;
  location: { replace(url: string): void };
}

/** Replaces window.open; `blocked` makes it return null (a blocked popup). */
export function stubOpen(blocked = false): FakePopup[] {
  const opened: FakePopup[] = [];
  win.open = ((url: string, name: string) => {
    if (blocked) return null;
    const popup: FakePopup = {
      url,
      name,
      closed: false,
      close() {
        popup.closed = true;
      },
      focus() {},
      location: {
        replace(to: string) {
          popup.url = to;
        },
      },
    };
    opened.push(popup);
    return popup;
  }) as unknown as typeof window.open;
  return opened;
}

/** The nonce of an opening, from its popup's URL. */
export function nonceOf(url: string): string {
  const nonce = new URL(url).searchParams.get('nonce');
  if (!nonce) throw new Error(`no nonce in ${url}`);
  return nonce;
}

/** A message of the hosted page, from `source`, as the server posts it. */
export function post(source: unknown, nonce: string, fields: Record<string, unknown>, origin = SERVER): void {
  const data = { type: 'oauth-connect', v: 1, nonce, ...fields };
  win.dispatchEvent(new win.MessageEvent('message', { origin, source: source as Window, data }));
}

/** Answers fetch with `answer(url, init)`; records the requests. */
export function stubFetch(answer: (url: string, init?: RequestInit) => { status: number; body: unknown }) {
  const requests: { url: string; init?: RequestInit }[] = [];
  g.fetch = async (url: string, init?: RequestInit) => {
    requests.push({ url: String(url), ...(init ? { init } : {}) });
    const { status, body } = answer(String(url), init);
    return new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
  };
  return requests;
}

export const tick = (ms = 0) => new Promise((resolve) => setTimeout(resolve, ms));
