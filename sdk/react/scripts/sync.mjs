// Copies what the package takes from the server's sources into src/ (both
// git-ignored there): the embed script, as an ES module exporting its
// factory, and its TypeScript declarations. One source for the server and
// the package: the build bundles exactly the script the server serves.
// Writes a file only when its text changes, so a run beside a type check
// or a build never truncates a file another one is reading.
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = join(dirname(fileURLToPath(import.meta.url)), '..');
export const serverJs = join(root, '..', '..', 'src', 'http', 'ui', 'assets');

function write(path, text) {
  let old = null;
  try {
    old = readFileSync(path, 'utf8');
  } catch {
    // not there yet
  }
  if (old !== text) writeFileSync(path, text);
}

export function sync() {
  const script = readFileSync(join(serverJs, 'connect-sdk.js'), 'utf8');
  const types = readFileSync(join(serverJs, 'connect-sdk.d.ts'), 'utf8');
  write(join(root, 'src', 'embed.js'), `${script}\nexport { oauthConnect };\n`);
  write(join(root, 'src', 'connect-sdk.d.ts'), types);
  return { script, types };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) sync();
