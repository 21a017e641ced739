// The Debian package under a real systemd: `scripts/package.js --deb` builds
// the .deb from this tree on the host (as `npm run package` does), dpkg installs it, the
// installed program's `schedule install` writes units that point into
// /usr/lib/kopiatomic, `systemctl start` runs a configured job from them (the
// engine's argv logged by a wrapper on the unit's PATH, the backup in restic,
// no snapshot left in `zfs list`), the man pages and completions are where
// man and the shells look (`man kopiatomic` renders), and `dpkg -r` leaves
// only configuration and state (the root file system listed before the
// install and after the removal).
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { after, before, test } from 'node:test';
import { argvLogger, CLEAN, KOPIATOMIC, leftovers, Pool, restic, resticRepo, ROOT, scratchDir, zfs } from '../e2e/lib.js';
import { cmd, journal, rmAll, unitProps } from './systemd-lib.js';

const UNIT_DIR = '/etc/systemd/system';
const CONFIG_DIR = '/etc/kopiatomic-pkg';
const CONFIG = `${CONFIG_DIR}/pkg.toml`;
const JOB = 'pkgjob';
const ENV_FILE = `/etc/kopiatomic/${JOB}.env`;
const SERVICE = `kopiatomic.pkg@${JOB}.service`;
const MOUNT_ROOT = '/kt-pkg';
let pool: Pool;
let dir: string;
let deb: string;
let env: NodeJS.ProcessEnv;
let logger: ReturnType<typeof argvLogger>;
let before_: Set<string>;

