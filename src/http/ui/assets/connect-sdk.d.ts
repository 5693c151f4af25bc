// TypeScript declarations of the oauth-connect embed SDK, protocol version 1
// (src/http/ui/assets/connect-sdk.js), served beside it at /connect/sdk.d.ts and shipped
// in the React package. A test keeps them in step with the script: every
// option, open() option, error type, exit reason, event and step the
// script knows is declared here, and nothing else.
//
// - The classic script (/connect/sdk.js) defines the global `OAuthConnect`:
//   in a script (not a module) file these declarations describe it as they
//   are (`export as namespace`).
// - The ES module (/connect/sdk.mjs) exports `default` (the same object),
//   `create` and `version`.

export as namespace OAuthConnect;

/** How the hosted page is shown: a window of its own, or a frame over the page. */
export type Mode = 'popup' | 'modal';

/** The steps of the hosted page, in order (each skipped when it has nothing to ask). */
export type Step = 'terms' | 'provider' | 'link' | 'customer' | 'consent';

/** Why the user left without connecting (`onExit`). */
export type ExitReason =
  /** Deny on the consent step. */
  | 'denied'
  /** Exit on an earlier step, the modal's close button, or Escape. */
  | 'user-cancelled';

/** What went wrong (`onError`'s `type`); `reason` says it in words. */
export type ErrorType =
  /** The browser blocked the window: call `open()` from a click. */
  | 'popup-blocked'
  /** The user closed the window before the end. */
  | 'popup-closed'
  /** This page's origin may not frame the hosted page, or the frame never answered. */
  | 'modal-not-allowed'
  /** The server refused the session (unknown token, or a refused session body). */
  | 'session-invalid'
  /** The session's lifetime (30 minutes by default) is over. */
  | 'session-expired'
  /** The session was already completed. */
  | 'session-used'
  /** Another browser opened the session first; only that one may continue it. */
  | 'session-other-browser'
  /** Too many sessions for this publishable key: retry later (`reason` gives Retry-After). */
  | 'rate-limited'
  /** The server failed (HTTP 5xx). */
  | 'server-error'
  /** The server could not be reached, or `connectToken()` failed. */
  | 'network';

/** What `onSuccess` receives: the authorization code and what came with it. */
export interface Result {
  /** The authorization code (`oc_code_…`), valid 60 seconds: exchange it from your backend at once. */
  code: string;
  /** The session's `state`, or null when it had none. */
  state: string | null;
  /** The issuer that made the code (RFC 9207): check it is your server's. */
  iss?: string;
  /** The scoped key, when the session asked for one with `scopedKeyDelivery: "redirect"`. */
  scopedKey?: string;
}

/** What `onError` receives. */
export interface ConnectError {
  type: ErrorType;
  /** A sentence for the developer (not meant for the end user). */
  reason: string;
}

/** What `onExit` receives. */
export interface Exit {
  reason: ExitReason;
}

/** Each `onEvent` name and what comes with it. */
export interface EventMap {
  /** `open()` showed the popup or the modal. */
  opened: { mode: Mode };
  /** The hosted page shows a step. */
  step: { step: Step };
  /** The flow ended on the hosted page: connected, or left. */
  completed: { outcome: 'success' | ExitReason };
  /** The popup or modal closed (before `onSuccess`, `onExit` or `onError`; not after `close()`). */
  closed: { reason: 'success' | ExitReason | ErrorType };
}

/** `onEvent`'s arguments: a name of {@link EventMap} and its details. */
export type EventArgs = { [Name in keyof EventMap]: [name: Name, meta: EventMap[Name]] }[keyof EventMap];

/** A location: all of its fields, or none. */
export interface Location {
  streetOne: string;
  city: string;
  state: string;
  postalCode: string;
  country: string;
}

/** What the service knows of its user: prefills the customer step (skipped when complete). */
export interface CustomerInfo {
  firstName?: string;
  lastName?: string;
  email?: string;
  phone?: string;
  location?: Location;
}

/**
 * The Connect session a publishable key creates (`POST /v1/connect/sessions`
 * from the page, the body as the API takes it; `customerId` only from a backend).
 */
