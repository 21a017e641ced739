// Where root may write, against the real file system: directories another
// account owns (chown nobody) or can write to (0777, 1777, 0775), symlinks
// planted at every name the old writer used, FIFOs and hard links. The target
// of every planted link must come out untouched. Needs root for chown: as
// another user the tests that need it are skipped.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, chownSync, linkSync, lchownSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { checkMountRoot } from '../../src/cli/backup.js';
import { SetupError } from '../../src/core/errors.js';
import { writeMetrics } from '../../src/ops/metrics.js';
import { buildRunRecord } from '../../src/ops/run-record.js';
import { recordRun } from '../../src/ops/status-file.js';
import { Journal, writeKnown } from '../../src/safety/journal.js';
import { Lock } from '../../src/safety/lock.js';
import { mountRootProblem } from '../../src/safety/recover.js';
import { readRootFile, writeRootFile } from '../../src/safety/root-file.js';
import { checkRootPath, ensureRootDir } from '../../src/safety/root-path.js';
import { privateFolder } from '../../src/verify/space.js';
import { quietReporter } from './helpers.js';

const NOBODY = 65534;
const asRoot = process.getuid?.() === 0;
const needsRoot = asRoot ? {} : { skip: 'needs root (chown)' };

function base(t: { after: (f: () => void) => void }): string {
  const d = mkdtempSync(`${tmpdir()}/kt-rootpath-`);
  chmodSync(d, 0o755);
  t.after(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

/** A directory owned by nobody (mode 0755): node_exporter's textfile directory, or a user's home. */
function userDir(path: string, mode = 0o755): string {
  mkdirSync(path, { mode });
  chmodSync(path, mode);
  chownSync(path, NOBODY, NOBODY);
  return path;
}

const record = (job = 'a') => buildRunRecord({ job, start: new Date(1e12), end: new Date(1e12 + 5000), status: 'ok', exitCode: 0 });

/** A file that must never change, and the check that it did not. */
function precious(dir: string): { path: string; intact(): void } {
  const path = `${dir}/precious`;
  writeFileSync(path, 'precious\n', { mode: 0o600 });
  return { path, intact: () => assert.equal(readFileSync(path, 'utf8'), 'precious\n', `${path} is untouched`) };
}

test('checkRootPath: root-owned, closed directories pass; another owner, 0777, 0775 or a sticky entry of another account anywhere on the way are refused, with what to change', needsRoot, (t) => {
  const b = base(t);
  mkdirSync(`${b}/safe/deep`, { recursive: true, mode: 0o755 });
  assert.equal(checkRootPath(`${b}/safe/deep/file`, { what: 'state file' }).problem, null);
  assert.equal(checkRootPath(`${b}/safe/missing/x`, { what: 'x' }).missing, `${b}/safe/missing`);

  userDir(`${b}/home`);
  mkdirSync(`${b}/home/tree`, { mode: 0o700 }); // root's, but inside a user's directory
  const p = checkRootPath(`${b}/home/tree`, { what: 'mount root' }).problem!;
  assert.match(p, new RegExp(`^mount root ${b}/home/tree: ${b}/home is owned by uid ${NOBODY}`));
  assert.match(p, /owned by root and not writable by group or others/, 'the message says what to change');

  for (const [name, mode, re] of [
    ['open', 0o777, /open is writable by others \(mode 0777\)/],
    ['group', 0o775, /group is writable by its group \(mode 0775\)/],
  ] as const) {
    mkdirSync(`${b}/${name}`);
    chmodSync(`${b}/${name}`, mode);
    mkdirSync(`${b}/${name}/x`, { mode: 0o700 });
    assert.match(checkRootPath(`${b}/${name}/x/y`, { what: 'w' }).problem!, re);
    assert.match(checkRootPath(`${b}/${name}`, { what: 'w' }).problem!, re, 'the directory itself too');
  }

  // A sticky directory (like /tmp): crossed into entries root owns, never into another account's.
  mkdirSync(`${b}/tmp`);
  chmodSync(`${b}/tmp`, 0o1777);
  mkdirSync(`${b}/tmp/root-owned`, { mode: 0o700 });
  assert.equal(checkRootPath(`${b}/tmp/root-owned/f`, { what: 'f' }).problem, null);
  userDir(`${b}/tmp/users`, 0o700);
  assert.match(checkRootPath(`${b}/tmp/users/f`, { what: 'f' }).problem!, /users is owned by uid 65534 in the sticky directory/);
  assert.match(checkRootPath(`${b}/tmp`, { what: 'state directory' }).problem!, /writable by others \(mode 1777\)/, 'a sticky directory itself is no place for our files');
  assert.equal(checkRootPath(`${b}/tmp`, { what: 'verification directory', stickyDir: true }).problem, null, 'except for a new directory of our own (mkdtemp)');
});

test('checkRootPath: a symlink is followed only when root owns it, and then its target is walked from the start', needsRoot, (t) => {
  const b = base(t);
  mkdirSync(`${b}/run/kopia`, { recursive: true, mode: 0o755 });
  symlinkSync(`${b}/run`, `${b}/varrun`); // like /var/run -> /run
  const c = checkRootPath(`${b}/varrun/kopia/x.lock`, { what: 'lock file' });
  assert.equal(c.problem, null);
  assert.equal(c.real, `${b}/run/kopia/x.lock`);
  symlinkSync('../run/kopia', `${b}/run/rel`);
  assert.equal(checkRootPath(`${b}/run/rel/x`, { what: 'x' }).real, `${b}/run/kopia/x`, 'a relative link is resolved where it is');

  userDir(`${b}/u`);
  mkdirSync(`${b}/u/target`, { mode: 0o755 });
  symlinkSync(`${b}/u/target`, `${b}/to-user`); // root's link, into a user's directory
  assert.match(checkRootPath(`${b}/to-user/x`, { what: 'x' }).problem!, /\/u is owned by uid 65534/);

  symlinkSync(`${b}/run`, `${b}/users-link`);
  lchownSync(`${b}/users-link`, NOBODY, NOBODY);
  assert.match(checkRootPath(`${b}/users-link/x`, { what: 'x' }).problem!, /is a symbolic link owned by uid 65534/);
  assert.match(checkRootPath(`${b}/varrun`, { what: 'mount root', noFinalLink: true }).problem!, /is a symbolic link/);
});

test('ensureRootDir: makes each missing directory itself; a link planted at the name in a sticky directory is never used', needsRoot, (t) => {
  const b = base(t);
  mkdirSync(`${b}/tmp`);
  chmodSync(`${b}/tmp`, 0o1777);
  assert.equal(ensureRootDir(`${b}/tmp/state/deeper`, 'state directory'), `${b}/tmp/state/deeper`);
  assert.equal(lstatSync(`${b}/tmp/state/deeper`).mode & 0o7777, 0o700);
  const elsewhere = `${b}/elsewhere`;
  mkdirSync(elsewhere);
  symlinkSync(elsewhere, `${b}/tmp/planted`);
  lchownSync(`${b}/tmp/planted`, NOBODY, NOBODY);
  assert.throws(() => ensureRootDir(`${b}/tmp/planted/state`, 'state directory'), (e: unknown) => e instanceof SetupError && /planted is a symbolic link owned by uid 65534/.test(e.message));
  assert.deepEqual(readdirSync(elsewhere), [], 'nothing was made through the link');
});

test('writeRootFile in a safe directory: a random O_EXCL temp file, renamed; links planted at the old temp name are never followed', needsRoot, (t) => {
  const b = base(t);
  mkdirSync(`${b}/lib`, { mode: 0o755 });
  const keep = precious(b);
  // The old writer's name: .NAME.PID.tmp, opened without O_EXCL|O_NOFOLLOW.
  symlinkSync(keep.path, `${b}/lib/.status.json.${process.pid}.tmp`);
  writeRootFile(`${b}/lib/status.json`, '{"version":1}\n', 0o644, { what: 'status file' });
  keep.intact();
  assert.equal(readFileSync(`${b}/lib/status.json`, 'utf8'), '{"version":1}\n');
  assert.equal(lstatSync(`${b}/lib/status.json`).mode & 0o7777, 0o644);
  assert.deepEqual(readdirSync(`${b}/lib`).sort(), [`.status.json.${process.pid}.tmp`, 'status.json'], 'no temp file is left');
});

test('the metrics and status files in a directory another account owns: written without following any name there; everything planted stays untouched', needsRoot, async (t) => {
  const b = base(t);
  const keep = precious(b);
  const dir = userDir(`${b}/textfile`); // node_exporter's textfile directory, owned by its account
  const metrics = `${dir}/kopiatomic.prom`;
  const status = `${dir}/status.json`;
  // Every name the old code would have used, and the final names, as links to the precious file.
  for (const f of [metrics, status, `${metrics}.${process.pid}.tmp`, `${dir}/.kopiatomic.prom.${process.pid}.tmp`, `${dir}/.status.json.${process.pid}.tmp`]) {
    symlinkSync(keep.path, f);
    lchownSync(f, NOBODY, NOBODY);
  }
  await writeMetrics(metrics, record());
  await recordRun(status, record());
  keep.intact();
  for (const f of [metrics, status]) {
    const st = lstatSync(f);
    assert.ok(st.isFile() && st.uid === 0, `${f} is now root's own file, the link replaced`);
  }
  assert.match(readFileSync(metrics, 'utf8'), /kopiatomic_last_run_success\{job="a",host="[^"]+"\} 1/);
  assert.equal(JSON.parse(readFileSync(status, 'utf8')).jobs.a.status, 'ok');

  // A hard link to a root file and a FIFO at the final names: not read (no hang), not written through.
  rmSync(metrics);
  linkSync(keep.path, metrics);
  rmSync(status);
  execFileSync('mkfifo', [status]);
  await writeMetrics(metrics, record('b'));
  await recordRun(status, record('b'));
  keep.intact();
  assert.doesNotMatch(readFileSync(metrics, 'utf8'), /precious/);
  assert.doesNotMatch(readFileSync(metrics, 'utf8'), /job="a"/, 'the hard link was not read as the old metrics');
  assert.ok(lstatSync(status).isFile());
  assert.equal(readRootFile(keep.path), 'precious\n', 'a plain root file is read');
});

test('a directory another account owns is refused for every other file root writes, with what to change', needsRoot, async (t) => {
  const b = base(t);
  const keep = precious(b);
  const dir = userDir(`${b}/u`);
  symlinkSync(keep.path, `${dir}/unit.service`);
  assert.throws(() => writeRootFile(`${dir}/unit.service`, 'x', 0o644, { what: 'unit file' }), (e: unknown) => e instanceof SetupError && /unit file .*u is owned by uid 65534.*chown root/.test(e.message));
  assert.throws(() => writeKnown(`${dir}/x.leftovers`, [{ what: 'w', reason: 'r', since: 's' }]), /owned by uid 65534/);
  assert.throws(() => new Journal(`${dir}/j/x.journal`, 'R'), /journal directory .*owned by uid 65534/);
  await assert.rejects(Lock.acquire(`${dir}/state`, '/kt', 'boot', 0, quietReporter().reporter), /state directory .*owned by uid 65534/);
  // Only the metrics and status files accept such a directory, and only as the file's own directory.
  await assert.rejects(writeMetrics(`${dir}/deeper/kopiatomic.prom`, record()), /owned by uid 65534/);
  keep.intact();
  assert.deepEqual(readdirSync(dir), ['unit.service']);
});

test('a mount root below a directory a user owns is refused before anything happens, and recovery touches nothing under it', needsRoot, (t) => {
  const b = base(t);
  userDir(`${b}/home`);
  mkdirSync(`${b}/home/tree`, { mode: 0o700 }); // root's own, empty: only its ancestor is wrong
  assert.throws(() => checkMountRoot(`${b}/home/tree`), (e: unknown) => e instanceof SetupError && e.message.includes(`${b}/home is owned by uid ${NOBODY}`));
  assert.throws(() => checkMountRoot(`${b}/home/absent`), /owned by uid 65534/, 'also when it does not exist yet');
  assert.match(mountRootProblem(`${b}/home/tree`)!, /owned by uid 65534/);
  mkdirSync(`${b}/ok`, { mode: 0o755 });
  mkdirSync(`${b}/ok/tree`, { mode: 0o700 });
  assert.equal(checkMountRoot(`${b}/ok/tree`), true);
  assert.equal(checkMountRoot(`${b}/ok/absent`), false);
  symlinkSync(`${b}/ok`, `${b}/ok-link`);
  assert.throws(() => checkMountRoot(`${b}/ok-link/tree`), /reached through a symbolic link: give its real path/);
});

test('the verification directory: a new private directory in a sticky place; a place another account can change is refused', needsRoot, (t) => {
  const b = base(t);
  mkdirSync(`${b}/tmp`);
  chmodSync(`${b}/tmp`, 0o1777);
  const d = privateFolder(`${b}/tmp`, '20260101T000000Z-1-abcdef');
  assert.equal(lstatSync(d).mode & 0o7777, 0o700);
  mkdirSync(`${b}/open`);
  chmodSync(`${b}/open`, 0o777);
  assert.throws(() => privateFolder(`${b}/open`, '20260101T000000Z-1-abcdef'), /verification directory .*writable by others/);
  userDir(`${b}/u`);
  assert.throws(() => privateFolder(`${b}/u`, '20260101T000000Z-1-abcdef'), /owned by uid 65534/);
  assert.deepEqual(readdirSync(`${b}/open`), []);
});

test("inside a test file the machine's real state is refused", () => {
  const c = checkRootPath('/var/lib/kopiatomic/status.json', { what: 'status file' });
  // The refusal also fails this file on purpose; undo that for this one deliberate case.
  process.exitCode = 0;
  assert.match(c.problem!, /a test must not touch the machine's real state/);
});
