// `npm run package`: dist/pkg/kopiatomic-VERSION.tgz (npm pack) and
// dist/pkg/kopiatomic_VERSION_all.deb (dpkg-deb, offline), from a built tree.
// What the .deb holds is scripts/package-layout.js. `--list` prints the paths
// the .deb installs, one a line, and builds nothing; `--deb DIR` builds only
// the .deb, into DIR (the tests: no npm needed).
//
// No systemd unit is shipped: the units are per configuration file and per
// job (the config's path, the job's OnCalendar, node's and the program's
// absolute paths are written into them), so `kopiatomic schedule install`
// writes them into /etc/systemd/system, where they are the admin's
// configuration, and `schedule remove` deletes them. A static unit in
// /usr/lib/systemd/system would be shadowed by those, or would run a config
// nobody wrote.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { isExecutable, layout, missing, runtimeModules } from './package-layout.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));

if (process.argv[2] === '--list') {
  for (const e of layout(root)) console.log(e.path);
  process.exit(0);
}

const absent = missing(root);
if (absent.length > 0) {
  console.error(`npm run package: these built files are missing (the build generates the man pages and completions):\n${absent.map((f) => `  ${f}`).join('\n')}`);
  process.exit(1);
}

// Directories 0755 and files 0644 or 0755 whatever the caller's umask.
process.umask(0o022);
const debOnly = process.argv[2] === '--deb';
const out = debOnly ? process.argv[3] : join(root, 'dist/pkg');
if (!out) throw new Error('usage: node scripts/package.js [--list | --deb DIR]');
if (!debOnly) rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });

// The npm tarball: what `npm install -g ./kopiatomic-VERSION.tgz` installs (already built: no scripts).
if (!debOnly) execFileSync('npm', ['pack', '--ignore-scripts', '--silent', '--pack-destination', out], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });

const texts = {
  // Only what the program reads at run time (its version), not the build's scripts.
  'package.json': `${JSON.stringify({ name: pkg.name, version: pkg.version, description: pkg.description, license: pkg.license, type: pkg.type, homepage: pkg.homepage }, null, 2)}\n`,
  copyright: copyright(),
};

const stage = mkdtempSync(join(tmpdir(), 'kopiatomic-deb-'));
chmodSync(stage, 0o755); // the package's "./", which dpkg-deb records
try {
  for (const e of layout(root)) {
    const dest = join(stage, e.path);
    mkdirSync(dirname(dest), { recursive: true });
    if (e.link) symlinkSync(e.link, dest);
    else if (e.text) writeFileSync(dest, texts[e.text]);
    else if (e.gzip) writeFileSync(dest, gzipSync(readFileSync(join(root, e.from)), { level: 9 }));
    else copyFileSync(join(root, e.from), dest);
    if (!e.link) chmodSync(dest, e.from && isExecutable(root, e.from) ? 0o755 : 0o644);
  }
  const installedKiB = duKiB(stage);
  mkdirSync(join(stage, 'DEBIAN'));
  writeFileSync(join(stage, 'DEBIAN/control'), control(installedKiB));
  // What `dpkg --verify` and debsums check the installed files against.
  writeFileSync(join(stage, 'DEBIAN/md5sums'), layout(root).filter((e) => !e.link).map((e) => `${md5(join(stage, e.path))}  ${e.path.slice(1)}\n`).join(''));
  const deb = join(out, `${pkg.name}_${pkg.version}_all.deb`);
  execFileSync('dpkg-deb', ['--root-owner-group', '--build', stage, deb], { stdio: ['ignore', 'ignore', 'inherit'] });
  for (const f of [...(debOnly ? [] : [`${pkg.name}-${pkg.version}.tgz`]), `${pkg.name}_${pkg.version}_all.deb`]) {
    console.log(`${join(out, f)} (${Math.round(statSync(join(out, f)).size / 1024)} KiB)`);
  }
} finally {
  rmSync(stage, { recursive: true, force: true });
}

function md5(file) {
  return createHash('md5').update(readFileSync(file)).digest('hex');
}

function duKiB(dir) {
  return Number(execFileSync('du', ['-sk', '--apparent-size', dir], { encoding: 'utf8' }).split('\t')[0]);
}

function control(installedKiB) {
  return `Package: ${pkg.name}
Version: ${pkg.version}
Architecture: all
Maintainer: The kopiatomic developers <kopiatomic@users.noreply.github.com>
Installed-Size: ${installedKiB}
Depends: nodejs (>= 20)
Recommends: zfsutils-linux, restic | kopia
Section: admin
Priority: optional
Homepage: ${pkg.homepage}
Description: atomic backups of ZFS datasets with kopia, restic or any command
 kopiatomic takes one ZFS snapshot per pool of every dataset of a job, mounts
 the snapshots read-only in one tree and runs kopia, restic or any command on
 that frozen tree; then it removes every snapshot and mount it made.
 .
 Schedule a configuration's jobs with \`kopiatomic schedule install\`, which
 writes the systemd units to /etc/systemd/system.
`;
}

function copyright() {
  const license = readFileSync(join(root, 'LICENSE'), 'utf8');
  const body = license.slice(license.indexOf('\n\n') + 2).trimEnd().split('\n').map((l) => (l.trim() ? ` ${l}` : ' .')).join('\n');
  const mods = runtimeModules(root).map((m) => {
    const p = JSON.parse(readFileSync(join(root, 'node_modules', m, 'package.json'), 'utf8'));
    return `\nFiles: usr/lib/kopiatomic/node_modules/${m}/*\nComment: ${m} ${p.version}; see its LICENSE file in that directory.\nLicense: ${p.license}\n`;
  });
  // The configuration's libraries are bundled into dist/app/lib/config-libs.js
  // (scripts/bundle.js): their notices go with them.
  const bundled = ['smol-toml', 'zod'].map((m) => {
    const p = JSON.parse(readFileSync(join(root, 'node_modules', m, 'package.json'), 'utf8'));
    const text = readFileSync(join(root, 'node_modules', m, 'LICENSE'), 'utf8').trimEnd().split('\n').map((l) => (l.trim() ? ` ${l}` : ' .')).join('\n');
    return `\nComment: ${m} ${p.version} (${p.license}), bundled:\n${text}`;
  });
  return `Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: ${pkg.name}
Source: ${pkg.homepage}

Files: *
Copyright: 2026, the kopiatomic developers
License: BSD-2-Clause
${mods.join('')}
Files: usr/lib/kopiatomic/dist/app/lib/config-libs.js*
Copyright: the authors of smol-toml and zod
License: BSD-3-Clause and MIT${bundled.join('')}

License: BSD-2-Clause
${body}
`;
}
