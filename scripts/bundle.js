// Bundles the compiled program (dist/src, from tsc) into dist/app/bin: one
// file per program plus the chunks they share, so a run reads a handful of
// files instead of some 70 ES modules (each a resolve, a read and a link: in
// the test guest's emulated CPU, 0.35 s of every run's start-up). The code
// loaded only by some commands (the config schema library among it) stays in
// chunks of its own, loaded when asked for. dist/app/bin is as deep as
// dist/src/bin, so the paths the code finds from its own place
// (../bin/ns-exec.js, ../../../package.json) are the same in both.
import { build } from 'esbuild';
import { rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
rmSync(`${root}/dist/app`, { recursive: true, force: true });
await build({
  entryPoints: ['kopiatomic', 'restomic', 'ns-exec', 'verify-compare'].map((n) => `${root}/dist/src/bin/${n}.js`),
  outdir: `${root}/dist/app/bin`,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  logLevel: 'warning',
});
