// The build holds the server's embed script (src/http/ui/assets/connect-sdk.js) as
// esbuild prints it, and its declarations as they are.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { transformSync } from 'esbuild';

declare const PACKAGE_ROOT: string;

const here = pathToFileURL(`${PACKAGE_ROOT}/`);
const read = (path: string, base: URL = here) => readFileSync(new URL(path, base), 'utf8');

test('dist/index.js bundles the server embed script, and dist/connect-sdk.d.ts is its declarations', () => {
  const server = new URL('../../src/http/ui/assets/', here);
  const script = read('connect-sdk.js', server);
  const printed = transformSync(script, { format: 'esm', target: 'es2020', legalComments: 'inline' }).code;
  const body = printed.slice(printed.indexOf('function oauthConnect')).trim();
  assert.ok(body.length > 10_000, 'the whole script');
  assert.ok(read('dist/index.js').includes(body), 'the bundle holds the script as esbuild prints it');
  assert.equal(read('dist/connect-sdk.d.ts'), read('connect-sdk.d.ts', server));
});
