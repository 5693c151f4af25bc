// The server's embed script (src/http/ui/assets/connect-sdk.js), which scripts/sync.mjs
// copies beside this file as an ES module: its factory, called with the
// script's own URL (none here: `server` is always given).
import type { create, version } from './connect-sdk.js';

export declare function oauthConnect(scriptUrl: string | null): {
  readonly create: typeof create;
  readonly version: typeof version;
};
