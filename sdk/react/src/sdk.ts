import type { create, version } from './connect-sdk.js';
import { oauthConnect } from './embed.js';

/** The embed script's `OAuthConnect` object. */
export interface Sdk {
  readonly create: typeof create;
  readonly version: typeof version;
}

let made: Sdk | null = null;

/**
 * The bundled embed script's `OAuthConnect`, made on first use (in the
 * browser, from an effect): importing this package touches no browser API.
 */
export function sdk(): Sdk {
  if (made === null) made = oauthConnect(null);
  return made;
}
