// Hydrates the server-rendered page: at once, or (with ?defer) when the
// test calls window.hydrateNow(), so that it can look at the page first.
import { hydrateRoot } from 'react-dom/client';
import { App } from './app.js';
import type { PageConfig } from './app.js';

declare global {
  interface Window {
    pageConfig: PageConfig;
    hydrateNow: () => void;
  }
}

window.hydrateNow = () => {
  hydrateRoot(document.getElementById('root') as HTMLElement, <App config={window.pageConfig} />);
};
if (!new URLSearchParams(location.search).has('defer')) window.hydrateNow();
