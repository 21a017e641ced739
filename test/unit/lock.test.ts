import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LockedError } from '../../src/core/errors.js';
import { EXIT } from '../../src/core/exit-status.js';
import { stateKey } from '../../src/core/paths.js';
import { Lock, ownerAlive, pidAlive, type LockOwner } from '../../src/safety/lock.js';
import { quietReporter } from './helpers.js';

const BOOT = 'boot-aaaa';

function stateDir(t: { after: (f: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'kopiatomic-lock-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return join(dir, 'state'); // not there yet: acquire creates it
}

/** The pid of a process that has exited. */
function deadPid(): number {
  const r = spawnSync('true');
  assert.ok(r.pid && r.pid > 0);
  return r.pid;
}

function writeOwner(dir: string, mountRoot: string, o: Partial<LockOwner>): string {
  const path = `${dir}/${stateKey(mountRoot)}.lock`;
  writeFileSync(path, JSON.stringify({ pid: 1, boot: BOOT, mountRoot, started: '2026-01-01T00:00:00.000Z', ...o }) + '\n');
  return path;
}

test('stateKey, pidAlive, ownerAlive', () => {
  assert.equal(stateKey('/kopia'), '%2Fkopia');
  assert.notEqual(stateKey('/a/b'), stateKey('/a%2Fb'));
  assert.equal(pidAlive(process.pid), true);
  assert.equal(pidAlive(deadPid()), false);
  assert.equal(ownerAlive({ pid: process.pid, boot: BOOT }, BOOT), true);
  assert.equal(ownerAlive({ pid: process.pid, boot: 'other' }, BOOT), false);
});

test('acquire: creates the state folder and a lock naming us; release removes it', async (t) => {
  const dir = stateDir(t);
  const { reporter } = quietReporter();
  const lock = await Lock.acquire(dir, '/kopia', BOOT, 0, reporter);
  assert.equal(lock.path, `${dir}/%2Fkopia.lock`);
  assert.equal(lock.tookOver, null);
  assert.equal(statSync(dir).mode & 0o777, 0o700);
  assert.equal(statSync(lock.path).mode & 0o777, 0o600);
  const owner = JSON.parse(readFileSync(lock.path, 'utf8')) as LockOwner;
  assert.equal(owner.pid, process.pid);
  assert.equal(owner.boot, BOOT);
  assert.equal(owner.mountRoot, '/kopia');
  assert.ok(!Number.isNaN(Date.parse(owner.started)));
  lock.release();
  assert.equal(existsSync(lock.path), false);
});

test('acquire: a live holder gives LockedError at once without --wait', async (t) => {
  const dir = stateDir(t);
  const { reporter } = quietReporter();
  const first = await Lock.acquire(dir, '/kopia', BOOT, 0, reporter);
  await assert.rejects(Lock.acquire(dir, '/kopia', BOOT, 0, reporter), (e: unknown) => {
    assert.ok(e instanceof LockedError);
    assert.equal(e.exitCode, EXIT.locked);
    assert.match(e.message, new RegExp(`another run is using /kopia \\(pid ${process.pid}, started `));
    return true;
  });
  // the holder's lock is untouched
  assert.equal((JSON.parse(readFileSync(first.path, 'utf8')) as LockOwner).pid, process.pid);
  // another mount root is another lock
  const other = await Lock.acquire(dir, '/restic', BOOT, 0, reporter);
  assert.notEqual(other.path, first.path);
  other.release();
  first.release();
});

test('acquire: a lock of a dead process is taken over and reported', async (t) => {
  const dir = stateDir(t);
  const { reporter, lines } = quietReporter();
  await Lock.acquire(dir, '/kopia', BOOT, 0, reporter).then((l) => l.release()); // creates dir
  const pid = deadPid();
  writeOwner(dir, '/kopia', { pid });
  const lock = await Lock.acquire(dir, '/kopia', BOOT, 0, reporter);
  assert.equal(lock.tookOver?.pid, pid);
  assert.equal(lock.tookOver?.boot, BOOT);
  assert.equal((JSON.parse(readFileSync(lock.path, 'utf8')) as LockOwner).pid, process.pid);
  assert.ok(lines.some((l) => l.includes(`took over a stale lock of pid ${pid} (process gone)`)), lines.join('\n'));
  // nothing is left next to the lock
  assert.deepEqual(readdirSync(dir), ['%2Fkopia.lock']);
  lock.release();
});

test('acquire: a lock of an earlier boot is stale even if the pid is alive now', async (t) => {
  const dir = stateDir(t);
  const { reporter, lines } = quietReporter();
  await Lock.acquire(dir, '/kopia', BOOT, 0, reporter).then((l) => l.release());
  writeOwner(dir, '/kopia', { pid: process.pid, boot: 'boot-before-reboot' });
  const lock = await Lock.acquire(dir, '/kopia', BOOT, 0, reporter);
  assert.equal(lock.tookOver?.boot, 'boot-before-reboot');
  assert.ok(lines.some((l) => l.includes('(an earlier boot)')), lines.join('\n'));
  lock.release();
});

test('acquire: an unreadable lock is waited for while fresh, taken over once old', async (t) => {
  const dir = stateDir(t);
  const { reporter, lines } = quietReporter();
  await Lock.acquire(dir, '/kopia', BOOT, 0, reporter).then((l) => l.release());
  const path = `${dir}/%2Fkopia.lock`;
  writeFileSync(path, '{"pid": 12');
  await assert.rejects(Lock.acquire(dir, '/kopia', BOOT, 0, reporter), (e: unknown) => e instanceof LockedError && /unknown owner/.test(e.message));
  const old = (Date.now() - 60_000) / 1000;
  utimesSync(path, old, old);
  const lock = await Lock.acquire(dir, '/kopia', BOOT, 0, reporter);
  assert.ok(lines.some((l) => l.includes('took over an unreadable stale lock')), lines.join('\n'));
  assert.equal((JSON.parse(readFileSync(path, 'utf8')) as LockOwner).pid, process.pid);
  lock.release();
  assert.equal(existsSync(path), false);
});

test('release: never removes a lock that is no longer ours', async (t) => {
  const dir = stateDir(t);
  const { reporter } = quietReporter();
  const lock = await Lock.acquire(dir, '/kopia', BOOT, 0, reporter);
  // another run took the lock over (e.g. after judging ours stale)
  writeOwner(dir, '/kopia', { pid: process.pid + 1, boot: BOOT, started: '2026-02-02T00:00:00.000Z' });
  lock.release();
  assert.ok(existsSync(lock.path));
  assert.equal((JSON.parse(readFileSync(lock.path, 'utf8')) as LockOwner).pid, process.pid + 1);
});

test('acquire with --wait: gets the lock once the holder releases it', async (t) => {
  const dir = stateDir(t);
  const { reporter, lines } = quietReporter();
  const first = await Lock.acquire(dir, '/kopia', BOOT, 0, reporter);
  const timer = setTimeout(() => first.release(), 300);
  const started = Date.now();
  const second = await Lock.acquire(dir, '/kopia', BOOT, 5, reporter);
  clearTimeout(timer);
  assert.ok(Date.now() - started >= 250, 'it waited');
  assert.equal(second.tookOver, null);
  assert.ok(lines.some((l) => l.includes('waiting for the run that holds')));
  second.release();
});

test('acquire with a short --wait still fails when the holder stays', async (t) => {
  const dir = stateDir(t);
  const { reporter } = quietReporter();
  const first = await Lock.acquire(dir, '/kopia', BOOT, 0, reporter);
  const started = Date.now();
  await assert.rejects(Lock.acquire(dir, '/kopia', BOOT, 1, reporter), LockedError);
  assert.ok(Date.now() - started >= 900);
  first.release();
});

test('acquire: mount roots that nest exclude each other (inside, outside, trailing slash, through a symlink); side by side and dead holders do not', async (t) => {
  const dir = stateDir(t);
  const { reporter } = quietReporter();
  const outer = await Lock.acquire(dir, '/X', BOOT, 0, reporter);
  for (const root of ['/X/inner', '/X/inner/', '/X/a/b']) {
    await assert.rejects(Lock.acquire(dir, root, BOOT, 0, reporter), (e: unknown) => e instanceof LockedError && e.exitCode === EXIT.locked && /another run is using \/X .*is inside \/X/.test(e.message), root);
  }
  assert.deepEqual(readdirSync(dir).sort(), ['%2FX.lock'], 'a refused run leaves no lock of its own');
  const side = await Lock.acquire(dir, '/XY', BOOT, 0, reporter);
  side.release();
  outer.release();

  const inner = await Lock.acquire(dir, '/X/inner', BOOT, 0, reporter);
  await assert.rejects(Lock.acquire(dir, '/X', BOOT, 0, reporter), (e: unknown) => e instanceof LockedError && /contains \/X\/inner/.test(e.message));
  inner.release();

  // a dead run's lock of a nested root does not block
  writeOwner(dir, '/X/inner', { pid: deadPid() });
  const after = await Lock.acquire(dir, '/X', BOOT, 0, reporter);
  after.release();

  // a symlink to a directory inside another run's root
  const base = mkdtempSync(join(tmpdir(), 'kopiatomic-nest-'));
  t.after(() => rmSync(base, { recursive: true, force: true }));
  const { mkdirSync, symlinkSync } = await import('node:fs');
  mkdirSync(`${base}/real/inner`, { recursive: true });
  symlinkSync(`${base}/real/inner`, `${base}/link`);
  const r = await Lock.acquire(dir, `${base}/real`, BOOT, 0, reporter);
  await assert.rejects(Lock.acquire(dir, `${base}/link/tree`, BOOT, 0, reporter), LockedError);
  r.release();
});

test('acquire with --wait: a nested holder is waited for, then the lock is ours', async (t) => {
  const dir = stateDir(t);
  const { reporter } = quietReporter();
  const inner = await Lock.acquire(dir, '/X/inner', BOOT, 0, reporter);
  setTimeout(() => inner.release(), 300);
  const outer = await Lock.acquire(dir, '/X', BOOT, 5, reporter);
  assert.ok(existsSync(outer.path));
  outer.release();
});
