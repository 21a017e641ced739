// What the system package installs, and from where: one list for the .deb
// (scripts/package.js) and for the check of the FreeBSD port's pkg-plist
// (test/unit/package-layout.test.ts), so the two cannot differ.
//
// The program lives under /usr/lib/kopiatomic with the same relative layout
// as the npm package (package.json for the version, dist/app/bin for the
// bundles, node_modules for the packages the bundles still require), since the
// code finds its own files relative to its place. The man pages and
// completions are generated at build into dist/man and dist/completions.
import { builtinModules } from 'node:module';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

export const LIB = '/usr/lib/kopiatomic';

/** The generated reference: [built file under the root, installed path, gzip it]. */
export const GENERATED = [
  ['dist/man/kopiatomic.8', '/usr/share/man/man8/kopiatomic.8.gz', true],
  ['dist/man/restomic.8', '/usr/share/man/man8/restomic.8.gz', true],
  ['dist/man/kopiatomic.toml.5', '/usr/share/man/man5/kopiatomic.toml.5.gz', true],
  ['dist/completions/kopiatomic.bash', '/usr/share/bash-completion/completions/kopiatomic', false],
  ['dist/completions/_kopiatomic', '/usr/share/zsh/vendor-completions/_kopiatomic', false],
  ['dist/completions/kopiatomic.fish', '/usr/share/fish/vendor_completions.d/kopiatomic.fish', false],
];

/** The packages a bundle loads from node_modules (require of a name that is not built in). */
export function runtimeModules(root) {
  const builtin = new Set(builtinModules);
  const names = new Set();
  const bin = join(root, 'dist/app/bin');
  for (const f of readdirSync(bin)) {
    for (const m of readFileSync(join(bin, f), 'utf8').matchAll(/\brequire\("([^"./][^"]*)"\)/g)) {
      const n = m[1].startsWith('node:') ? null : m[1].startsWith('@') ? m[1].split('/').slice(0, 2).join('/') : m[1].split('/')[0];
      if (n && !builtin.has(n)) names.add(n);
    }
  }
  // and what those depend on
  const all = new Set();
  const visit = (n) => {
    if (all.has(n)) return;
    all.add(n);
    const pj = join(root, 'node_modules', n, 'package.json');
    if (!existsSync(pj)) throw new Error(`the bundles require ${n}, which is not in node_modules (run npm ci)`);
    for (const d of Object.keys(JSON.parse(readFileSync(pj, 'utf8')).dependencies ?? {})) visit(d);
  };
  [...names].sort().forEach(visit);
  return [...all].sort();
}

function filesUnder(dir) {
  const out = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...filesUnder(p));
    else if (e.isFile()) out.push(p);
  }
  return out.sort();
}

/**
 * Every file the package installs: { path, from } (a file of the root), { path, gzip, from },
 * { path, link } (a symbolic link) or { path, text } (written by the package script).
 * Needs a built tree (dist/app); the generated reference is named whether it exists or not.
 */
export function layout(root) {
  if (!existsSync(join(root, 'dist/app/bin/kopiatomic.js'))) throw new Error('dist/app is missing: run npm run build first');
  const entries = [{ path: `${LIB}/package.json`, text: 'package.json' }];
  for (const f of filesUnder(join(root, 'dist/app'))) entries.push({ path: `${LIB}/${relative(root, f)}`, from: relative(root, f) });
  for (const m of runtimeModules(root)) {
    for (const f of filesUnder(join(root, 'node_modules', m))) entries.push({ path: `${LIB}/${relative(root, f)}`, from: relative(root, f) });
  }
  for (const name of ['kopiatomic', 'restomic']) entries.push({ path: `/usr/sbin/${name}`, link: `../lib/kopiatomic/dist/app/bin/${name}.js` });
  for (const [from, path, gzip] of GENERATED) entries.push({ path, from, gzip });
  // bash-completion loads a command's completion by the command's name; without
  // a restomic file of its own, the kopiatomic one (which completes both) serves it.
  entries.push(existsSync(join(root, 'dist/completions/restomic.bash'))
    ? { path: '/usr/share/bash-completion/completions/restomic', from: 'dist/completions/restomic.bash' }
    : { path: '/usr/share/bash-completion/completions/restomic', link: 'kopiatomic' });
  entries.push({ path: '/usr/share/doc/kopiatomic/examples/kopiatomic.toml', from: 'contrib/kopiatomic.toml' });
  entries.push({ path: '/usr/share/doc/kopiatomic/copyright', text: 'copyright' });
  // Debian policy: a native package's changelog, in the Debian format (dpkg-parsechangelog reads it).
  entries.push({ path: '/usr/share/doc/kopiatomic/changelog.gz', from: 'contrib/debian/changelog', gzip: true });
  entries.push({ path: '/usr/share/doc/kopiatomic/README.md', from: 'README.md' });
  return entries.sort((a, b) => (a.path < b.path ? -1 : 1));
}

/** The built files the package needs that do not exist (the generated reference before it is built). */
export function missing(root) {
  return layout(root).filter((e) => e.from && !existsSync(join(root, e.from))).map((e) => e.from);
}

export const isExecutable = (root, from) => (statSync(join(root, from)).mode & 0o111) !== 0;