export interface SessionRequest {
  /** The app (its `oauth_…` id); the publishable key's own app when absent. */
  appId?: string;
  /** One of the app's redirect URIs, of this page's origin (the results are posted to it). */
  redirectUrl: string;
  /** Your id for your user; generated when absent. */
  referenceId?: string;
  tags?: string[];
  /** The name the page shows; the app's name when absent. */
  clientName?: string;
  customerInfo?: CustomerInfo;
  /** Narrows the provider picker: `providers` (or `manufacturers`), `categories` (or `deviceTypes`). */
  filters?: { providers?: string[]; manufacturers?: string[]; categories?: string[]; deviceTypes?: string[] };
  /** Within the app's allowed scopes; all of them when absent. */
  scopes?: string[];
  /** Returned with the code. */
  state?: string;
  /** The hosted pages' language, a BCP 47 tag (`fr`, `es-MX`); the browser's `Accept-Language` when absent. */
  locale?: string;
  /** Whether completing the session also yields a scoped key. */
  scopedKey?: boolean;
  /** `tokenResponse` (the default: in the code exchange) or `redirect` (also to `onSuccess`). */
  scopedKeyDelivery?: 'tokenResponse' | 'redirect';
  /** The scoped key's lifetime in seconds (60 to 315360000); no expiry when absent. */
  scopedKeyExpiresIn?: number;
  /** A PKCE S256 challenge the code exchange must answer (RFC 7636). */
  codeChallenge?: string;
  codeChallengeMethod?: 'S256';
}

/** What every `create` takes besides the session. */
export interface BaseOptions {
  /**
   * The server's base URL (its issuer), e.g. `https://auth.example.com`.
   * Defaults to where the script was loaded from; required otherwise.
   */
  server?: string | URL;
  /**
   * The language of the script's own words (the modal's label and Close
   * button), a BCP 47 tag: `en`, `fr` and `es` ship. Defaults to the
   * session's `locale`, then the browser's language. (The hosted pages
   * follow the session's `locale`, else the browser's `Accept-Language`.)
   */
  locale?: string;
  /** The user connected: exchange `result.code` from your backend. */
  onSuccess?: (result: Result) => void;
  /** The user left without connecting. */
  onExit?: (exit: Exit) => void;
  /** Something went wrong; the popup or modal is closed. */
  onError?: (error: ConnectError) => void;
  /** Progress: `opened`, `step`, `completed`, `closed`. */
  onEvent?: (...args: EventArgs) => void;
}

/** A session your backend created: its Connect token, or a function that fetches one. */
export interface TokenOptions extends BaseOptions {
  /**
   * The session's Connect token (`oc_ct_…`), or a function that asks your
   * backend for a fresh one: called by `open()` when a session is needed
   * (the popup opens at once, blank until the token comes).
   */
  connectToken: string | (() => string | Promise<string>);
  publishableKey?: never;
  session?: never;
}

/** A session the page creates itself with the app's publishable key. */
export interface KeyOptions extends BaseOptions {
  /** The app's publishable key (`oc_pk_…`): safe in a page of one of the app's `allowedOrigins`. */
  publishableKey: string;
  /** The session to create when `open()` needs one. */
  session: SessionRequest;
  connectToken?: never;
}

/** `create`'s options: exactly one of `connectToken` and `publishableKey`. */
export type Options = TokenOptions | KeyOptions;

/** `open()`'s options. */
export interface OpenOptions {
  /** `popup` (the default) or `modal`. */
  mode?: Mode;
  /** Width in CSS pixels (at least 320; default 500). */
  width?: number;
  /** Height in CSS pixels (at least 320; default 720). */
  height?: number;
}

/** One Connect handle: opens the hosted page for its session, one at a time. */
export interface Handle {
  /**
   * Opens the hosted page (from a click: a popup needs the user's gesture).
   * While one is open, focuses it instead.
   * @throws TypeError for a `mode` other than `popup` or `modal`.
   */
  open(options?: OpenOptions): void;
  /** Closes the popup or modal, if open, without any callback. */
  close(): void;
  /** The hosted page's URL (a full-page redirect needs no script); null until a session exists. */
  readonly url: string | null;
  /** The last success, once there is one. */
  readonly result: Result | null;
}

/**
 * Makes a handle.
 * @throws TypeError when the options are unusable (no server, neither or
 *   both of `connectToken` and `publishableKey`, a `session.redirectUrl`
 *   of another origin, a callback that is not a function).
 */
export function create(options: Options): Handle;

/** The protocol version. */
export const version: 1;

declare const OAuthConnect: { readonly create: typeof create; readonly version: typeof version };
export default OAuthConnect;
