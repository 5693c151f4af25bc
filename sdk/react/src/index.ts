// @oauth-connect/react: the Connect flow of an oauth-connect server in a
// React app. The server's embed script is bundled (see README.md, "Why
// bundled"); nothing here touches a browser API before an effect runs.
export { useConnect } from './useConnect.js';
export type { ConnectConfig, UseConnect, UseConnectError } from './useConnect.js';
export { ConnectButton } from './ConnectButton.js';
export type { ConnectButtonProps } from './ConnectButton.js';
export type {
  BaseOptions,
  ConnectError,
  CustomerInfo,
  ErrorType,
  EventArgs,
  EventMap,
  Exit,
  ExitReason,
  Handle,
  KeyOptions,
  Location,
  Mode,
  OpenOptions,
  Options,
  Result,
  SessionRequest,
  Step,
  TokenOptions,
} from './connect-sdk.js';