/** Every path of the root file system but the places that change on their own (logs, dpkg's database, caches, scratch). */
function rootFiles(): Set<string> {
  const skip = ['/var/log', '/var/lib/dpkg', '/var/cache', '/var/tmp', '/tmp', '/root'];
  const out = execFileSync('find', ['/', '-xdev', '-print0'], { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  return new Set(out.split('\0').filter((p) => p && !skip.some((s) => p === s || p.startsWith(`${s}/`))));
}

const installed = () => execFileSync('dpkg-query', ['-W', '-f', '${Status}', 'kopiatomic'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
const isInstalled = () => {
  try {
    return installed() === 'install ok installed';
  } catch {
    return false;
  }
};

before(() => {
  pool = Pool.create(['data']);
  writeFileSync(pool.path('data/notes.txt'), 'hello from the package\n');
  dir = scratchDir('package');
  env = resticRepo();
  logger = argvLogger(dir, ['restic']);
  mkdirSync(CONFIG_DIR, { recursive: true });
  writeFileSync(
    CONFIG,
    `status_file = "${dir}/status.json"\n[jobs.${JOB}]\nengine = "restic"\ndatasets = ["${pool.ds('data')}"]\nmount_root = "${MOUNT_ROOT}"\nschedule = "*-*-* 04:10"\n`,
    { mode: 0o600 },
  );
  // The unit's PATH puts the argv logger before the real restic; the rest is the repository.
  mkdirSync('/etc/kopiatomic', { recursive: true });
  writeFileSync(ENV_FILE, Object.entries({ ...env, PATH: `${logger.bin}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin` }).map(([k, v]) => `${k}=${v}`).join('\n') + '\n', { mode: 0o600 });
  // The .deb of this tree, built on the host by test/vm/e2e-systemd.sh with the package script.
  const out = join(ROOT, process.env['KOPIATOMIC_E2E_DEB_DIR'] ?? 'dist/e2e-pkg-stable');
  const name = existsSync(out) ? readdirSync(out).find((f) => f.endsWith('_all.deb')) : undefined;
  assert.ok(name, `no .deb in ${out}: test/vm/e2e-systemd.sh builds it (node scripts/package.js --deb DIR, KOPIATOMIC_E2E_DEB_DIR)`);
  deb = join(out, name);
  before_ = rootFiles();
});

after(async () => {
  await cmd('systemctl', 'stop', SERVICE);
  // The package is gone by now: the tree's own program removes the units it wrote.
  await cmd(process.execPath, KOPIATOMIC, '--config', CONFIG, 'schedule', 'remove');
  if (isInstalled()) await cmd('dpkg', '--purge', 'kopiatomic');
  rmAll(CONFIG_DIR, ENV_FILE);
  pool.destroy();
});

test('dpkg installs the .deb: the program, its commands, man pages, completions, example, copyright and changelog', () => {
  const control = execFileSync('dpkg-deb', ['-f', deb, 'Depends'], { encoding: 'utf8' });
  assert.match(control, /^nodejs \(>= 20\)$/m);
  // --force-depends: Debian 12 ships Node 18 and the image has no nodejs
  // package at all; the rig puts Node 20 (the host's) at /usr/local/bin/node,
  // which dpkg cannot see. --path-include: the image is built with
  // path-exclude=/usr/share/man/* and /usr/share/doc/* (a smaller image),
  // which stay in /etc/dpkg/dpkg.cfg.d and would drop the very files under
  // test at dpkg -i; an include given after them on the command line wins,
  // and leaves the guest's own configuration as it was.
  execFileSync('dpkg', ['--force-depends', '--path-include=/usr/share/man/*', '--path-include=/usr/share/doc/kopiatomic/*', '-i', deb], { stdio: ['ignore', 'ignore', 'pipe'] });
  assert.equal(installed(), 'install ok installed');
  const files = execFileSync('dpkg', ['-L', 'kopiatomic'], { encoding: 'utf8' }).split('\n');
  for (const f of [
    '/usr/lib/kopiatomic/dist/app/bin/kopiatomic.js',
    '/usr/lib/kopiatomic/package.json',
    '/usr/sbin/kopiatomic',
    '/usr/sbin/restomic',
    '/usr/share/man/man8/kopiatomic.8.gz',
    '/usr/share/man/man8/restomic.8.gz',
    '/usr/share/man/man5/kopiatomic.toml.5.gz',
    '/usr/share/bash-completion/completions/kopiatomic',
    '/usr/share/bash-completion/completions/restomic',
    '/usr/share/zsh/vendor-completions/_kopiatomic',
    '/usr/share/fish/vendor_completions.d/kopiatomic.fish',
    '/usr/share/doc/kopiatomic/examples/kopiatomic.toml',
    '/usr/share/doc/kopiatomic/copyright',
    '/usr/share/doc/kopiatomic/changelog.gz',
  ]) {
    assert.ok(files.includes(f), `dpkg lists ${f}`);
    assert.ok(existsSync(f), `${f} is on disk (a link resolves)`);
  }
  assert.ok(lstatSync('/usr/sbin/kopiatomic').isSymbolicLink());
  // The pages man reads are the ones the build generated, byte for byte.
  for (const [page, built] of [['man8/kopiatomic.8.gz', 'kopiatomic.8'], ['man5/kopiatomic.toml.5.gz', 'kopiatomic.toml.5']] as const) {
    assert.equal(gunzipSync(readFileSync(`/usr/share/man/${page}`)).toString(), readFileSync(join(ROOT, 'dist/man', built), 'utf8'));
  }
  // And man (the image's man-db and groff) finds them by name and section,
  // as an admin types it, and renders them without a warning.
  for (const [section, page, heading] of [['8', 'kopiatomic', 'EXIT STATUS'], ['8', 'restomic', 'OPTIONS'], ['5', 'kopiatomic.toml', '[jobs.NAME]']] as const) {
    const r = spawnSync('man', ['--warnings', section, page], { encoding: 'utf8', env: { ...process.env, MANWIDTH: '80', MANPAGER: 'cat', PAGER: 'cat', LANG: 'C.UTF-8' } });
    assert.equal(r.status, 0, `man ${section} ${page}: exit ${r.status} ${r.stderr}`);
    assert.equal(r.stderr, '', `man ${section} ${page} warns: ${r.stderr}`);
    const text = r.stdout.replace(/.\x08/g, '');
    const head = text.slice(0, 400);
    assert.ok(/^NAME$/m.test(text), `man ${section} ${page}: no NAME section in ${head}`);
    // (justified: the words of the NAME line may be spaced out)
    assert.ok(new RegExp(`^ +${page.replace('.', '\\.')} +- +\\S`, 'm').test(text), `man ${section} ${page}: no NAME line in ${head}`);
    assert.ok(text.split('\n').some((l) => l === heading), `man ${section} ${page}: no ${heading} section`);
  }
  assert.match(readFileSync('/usr/share/doc/kopiatomic/copyright', 'utf8'), /^License: BSD-2-Clause$/m);
});

test("the installed program's schedule install writes units that run it from /usr/lib/kopiatomic", async () => {
  const r = await cmd('/usr/sbin/kopiatomic', '--config', CONFIG, 'schedule', 'install');
  assert.equal(r.code, 0, r.stderr);
  const exec = (await unitProps(SERVICE, 'ExecStart'))['ExecStart']!;
  assert.match(exec, /path=[^ ;]*node ; argv\[\]=[^ ;]*node \/usr\/lib\/kopiatomic\/dist\/app\/bin\/kopiatomic\.js --config \/etc\/kopiatomic-pkg\/pkg\.toml run --wait pkgjob/);
  assert.equal((await cmd('systemctl', 'is-enabled', `kopiatomic.pkg-${JOB}.timer`)).stdout.trim(), 'enabled');
});

test('systemctl start runs the configured job from the installed unit', async () => {
  logger.clear();
  const r = await cmd('systemctl', 'start', SERVICE);
  assert.equal(r.code, 0, `${r.stderr}\n${await journal(SERVICE)}`);
  assert.equal((await unitProps(SERVICE, 'Result'))['Result'], 'success');
  // restic was asked to back up the mount root, as the wrapper on the unit's PATH saw it.
  const backups = logger.logged().filter((a) => a.includes('backup'));
  assert.equal(backups.length, 1, JSON.stringify(logger.logged()));
  assert.ok(backups[0]!.includes(MOUNT_ROOT), backups[0]!.join(' '));
  assert.match(restic(env, 'ls', 'latest'), /notes\.txt/);
  // Nothing of the run is left: no snapshot in zfs list, no mount.
  assert.equal(zfs('list', '-H', '-t', 'snapshot', '-o', 'name', '-r', pool.name).trim(), '');
  assert.deepEqual(leftovers([pool], MOUNT_ROOT), CLEAN);
});

test('dpkg -r leaves only configuration and state', () => {
  execFileSync('dpkg', ['-r', 'kopiatomic'], { stdio: ['ignore', 'ignore', 'pipe'] });
  assert.equal(isInstalled(), false);
  const now = rootFiles();
  const added = [...now].filter((p) => !before_.has(p)).sort();
  const removed = [...before_].filter((p) => !now.has(p)).sort();
  assert.deepEqual(removed, [], 'nothing that was there before is gone');
  // Configuration: the units `schedule install` wrote (the admin's, in /etc).
  // State: the run's records, and systemd's timer stamp.
  const allowed = [/^\/etc\/systemd\/system\/(timers\.target\.wants\/)?kopiatomic\.pkg[-@]/, /^\/var\/lib\/kopiatomic(\/|$)/, /^\/var\/lib\/systemd\//, /^\/etc\/systemd\/system\/timers\.target\.wants$/];
  assert.deepEqual(added.filter((p) => !allowed.some((a) => a.test(p))), [], 'nothing else is added');
  assert.ok(added.some((p) => p.startsWith(`${UNIT_DIR}/kopiatomic.pkg@`)), 'the units are still there (configuration)');
  for (const p of ['/usr/lib/kopiatomic', '/usr/sbin/kopiatomic', '/usr/share/man/man8/kopiatomic.8.gz', '/usr/share/doc/kopiatomic']) assert.equal(existsSync(p), false, p);
});
