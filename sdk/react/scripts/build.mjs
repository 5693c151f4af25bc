// The package's build: dist/index.js (one ES module, React external, the
// server's embed script inside), the declarations (tsc), the embed
// script's own declarations beside them, and the licences.
import { copyFileSync, rmSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { build } from 'esbuild';
import { root, sync } from './sync.mjs';

sync();
const dist = join(root, 'dist');
rmSync(dist, { recursive: true, force: true });
await build({
  entryPoints: [join(root, 'src', 'index.ts')],
  outfile: join(dist, 'index.js'),
  bundle: true,
  format: 'esm',
  platform: 'neutral',
  target: 'es2020',
  jsx: 'automatic',
  external: ['react', 'react/jsx-runtime'],
  legalComments: 'inline',
  logLevel: 'warning',
});
execFileSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(root, 'tsconfig.build.json')], {
  stdio: 'inherit',
});
copyFileSync(join(root, 'src', 'connect-sdk.d.ts'), join(dist, 'connect-sdk.d.ts'));
for (const licence of ['LICENSE-MIT', 'LICENSE-APACHE']) {
  copyFileSync(join(root, '..', '..', licence), join(root, licence));
}
