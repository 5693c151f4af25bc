// The unit tests (test/unit/*.test.tsx) against the build in dist/, once
// with React 19 and once with React 18 (the aliases react-18 and
// react-dom-18): each test file is bundled by esbuild with its React,
// then node's own test runner runs them all (each file in a process of
// its own). Needs `npm run build` first.
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { build } from 'esbuild';
import { root } from './sync.mjs';

if (!existsSync(join(root, 'dist', 'index.js'))) {
  console.error('dist/index.js is missing: run `npm run build` first');
  process.exit(2);
}
const sources = join(root, 'test', 'unit');
const tests = readdirSync(sources).filter((f) => f.endsWith('.test.tsx'));
const out = join(root, '.test-build', 'unit');
rmSync(out, { recursive: true, force: true });
const reacts = {
  react19: {},
  react18: { react: 'react-18', 'react-dom': 'react-dom-18' },
};
const files = [];
for (const [name, alias] of Object.entries(reacts)) {
  for (const test of tests) {
    const outfile = join(out, name, test.replace(/\.tsx$/, '.mjs'));
    await build({
      entryPoints: [join(sources, test)],
      outfile,
      bundle: true,
      format: 'esm',
      platform: 'node',
      target: 'node20',
      jsx: 'automatic',
      alias,
      external: ['jsdom', 'esbuild'],
      define: {
        'process.env.NODE_ENV': '"development"',
        REACT_VERSION: JSON.stringify(name),
        PACKAGE_ROOT: JSON.stringify(root),
      },
      banner: { js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);" },
      logLevel: 'warning',
    });
    files.push(outfile);
  }
}
// React's test scheduling (act) and its browser server renderer post to a
// MessageChannel, whose ports keep a Node process alive once bundled:
// each test file's process ends when its tests have.
const run = spawnSync(process.execPath, ['--test', '--test-force-exit', ...files], { stdio: 'inherit', cwd: root });
process.exit(run.status ?? 1);
