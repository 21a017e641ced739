// Issue 9, items 5-8 and 10 end to end: cron's short PATH, a spawn that fails
// synchronously (E2BIG), a closed stdout pipe, a terminal hang-up, a second
// Ctrl-C during cleanup, an engine that ignores SIGTERM, a signal while
// waiting for the lock, and the post hook after a signal. Every test asserts
// on the system (zfs list/holds, the mount table, files written by the
// commands we ran), never on what kopiatomic printed.
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, renameSync, symlinkSync, writeFileSync } from 'node:fs';
import { test } from 'node:test';
import { SystemRunner } from '../../src/core/exec.js';
import { CommandError } from '../../src/core/errors.js';
import { Reporter } from '../../src/core/report.js';
import { CLEAN, KOPIATOMIC, leftovers, mountsUnder, Pool, ROOT, run, SCRATCH, scratchDir, script, sh, zfs } from './lib.js';

/**
 * cron's PATH on Debian is /usr/bin:/bin. The guest's zfsutils-linux also
 * links /usr/bin/zfs -> /sbin/zfs, which not every system has (and FreeBSD
 * never has), so the test uses /usr/bin:/bin as they are on such a system:
 * a folder with every program of /usr/bin except those that live in sbin.
 */
function cronPath(): string {
  const dir = `${SCRATCH}/cron-usr-bin`;
  if (!existsSync(dir)) {
    mkdirSync(`${dir}.tmp`, { recursive: true });
    for (const name of readdirSync('/usr/bin')) {
      let real: string;
      try {
        real = realpathSync(`/usr/bin/${name}`);
      } catch {
        continue;
      }
      if (real.startsWith('/usr/sbin/') || real.startsWith('/sbin/')) continue;
      symlinkSync(`/usr/bin/${name}`, `${dir}.tmp/${name}`);
    }
    renameSync(`${dir}.tmp`, dir);
  }
  return dir;
}

