// The README's React quick start (test/consumer/quick-start.tsx, the
// values of this run put in), rendered in the browser.
import { createRoot } from 'react-dom/client';
import App from '../consumer/quick-start.js';

createRoot(document.getElementById('root') as HTMLElement).render(<App />);
