import { forwardRef } from 'react';
import type { ButtonHTMLAttributes, CSSProperties, MouseEvent } from 'react';
import type { OpenOptions } from './connect-sdk.js';
import { useConnect } from './useConnect.js';
import type { ConnectConfig } from './useConnect.js';

/** `ConnectButton`'s props: a button's, and the Connect config. */
export interface ConnectButtonProps extends Omit<ButtonHTMLAttributes<HTMLButtonElement>, 'type'> {
  /** What `useConnect` takes. */
  config: ConnectConfig;
  /** How to open: `{ mode: 'modal' }`, a size. A popup by default. */
  openOptions?: OpenOptions;
  /** Leave the look to your `className` and `style` (no built-in style). */
  unstyled?: boolean;
}

// White on blue-700 (6.7:1) and on slate-600 when disabled (7.6:1); at
// least 44 px high (WCAG 2.5.5); the browser's own focus ring is kept.
const STYLE: CSSProperties = {
  display: 'inline-flex',
  alignItems: 'center',
  justifyContent: 'center',
  gap: '8px',
  minHeight: '44px',
  padding: '0 20px',
  border: '1px solid transparent',
  borderRadius: '8px',
  background: '#1d4ed8',
  color: '#ffffff',
  font: '600 16px/1.25 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif',
  cursor: 'pointer',
};
const DISABLED: CSSProperties = { background: '#475569', cursor: 'not-allowed' };

/**
 * A button that opens Connect: disabled until it can (`ready`), its
 * children as its label ("Connect your account" by default). An `onClick`
 * of yours runs first; `event.preventDefault()` there keeps Connect closed.
 */
export const ConnectButton = forwardRef<HTMLButtonElement, ConnectButtonProps>(function ConnectButton(
  { config, openOptions, unstyled = false, children, style, disabled = false, onClick, ...rest },
  ref,
) {
  const { open, ready } = useConnect(config);
  const off = disabled || !ready;
  const look = unstyled ? style : { ...STYLE, ...(off ? DISABLED : null), ...style };
  const click = (event: MouseEvent<HTMLButtonElement>) => {
    onClick?.(event);
    if (!event.defaultPrevented) open(openOptions);
  };
  return (
    <button {...rest} ref={ref} type="button" disabled={off} style={look} onClick={click}>
      {children ?? 'Connect your account'}
    </button>
  );
});
