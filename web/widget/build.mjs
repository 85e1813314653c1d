// Builds dist/widget.js: one minified IIFE, a classic script any page can
// include. The same lockfile gives the same bytes (no timestamps, no
// absolute paths, no source map). `node build.mjs --size` also prints the
// raw and gzipped sizes and fails above the budget (20 KB gzipped).
import { build } from 'esbuild';
import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';

const BUDGET = 20 * 1024;
const out = 'dist/widget.js';

await build({
  entryPoints: ['src/index.ts'],
  outfile: out,
  bundle: true,
  format: 'iife',
  platform: 'browser',
  target: 'es2020', // browsers with shadow DOM and ES modules era features
  minify: true,
  legalComments: 'none',
  charset: 'utf8',
  sourcemap: false,
  banner: { js: '/*! chatty notification widget — includes graphql-ws (MIT, github.com/enisdenjo/graphql-ws) */' },
  logLevel: 'warning',
});

const bytes = readFileSync(out);
const gz = gzipSync(bytes, { level: 9 }).length;
if (process.argv.includes('--size')) {
  console.log(`${out}: ${bytes.length} bytes, ${gz} bytes gzipped (budget ${BUDGET})`);
}
if (gz > BUDGET) {
  console.error(`${out} is ${gz} bytes gzipped, over the ${BUDGET}-byte budget`);
  process.exit(1);
}
