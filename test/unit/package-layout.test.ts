// The system packages cannot drift from each other or from the program: the
// FreeBSD port's pkg-plist is the Debian package's file list moved to
// /usr/local, the port fetches exactly the node modules the bundles require,
// its periodic script is the one `schedule install` writes, the example
// configuration loads, and (where dpkg-deb and man exist) the .deb holds
// what the layout says and its man pages render without a warning.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, lstatSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { KOPIATOMIC } from '../../src/config/job.js';
import { loadConfig } from '../../src/config/load.js';
import { resolveJobs } from '../../src/config/resolve.js';
import { periodicScript } from '../../src/ops/units/periodic.js';
import { ROOT_DIR } from './paths.js';

interface Entry { path: string; from?: string; link?: string; text?: string; gzip?: boolean }
interface Layout {
  layout(root: string): Entry[];
  runtimeModules(root: string): string[];
  missing(root: string): string[];
}
const L = (await import(pathToFileURL(join(ROOT_DIR, 'scripts/package-layout.js')).href)) as Layout;
const FREEBSD = join(ROOT_DIR, 'contrib/freebsd');
const PREFIX = '/usr/local';

/** Where a file the .deb installs goes in the FreeBSD port (relative to its prefix), or null where the ports framework has its own way. */
function freebsdPath(p: string): string | null {
  // LICENSE_FILE: the ports framework installs the licence itself.
  if (p === '/usr/share/doc/kopiatomic/copyright') return null;
  // Debian's own file: a port keeps its history in the ports tree.
  if (p === '/usr/share/doc/kopiatomic/changelog.gz') return null;
  const moves: [RegExp, string][] = [
    [/^\/usr\/share\/doc\/kopiatomic\/examples\//, '%%PORTEXAMPLES%%%%EXAMPLESDIR%%/'],
    [/^\/usr\/share\/doc\/kopiatomic\//, '%%PORTDOCS%%%%DOCSDIR%%/'],
    [/^\/usr\/share\/zsh\/vendor-completions\//, 'share/zsh/site-functions/'],
    [/^\/usr\//, ''],
  ];
  for (const [re, to] of moves) {
    if (re.test(p)) return p.replace(re, to);
  }
  throw new Error(`not below /usr: ${p}`);
}

const plist = () => readFileSync(join(FREEBSD, 'pkg-plist'), 'utf8').split('\n').filter((l) => l && !l.startsWith('@comment'));

test("the FreeBSD pkg-plist is the .deb's file list under /usr/local, plus the periodic script", () => {
  const fromDeb = L.layout(ROOT_DIR)
    .map((e) => e.path)
    .map(freebsdPath)
    .filter((p): p is string => p !== null);
  assert.deepEqual(plist().sort(), [...fromDeb, 'etc/periodic/daily/900.kopiatomic'].sort());
});

test('the port needs no node module at run time (the bundles carry theirs) and fetches the release it names', () => {
  const mk = readFileSync(join(FREEBSD, 'Makefile'), 'utf8');
  assert.deepEqual(L.runtimeModules(ROOT_DIR), []);
  assert.match(mk, /^DISTFILES=\s*\$\{PORTNAME\}-\$\{DISTVERSION\}\.tgz$/m);
  const version = (JSON.parse(readFileSync(join(ROOT_DIR, 'package.json'), 'utf8')) as { version: string }).version;
  assert.match(mk, new RegExp(`^DISTVERSION=\\s*${version.replace(/\./g, '\\.')}$`, 'm'));
});

test('the periodic script of the port is the one schedule install writes for the default config', () => {
  const want = periodicScript({
    node: `${PREFIX}/bin/node`,
    script: `${PREFIX}/lib/kopiatomic/dist/app/bin/kopiatomic.js`,
    config: `${PREFIX}/etc/kopiatomic/kopiatomic.toml`,
    jobs: [],
  });
  assert.equal(readFileSync(join(FREEBSD, 'files/900.kopiatomic'), 'utf8'), want);
});

test('the example configuration the packages install is a valid configuration', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kopiatomic-example-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const f = join(dir, 'kopiatomic.toml');
  copyFileSync(join(ROOT_DIR, 'contrib/kopiatomic.toml'), f);
  chmodSync(f, 0o600);
  const jobs = resolveJobs(loadConfig(f), [], { flavour: KOPIATOMIC, readEnvFiles: false });
  assert.ok(jobs.length > 0);
});

const has = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;

test('the .deb holds what the layout says, its links resolve and its man pages render without a warning', (t) => {
  if (!has('dpkg-deb') || !has('man')) return t.skip('needs dpkg-deb and man');
  const absent = L.missing(ROOT_DIR);
  if (absent.length > 0) return t.skip(`the build has not generated ${absent.join(', ')}`);
  const dir = mkdtempSync(join(tmpdir(), 'kopiatomic-deb-test-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  execFileSync(process.execPath, [join(ROOT_DIR, 'scripts/package.js'), '--deb', join(dir, 'out')], { stdio: 'ignore' });
  const deb = join(dir, 'out', readdirSync(join(dir, 'out'))[0]!);
  const listed = execFileSync('dpkg-deb', ['-c', deb], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 })
    .split('\n')
    .filter((l) => l && !l.startsWith('d'))
    .map((l) => / \.(\/\S+)/.exec(l)![1]!);
  assert.deepEqual(listed.sort(), L.layout(ROOT_DIR).map((e) => e.path).sort());
  const x = join(dir, 'x');
  execFileSync('dpkg-deb', ['-x', deb, x]);
  for (const p of ['/usr/sbin/kopiatomic', '/usr/sbin/restomic', '/usr/share/bash-completion/completions/restomic']) {
    assert.ok(lstatSync(join(x, p)).isSymbolicLink() || !p.startsWith('/usr/sbin'), p);
    assert.ok(existsSync(join(x, p)), `${p} resolves inside the package`);
  }
  for (const [section, page] of [['8', 'kopiatomic'], ['8', 'restomic'], ['5', 'kopiatomic.toml']] as const) {
    const r = spawnSync('man', ['--warnings', '-M', join(x, 'usr/share/man'), '-P', 'cat', section, page], { encoding: 'utf8', env: { ...process.env, MANWIDTH: '80', LANG: 'C.UTF-8' } });
    assert.equal(r.status, 0, `man ${section} ${page}: ${r.stderr}`);
    assert.equal(r.stderr, '', `man ${section} ${page} warns`);
    assert.match(r.stdout, new RegExp(page.replace('.', '\\.')));
  }
  // The changelog is Debian's format and names this version; md5sums match the files.
  const version = (JSON.parse(readFileSync(join(ROOT_DIR, 'package.json'), 'utf8')) as { version: string }).version;
  const changelog = join(dir, 'changelog');
  writeFileSync(changelog, gunzipSync(readFileSync(join(x, 'usr/share/doc/kopiatomic/changelog.gz'))));
  if (has('dpkg-parsechangelog')) {
    assert.equal(execFileSync('dpkg-parsechangelog', ['-l', changelog, '-S', 'Version'], { encoding: 'utf8' }).trim(), version, 'the changelog\'s first entry is this version');
  }
  assert.match(readFileSync(changelog, 'utf8'), new RegExp(`^kopiatomic \\(${version.replace(/\./g, '\\.')}\\) `));
  execFileSync('dpkg-deb', ['-e', deb, join(dir, 'control')]);
  const sums = spawnSync('md5sum', ['--check', '--quiet', join(dir, 'control/md5sums')], { cwd: x, encoding: 'utf8' });
  assert.equal(sums.status, 0, sums.stdout + sums.stderr);
  assert.equal(readFileSync(join(dir, 'control/md5sums'), 'utf8').split('\n').filter(Boolean).length, L.layout(ROOT_DIR).filter((e) => !e.link).length, 'one sum per file');
});

test("lintian finds no error and no warning in the .deb (its pedantic notes are Debian's naming taste)", (t) => {
  if (!has('lintian') || !has('dpkg-deb')) return t.skip('needs lintian (apt-get install lintian) and dpkg-deb');
  if (L.missing(ROOT_DIR).length > 0) return t.skip('the build has not generated the reference');
  const dir = mkdtempSync(join(tmpdir(), 'kopiatomic-lintian-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  execFileSync(process.execPath, [join(ROOT_DIR, 'scripts/package.js'), '--deb', dir], { stdio: 'ignore' });
  const deb = join(dir, readdirSync(dir).find((f) => f.endsWith('.deb'))!);
  const r = spawnSync('lintian', ['--fail-on', 'error,warning', '--no-tag-display-limit', deb], { encoding: 'utf8', timeout: 120_000 });
  assert.equal(r.status, 0, `lintian: ${r.stdout}${r.stderr}`);
  assert.doesNotMatch(r.stdout, /^[EW]: /m, r.stdout);
});