/** kopiatomic in its own process group (so the test can signal the group, as a terminal does). */
function start(args: string[], env: NodeJS.ProcessEnv = {}, detached = false): { child: ChildProcess; done: Promise<{ code: number | null; signal: string | null; stderr: string }>; stderr: () => string } {
  const child = spawn(process.execPath, [KOPIATOMIC, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'], detached });
  let stderr = '';
  child.stderr!.on('data', (b: Buffer) => (stderr += b.toString()));
  // 'exit', not 'close': an engine's orphaned child may keep our stderr pipe open.
  const done = new Promise<{ code: number | null; signal: string | null; stderr: string }>((r) =>
    child.on('exit', (code, signal) => {
      setTimeout(() => child.stderr!.destroy(), 200).unref();
      r({ code, signal, stderr });
    }),
  );
  return { child, done, stderr: () => stderr };
}

async function until(what: string, f: () => boolean, ms = 60_000): Promise<void> {
  const end = Date.now() + ms;
  while (!f()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return Promise.race([p, new Promise<T>((_, rej) => setTimeout(() => rej(new Error(`${what}: still running after ${ms} ms`)), ms).unref())]);
}

test('the wording table holds for the real zfs, mount and umount', async (t) => {
  const pool = Pool.create(['a']).destroyAfter(t);
  const work = scratchDir('wording');
  const runner = new SystemRunner(new Reporter({ json: false, verbosity: 0, name: 't' }), false);
  const reason = async (argv: string[]) => {
    const e = await runner.run(argv).then(() => null, (x: unknown) => x);
    assert.ok(e instanceof CommandError, `${argv.join(' ')} should fail`);
    return `${e.reason}: ${e.stderr.trim()}`;
  };
  assert.match(await reason(['zfs', 'destroy', `${pool.ds('a')}@nope`]), /^not-found: /);
  assert.match(await reason(['zfs', 'destroy', '-r', `${pool.ds()}@nope`]), /^not-found: /);
  assert.match(await reason(['zfs', 'list', `${pool.ds('nope')}`]), /^not-found: /);
  zfs('snapshot', `${pool.ds('a')}@s`);
  assert.match(await reason(['zfs', 'release', 'kopiatomic', `${pool.ds('a')}@s`]), /^not-found: /);
  assert.match(await reason(['umount', `${work}`]), /^not-found: /);
  assert.match(await reason(['umount', `${work}/no-such-folder`]), /^not-found: /);
  sh('mkdir', '-p', `${work}/m`);
  sh('mount', '-t', 'zfs', '-o', 'ro', `${pool.ds('a')}@s`, `${work}/m`);
  const holder = spawn('sleep', ['30'], { cwd: `${work}/m`, stdio: 'ignore' });
  try {
    await new Promise((r) => setTimeout(r, 300));
    assert.match(await reason(['umount', `${work}/m`]), /^busy: /);
  } finally {
    holder.kill('SIGKILL');
    await new Promise((r) => holder.on('close', r));
  }
  sh('umount', `${work}/m`);
  assert.match(await reason(['mount', '-t', 'zfs', '-o', 'ro', `${pool.ds('a')}@nope`, `${work}/m`]), /^not-found: /);
  const missing = await runner.run(['kt-no-such-program']).catch((x: CommandError) => x);
  assert.equal((missing as CommandError).reason, 'program-missing');
});

test("cron's PATH (/usr/bin:/bin): a backup finds zfs in the system folders and leaves nothing", async (t) => {
  const CRON_PATH = cronPath();
  // The premise: zfs is not on this PATH.
  assert.notEqual(spawnSync('/bin/sh', ['-c', 'command -v zfs'], { env: { PATH: CRON_PATH } }).status, 0, 'zfs must not be on the cron PATH here');
  const pool = Pool.create(['a', 'a/b']).destroyAfter(t);
  const work = scratchDir('cronpath');
  const look = script(work, 'look', `findmnt -rn -o SOURCE | grep @kopiatomic- | sort > ${work}/seen`);
  const r = await run(KOPIATOMIC, ['--mount-root', '/kt-cron', '--engine', 'command', '-c', look, '-r', pool.ds('a')], { env: { PATH: CRON_PATH } });
  assert.equal(r.code, 0, r.stderr);
  const seen = readFileSync(`${work}/seen`, 'utf8').split('\n').filter(Boolean).map((s) => s.split('@')[0]).sort();
  assert.deepEqual(seen, [pool.ds('a'), pool.ds('a/b')], 'the snapshots were really mounted for the backup');
  assert.deepEqual(leftovers([pool], '/kt-cron'), CLEAN);
});

test("cron's PATH: a run killed mid-setup, then `cleanup` under the same PATH really releases and destroys", async (t) => {
  const CRON_PATH = cronPath();
  const pool = Pool.create(['a', 'a/b']).destroyAfter(t);
  const r = await run(KOPIATOMIC, ['--mount-root', '/kt-cron2', '--engine', 'command', '-c', 'true', '-r', pool.ds('a')], { env: { PATH: CRON_PATH, KOPIATOMIC_TEST_FAULT: 'mount' } });
  assert.equal(r.signal, 'SIGKILL');
  const left = leftovers([pool], '/kt-cron2');
  assert.equal(left.snapshots.length, 2, 'the killed run left its snapshots');
  assert.ok(left.holds.length > 0, 'and its hold');
  const c = await run(KOPIATOMIC, ['--mount-root', '/kt-cron2', 'cleanup'], { env: { PATH: CRON_PATH } });
  assert.equal(c.code, 0, c.stderr);
  assert.deepEqual(leftovers([pool], '/kt-cron2'), CLEAN);
});

test('E2BIG: a 200 KiB engine option word makes the engine fail to start: backup failed (exit 1), nothing left', async (t) => {
  const pool = Pool.create(['a']).destroyAfter(t);
  const work = scratchDir('e2big');
  // A 200 KiB word cannot reach kopiatomic through exec either, so a two-line
  // entry point calls the CLI's main() with it, as bin/kopiatomic.js does.
  const entry = `${work}/big-entry.mjs`;
  writeFileSync(
    entry,
    `import { main } from ${JSON.stringify(`${ROOT}/dist/src/cli/main.js`)};\nimport { KOPIATOMIC } from ${JSON.stringify(`${ROOT}/dist/src/config/job.js`)};\n` +
      `process.exitCode = await main([...process.argv.slice(2), '-o', 'x'.repeat(200000)], KOPIATOMIC);\n`,
  );
  const r = await run(entry, ['--mount-root', '/kt-e2big', '--engine', 'command', '-c', `touch ${work}/engine-ran`, '-q', `echo "$KOPIATOMIC_STATUS" > ${work}/post`, pool.ds('a')]);
  assert.equal(r.code, 1, r.stderr);
  assert.equal(existsSync(`${work}/engine-ran`), false);
  assert.equal(readFileSync(`${work}/post`, 'utf8'), 'backup-failed\n');
  assert.deepEqual(leftovers([pool], '/kt-e2big'), CLEAN);
  assert.equal(existsSync('/run/kopiatomic/%2Fkt-e2big.lock'), false, 'the lock is released');
});

test('`kopiatomic --json ... | head -n 1`: the closed pipe does not stop cleanup, exit 0, nothing left', async (t) => {
  const pool = Pool.create(['a', 'b']).destroyAfter(t);
  const work = scratchDir('headpipe');
  const slow = script(work, 'slow', 'sleep 2');
  const cmd = `(${process.execPath} ${KOPIATOMIC} --json --mount-root /kt-head --engine command -c ${slow} -r ${pool.name}; echo $? > ${work}/rc) | head -n 1 > ${work}/first`;
  const r = spawnSync('sh', ['-c', cmd], { stdio: 'ignore', timeout: 120_000 });
  assert.equal(r.status, 0);
  await until('kopiatomic to finish', () => existsSync(`${work}/rc`) && readFileSync(`${work}/rc`, 'utf8').endsWith('\n'));
  assert.equal(readFileSync(`${work}/rc`, 'utf8'), '0\n');
  assert.equal(readFileSync(`${work}/first`, 'utf8').split('\n').length, 2, 'head took one line and left');
  assert.deepEqual(leftovers([pool], '/kt-head'), CLEAN);
});

test('a terminal hang-up (the pty goes away): cleanup runs, the post hook reports it, nothing left', async (t) => {
  const pool = Pool.create(['a']).destroyAfter(t);
  const work = scratchDir('hangup');
  const look = script(work, 'look', `touch ${work}/backing-up; exec sleep 60`);
  const inner = `${process.execPath} ${KOPIATOMIC} --mount-root /kt-hup --engine command -c ${look} -q 'sleep 0.3; echo "$KOPIATOMIC_STATUS $KOPIATOMIC_EXIT_CODE" > ${work}/post' ${pool.ds('a')}`;
  const term = spawn('script', ['-qec', inner, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, SHELL: '/bin/sh' } });
  term.stdout!.resume();
  term.stderr!.resume();
  await until('the backup to start', () => existsSync(`${work}/backing-up`));
  assert.equal(mountsUnder('/kt-hup').length, 1, 'the snapshot is mounted for the backup');
  term.kill('SIGKILL'); // the terminal goes away: the kernel hangs up its session
  await until('the post hook', () => existsSync(`${work}/post`) && readFileSync(`${work}/post`, 'utf8').endsWith('\n'), 60_000);
  assert.equal(readFileSync(`${work}/post`, 'utf8'), 'interrupted 129\n');
  await until('the lock to be released', () => !existsSync('/run/kopiatomic/%2Fkt-hup.lock'), 10_000);
  assert.deepEqual(leftovers([pool], '/kt-hup'), CLEAN);
});

test("a second Ctrl-C (SIGINT to the whole process group) during cleanup does not reach cleanup's zfs/umount: exit 130, nothing left", async (t) => {
  const pool = Pool.create(['a', 'a/b', 'a/b/c', 'd', 'd/e', 'd/f']).destroyAfter(t);
  const work = scratchDir('ctrlc');
  const look = script(work, 'look', `touch ${work}/backing-up; sleep 60`);
  const k = start(['--mount-root', '/kt-ctrlc', '--engine', 'command', '-c', look, '-r', pool.name], {}, true);
  await until('the backup to start', () => existsSync(`${work}/backing-up`));
  const pgid = k.child.pid!;
  process.kill(-pgid, 'SIGINT'); // Ctrl-C: the terminal signals the whole foreground group
  // ... and again, and again, while cleanup starts unmounting (7 mounts,
  // then release and destroy: several seconds in the guest). The burst
  // stops before cleanup ends: a signal that arrives while node itself is
  // exiting, after everything is done, meets the default action (node
  // closes its signal handlers on the way out), which a shell shows as 130
  // too, but it is not what this test is about.
  let sent = 0;
  const burst = setInterval(() => {
    try {
      if (++sent > 10) clearInterval(burst);
      else process.kill(-pgid, 'SIGINT');
    } catch {
      clearInterval(burst);
    }
  }, 100);
  const r = await withTimeout(k.done, 60_000, 'kopiatomic');
  clearInterval(burst);
  assert.equal(r.code, 130, r.stderr);
  assert.deepEqual(leftovers([pool], '/kt-ctrlc'), CLEAN);
});

test('an engine that ignores SIGTERM is killed after --kill-after: exit 143 within seconds, nothing left', async (t) => {
  const pool = Pool.create(['a']);
  const work = scratchDir('stubborn');
  t.after(() => {
    try {
      process.kill(Number(readFileSync(`${work}/sleep.pid`, 'utf8')), 'SIGKILL');
    } catch {
      /* not started or gone */
    }
    pool.destroy();
  });
  // sh ignores SIGTERM and waits for its child; the child's pid is kept to end it afterwards.
  const engine = script(work, 'stubborn', `trap "" TERM; touch ${work}/backing-up; sleep 1000 & echo $! > ${work}/sleep.pid; wait`);
  const k = start(['--mount-root', '/kt-stub', '--kill-after', '2', '--engine', 'command', '-c', engine, pool.ds('a')]);
  await until('the backup to start', () => existsSync(`${work}/backing-up`));
  const t0 = Date.now();
  k.child.kill('SIGTERM');
  const r = await withTimeout(k.done, 40_000, 'kopiatomic after SIGTERM');
  assert.equal(r.code, 143, r.stderr);
  assert.ok(Date.now() - t0 < 30_000, `took ${Date.now() - t0} ms`);
  assert.deepEqual(leftovers([pool], '/kt-stub'), CLEAN);
});

test('--wait: SIGTERM while waiting for the lock exits 143 at once, changes nothing; the other run is unaffected', async () => {
  const pool = Pool.create(['a']);
  const work = scratchDir('waitterm');
  try {
    // The first run backs up until the test lets it go (no fixed sleep: the guest's speed varies).
    const first = script(work, 'first', `touch ${work}/backing-up; while [ ! -e ${work}/go ]; do sleep 0.2; done; touch ${work}/first-done`);
    const a = start(['--mount-root', '/kt-wait', '--engine', 'command', '-c', first, pool.ds('a')]);
    await until('the first backup to start', () => existsSync(`${work}/backing-up`));
    const snapsOfA = pool.snapshots();
    assert.equal(snapsOfA.length, 1);
    const b = start(['--wait', '--mount-root', '/kt-wait', '--engine', 'command', '-c', `touch ${work}/second-ran`, '-q', `touch ${work}/second-post`, pool.ds('a')]);
    // b is waiting now: it says so (node starts slowly in the emulated guest, so no fixed delay).
    await until('the second run to wait for the lock', () => /waiting for the run that holds/.test(b.stderr()));
    const t0 = Date.now();
    b.child.kill('SIGTERM');
    const rb = await withTimeout(b.done, 10_000, 'the waiting run');
    assert.equal(rb.code, 143, rb.stderr);
    assert.ok(Date.now() - t0 < 3000, `took ${Date.now() - t0} ms`);
    assert.deepEqual(pool.snapshots(), snapsOfA, 'the waiting run made no snapshot');
    assert.equal(existsSync(`${work}/second-ran`) || existsSync(`${work}/second-post`), false);
    writeFileSync(`${work}/go`, '');
    const ra = await withTimeout(a.done, 60_000, 'the first run');
    assert.equal(ra.code, 0, ra.stderr);
    assert.ok(existsSync(`${work}/first-done`), 'the first run backed up to its end');
    assert.deepEqual(leftovers([pool], '/kt-wait'), CLEAN);
  } finally {
    writeFileSync(`${work}/go`, ''); // never leave the first run waiting
    pool.destroy();
  }
});

test('after SIGTERM the post hook runs to its end and sees KOPIATOMIC_STATUS=interrupted', async (t) => {
  const pool = Pool.create(['a']).destroyAfter(t);
  const work = scratchDir('postsig');
  const look = script(work, 'look', `touch ${work}/backing-up; exec sleep 60`);
  const post = `sleep 1; echo "$KOPIATOMIC_STATUS $KOPIATOMIC_EXIT_CODE" > ${work}/post`;
  const k = start(['--mount-root', '/kt-post', '--engine', 'command', '-c', look, '-q', post, pool.ds('a')]);
  await until('the backup to start', () => existsSync(`${work}/backing-up`));
  k.child.kill('SIGTERM');
  const r = await withTimeout(k.done, 60_000, 'kopiatomic');
  assert.equal(r.code, 143, r.stderr);
  assert.equal(readFileSync(`${work}/post`, 'utf8'), 'interrupted 143\n');
  assert.deepEqual(leftovers([pool], '/kt-post'), CLEAN);
});
