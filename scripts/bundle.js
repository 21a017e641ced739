// Bundles the compiled program (dist/src, from tsc) into dist/app/bin, what
// runs: one CommonJS file per program instead of some 70 ES modules. In the
// test guest's emulated CPU an ES module bundle made a run 0.4 s shorter, and
// CommonJS 0.25 s shorter again (node's ES module loader
// costs a resolve, URL and package.json lookups, and a link per file). The
// TOML parser and the schema library are bundled too, once, into
// dist/app/lib/config-libs.js, which the programs require only in the commands
// that read a configuration file: the installed program needs no node_modules
// (the schema library alone was 8 MB there, and some 250 files to load on
// every configuration-file run). dist/app/bin is as deep as dist/src/bin, so
// the paths the code finds from its own place (../bin/ns-exec.js,
// ../../../package.json) are the same in both. The two main programs are each
// a small start file (dist/app/bin/NAME.js) that runs NAME.code.js from V8's
// code cache (dist/app/lib/load-cached.js): compiling the bundle was most of
// the cost of loading it.
import { build } from 'esbuild';
import { chmodSync, copyFileSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
rmSync(`${root}/dist/app`, { recursive: true, force: true });
mkdirSync(`${root}/dist/app/bin`, { recursive: true });
// The .js files below dist/app are CommonJS (the package's own type is module).
writeFileSync(`${root}/dist/app/package.json`, '{ "type": "commonjs" }\n');

const LIBS = '../lib/config-libs.js';
// Both libraries' imports in the programs point at the one shared file.
const libsExternal = {
  name: 'config-libs',
  setup(b) {
    b.onResolve({ filter: /^(zod|smol-toml)$/ }, () => ({ path: LIBS, external: true }));
  },
};
// The schema library's error messages in some 40 languages, of which only
// English is used (it is the library's default): the rest are left out.
const englishOnly = {
  name: 'english-only',
  setup(b) {
    b.onResolve({ filter: /\/locales\/index\.js$/ }, (a) => (a.importer.includes('/node_modules/zod/') ? { path: 'zod-locales', namespace: 'english-only' } : undefined));
    b.onLoad({ filter: /.*/, namespace: 'english-only' }, () => ({ contents: "export { default as en } from 'zod/v4/locales/en.js';", resolveDir: root }));
  },
};

await build({
  stdin: { contents: "export { z } from 'zod';\nexport { parse, TomlError } from 'smol-toml';\n", resolveDir: root, loader: 'js' },
  outfile: `${root}/dist/app/lib/config-libs.js`,
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  // Smaller to read and compile; the names are kept for readable stack traces.
  minify: true,
  keepNames: true,
  legalComments: 'eof',
  plugins: [englishOnly],
  logLevel: 'warning',
});
for (const name of ['kopiatomic', 'restomic', 'ns-exec', 'verify-compare']) {
  await build({
    entryPoints: [`${root}/dist/src/bin/${name}.js`],
    outfile: `${root}/dist/app/bin/${name}.js`,
    bundle: true,
    format: 'cjs',
    platform: 'node',
    target: 'node20',
    plugins: [libsExternal],
    // import.meta.url, where the code finds its own place, from the bundle's file name.
    define: { 'import.meta.url': 'importMetaUrl' },
    inject: [`${root}/scripts/import-meta-url.js`],
    logLevel: 'warning',
  });
}

// The start files, and the code caches, made with this node (a cache is
// checked against node's version and flags when it is read).
mkdirSync(`${root}/dist/app/lib`, { recursive: true });
copyFileSync(`${root}/scripts/load-cached.cjs`, `${root}/dist/app/lib/load-cached.js`);
const { cacheData, warmCacheData } = createRequire(import.meta.url)(`${root}/dist/app/lib/load-cached.js`);
for (const name of ['kopiatomic', 'restomic']) {
  const bin = `${root}/dist/app/bin/${name}.js`;
  const code = `${root}/dist/app/bin/${name}.code.js`;
  renameSync(bin, code);
  writeFileSync(bin, `#!/usr/bin/env node\n'use strict';\nrequire('../lib/load-cached.js').load(require('node:path').join(__dirname, '${name}.code.js'));\n`);
  chmodSync(bin, 0o755);
  writeFileSync(`${code}.v8`, cacheData(code));
}
// The configuration libraries' cache is made after they parsed and checked
// the example configuration with a schema of the same kinds of parts as the
// program's (objects, records, unions, refinements, every error path): most
// of what a configuration-file run costs more than a flag run was compiling
// those functions at each start.
const libs = `${root}/dist/app/lib/config-libs.js`;
writeFileSync(`${libs}.v8`, warmCacheData(libs, ({ z, parse, TomlError }) => {
  const doc = parse(readFileSync(`${root}/contrib/kopiatomic.toml`, 'utf8'));
  try {
    parse('[jobs.x]\nengine = \n');
  } catch (e) {
    if (!(e instanceof TomlError)) throw e;
  }
  const duration = z.union([z.number().int().min(0), z.string().refine((v) => /^\d/.test(v), 'a duration')]);
  const job = z.strictObject({
    engine: z.enum(['kopia', 'restic', 'command']).optional().meta({ description: 'engine' }),
    datasets: z.array(z.string()).optional(),
    recursive: z.boolean().optional(),
    max_age: duration.optional(),
    env: z.record(z.string(), z.string()).optional(),
  }).passthrough();
  const config = z.strictObject({ defaults: job.optional(), jobs: z.record(z.string().regex(/^[a-z][a-z0-9_-]*$/), job) }).passthrough();
  config.safeParse(doc);
  const bad = config.safeParse({ jobs: { 'a b': { engine: 'restik', datasets: [1], recursive: 'yes', max_age: -1, env: { A: 2 } } }, extra: 1 });
  if (bad.success) throw new Error('the warm-up schema accepted a bad configuration');
  z.treeifyError?.(bad.error);
}));
// Which node made the caches (another one rejects them and compiles the source).
writeFileSync(`${root}/dist/app/lib/code-cache.json`, JSON.stringify({ node: process.version }) + '\n');
