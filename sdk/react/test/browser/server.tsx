// The page's server-side rendering, bundled for Node by run.mjs.
import { renderToString } from 'react-dom/server';
import { App } from './app.js';
import type { PageConfig } from './app.js';

export function render(config: PageConfig): string {
  return renderToString(<App config={config} />);
}
