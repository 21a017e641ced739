// Issue 9 at unit level, on the host with real processes and pipes: typed
// failures at the door (the per-program wording table, ENOENT, E2BIG,
// signals), the system folders on PATH, our output failing (EPIPE) without
// stopping the run, the grace period before SIGKILL, the post hook that a
// signal must not stop, an interruptible --wait, and the datasets file.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { parseCommandLine } from '../../src/cli/args.js';
import { KOPIATOMIC } from '../../src/config/job.js';
import { which } from '../../src/core/which.js';
import { classifyExit, classifySpawn } from '../../src/core/classify.js';
import { CommandError, InterruptedError, UsageError } from '../../src/core/errors.js';
import { SystemRunner } from '../../src/core/exec.js';
import { retryWhileBusy } from '../../src/core/retry.js';
import { systemPath } from '../../src/core/system-path.js';
import { datasetsVars, DATASETS_ENV_MAX, runHook } from '../../src/execute/hooks.js';
import { Interrupt } from '../../src/execute/interrupt.js';
import { stateKey } from '../../src/core/paths.js';
import { Lock } from '../../src/safety/lock.js';
import { quietReporter } from './helpers.js';

const BIG = 'x'.repeat(200 * 1024); // over Linux's 128 KiB for one argv/env string

describe('the wording table: what zfs, mount and umount really print', () => {
  const cases: [string, string, string][] = [
    // OpenZFS (libzfs_dataset.c, libzfs_util.c, zfs_main.c)
    ['zfs', "cannot open 'tank/gone@kopiatomic-1': dataset does not exist\n", 'not-found'],
    ['zfs', 'could not find any snapshots to destroy; check snapshot names.\n', 'not-found'],
    ['zfs', "cannot release hold from snapshot 'tank@kopiatomic-1': no such tag on this dataset\n", 'not-found'],
    ['zfs', "cannot open 'nopool': no such pool\n", 'not-found'],
    ['zfs', 'cannot destroy snapshot tank/a@kopiatomic-1: dataset is busy\n', 'busy'],
    ['zfs', "cannot destroy 'tank@kopiatomic-1': pool or dataset is busy\n", 'busy'],
    ['zfs', "cannot hold snapshot 'tank@kopiatomic-1': tag already exists on this dataset\n", 'failed'],
    ['zfs', "cannot create snapshots : out of space\n", 'failed'],
    ['/usr/sbin/zfs', "cannot open 'tank/x': dataset does not exist\n", 'not-found'],
    // util-linux umount (libmount) and FreeBSD umount(8)
    ['umount', 'umount: /kopia/tank: not mounted.\n', 'not-found'],
    ['umount', 'umount: /kopia/tank: no mount point specified.\n', 'not-found'],
    ['umount', 'umount: /kopia/tank: target is busy.\n', 'busy'],
    ['umount', 'umount: /kopia/tank: not a file system root directory\n', 'not-found'],
    ['umount', 'umount: unmount of /kopia/tank failed: Device busy\n', 'busy'],
    ['umount', 'umount: /kopia/tank: must be superuser to unmount.\n', 'failed'],
    // util-linux mount, mount.zfs
    ['mount', 'mount: /kopia/tank: mount point does not exist.\n', 'not-found'],
    ['mount', "filesystem 'tank@kopiatomic-1' cannot be mounted, unable to open the dataset\n", 'not-found'],
    ['mount', 'mount: /kopia/tank: permission denied.\n', 'failed'],
    // anything else is never read
    ['kopia', 'dataset does not exist, target is busy\n', 'failed'],
  ];
  for (const [prog, stderr, want] of cases) {
    test(`${prog}: ${stderr.trim()} -> ${want}`, () => assert.equal(classifyExit(prog, stderr), want));
  }
  test('spawn errors', () => {
    assert.equal(classifySpawn('ENOENT'), 'program-missing');
    assert.equal(classifySpawn('EACCES'), 'spawn-failed');
    assert.equal(classifySpawn('E2BIG'), 'spawn-failed');
    assert.equal(classifySpawn(undefined), 'spawn-failed');
  });
  test('retryWhileBusy retries reason busy only, whatever the text says', async () => {
    let n = 0;
    const busy = () => new CommandError(['umount', '/x'], 32, null, 'umount: /x: target is busy.', 'busy');
    await assert.rejects(retryWhileBusy(async () => { n++; throw busy(); }, 3, 1), CommandError);
    assert.equal(n, 3);
    n = 0;
    await assert.rejects(retryWhileBusy(async () => { n++; throw new CommandError(['kopia'], 1, null, 'resource busy', 'failed'); }, 3, 1));
    assert.equal(n, 1, "a program's free text is not read");
  });
});

describe('programs are found in the system folders, whatever PATH the caller has', () => {
  test('systemPath: the caller first, system folders appended where missing', () => {
    assert.equal(systemPath('/usr/bin:/bin', 'linux'), '/usr/bin:/bin:/usr/sbin:/sbin');
    assert.equal(systemPath('/opt/zfs/bin:/usr/sbin/', 'linux'), '/opt/zfs/bin:/usr/sbin/:/sbin:/usr/bin:/bin');
    assert.equal(systemPath(undefined, 'linux'), '/usr/sbin:/sbin:/usr/bin:/bin');
    assert.equal(systemPath('', 'linux'), '/usr/sbin:/sbin:/usr/bin:/bin');
    // FreeBSD's cron: no /usr/local/*, where node and kopia live
    assert.equal(systemPath('/usr/bin:/bin', 'freebsd'), '/usr/bin:/bin:/usr/sbin:/sbin:/usr/local/sbin:/usr/local/bin');
    const once = systemPath('/usr/bin:/bin', 'linux');
    assert.equal(systemPath(once, 'linux'), once, 'idempotent');
  });

  test('with PATH=/nonexistent, which() and the runner still find sh, and children inherit the full PATH', async () => {
    const saved = process.env['PATH'];
    try {
      process.env['PATH'] = '/nonexistent-kt';
      assert.match(which('sh') ?? '', /\/s?bin\/sh$/);
      const runner = new SystemRunner(quietReporter().reporter, false);
      const r = await runner.run(['sh', '-c', 'echo "$PATH"']);
      assert.equal(r.stdout.trim(), '/nonexistent-kt:/usr/sbin:/sbin:/usr/bin:/bin');
    } finally {
      process.env['PATH'] = saved;
    }
  });
});

describe('typed failures at the door (real spawns)', () => {
  const runner = () => new SystemRunner(quietReporter().reporter, false);

  test('a missing program is program-missing, never a non-zero exit of it', async () => {
    const e = await runner().run(['kt-no-such-program-here', 'destroy']).catch((x: unknown) => x);
    assert.ok(e instanceof CommandError);
    assert.equal(e.reason, 'program-missing');
    assert.equal(e.code, 127);
    assert.match(e.message, /not installed/);
  });

  test('E2BIG: a 200 KiB argv word rejects with spawn-failed (no synchronous throw)', async () => {
    let p: Promise<unknown> | undefined;
    assert.doesNotThrow(() => (p = runner().run(['true', BIG])));
    const e = await p!.catch((x: unknown) => x);
    assert.ok(e instanceof CommandError, String(e));
    assert.equal(e.reason, 'spawn-failed');
    assert.match(e.message, /E2BIG/);
  });

  test('E2BIG: a 200 KiB environment string rejects with spawn-failed', async () => {
    const e = await runner().run(['true'], { env: { ...process.env, HUGE: BIG } }).catch((x: unknown) => x);
    assert.ok(e instanceof CommandError);
    assert.equal(e.reason, 'spawn-failed');
  });

  test('input goes to the command\'s stdin (a channel program); without it stdin is closed; a program that ignores it still finishes', async () => {
    assert.equal((await runner().run(['wc', '-l'], { input: 'a\nb\n' })).stdout.trim(), '2');
    assert.equal((await runner().run(['wc', '-c'])).stdout.trim(), '0');
    assert.equal((await runner().run(['true'], { input: 'x'.repeat(1 << 20) })).code, 0);
  });

  test('E2BIG in live(): no throw, no child, a finished process that failed', async () => {
    const { reporter, lines } = quietReporter();
    const p = new SystemRunner(reporter, false).live(['true', BIG]);
    assert.equal(p.child, null);
    const d = await p.done;
    assert.equal(d.code, 126);
    assert.equal(d.reason, 'spawn-failed');
    assert.ok(lines.some((l) => /could not be started/.test(l)));
  });

  test('live() of a missing program: program-missing, code 127', async () => {
    const d = await runner().live(['kt-no-such-program-here']).done;
    assert.equal(d.code, 127);
    assert.equal(d.reason, 'program-missing');
  });

  test('a command killed by a signal is reason signal', async () => {
    const e = await runner().run(['sh', '-c', 'kill -TERM $$']).catch((x: unknown) => x);
    assert.ok(e instanceof CommandError);
    assert.equal(e.reason, 'signal');
    assert.equal(e.signal, 'SIGTERM');
  });

  test('a child stopped by a group signal before it ran is run again (the fork-to-setsid window)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kt-early-'));
    const r = await runner().run(['sh', '-c', `if [ -e ${dir}/once ]; then echo ran; else touch ${dir}/once; kill -INT $$; fi`]);
    assert.equal(r.stdout, 'ran\n');
    rmSync(dir, { recursive: true });
  });

  test("run()'s children are in their own session: a signal to our process group does not reach them", async () => {
    const r = await runner().run(['sh', '-c', 'ps -o pid=,pgid=,sid= -p $$']);
    const [pid, pgid, sid] = r.stdout.trim().split(/\s+/).map(Number);
    assert.equal(pgid, pid, 'its own process group');
    assert.equal(sid, pid, 'its own session: no controlling terminal');
  });
});

describe('our own output failing never stops the run', () => {
  test('Reporter: stdout is a pipe whose reader has gone (EPIPE): the process carries on and exits 0', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kt-epipe-'));
    const report = new URL('../../src/core/report.js', import.meta.url).href;
    const exec = new URL('../../src/core/exec.js', import.meta.url).href;
    const code = `
      import { Reporter } from ${JSON.stringify(report)};
      import { SystemRunner } from ${JSON.stringify(exec)};
      const r = new Reporter({ json: true, verbosity: 1, name: 't' });
      for (let i = 0; i < 200; i++) { r.event('step', { i, pad: 'y'.repeat(1000) }); await new Promise((s) => setTimeout(s, 2)); }
      // live() copying a child's stdout to the dead pipe
      const p = new SystemRunner(r, false).live(['sh', '-c', 'i=0; while [ $i -lt 200 ]; do echo line $i; i=$((i+1)); done'], { captureStdout: true });
      await p.done;
      r.print('after');
      ${''}
      (await import('node:fs')).writeFileSync(${JSON.stringify(dir + '/survived')}, 'yes');
    `;
    const child = spawn(process.execPath, ['--input-type=module', '-e', code], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    // like `| head -n 1`: read one chunk, then close the read end
    child.stdout.once('data', () => child.stdout.destroy());
    const rc = await new Promise<number | null>((r) => child.on('close', (c) => r(c)));
    assert.equal(rc, 0, stderr);
    assert.equal(readFileSync(`${dir}/survived`, 'utf8'), 'yes');
    assert.doesNotMatch(stderr, /EPIPE|Unhandled/);
    rmSync(dir, { recursive: true });
  });
});

describe('signals: grace period, post hook, --wait', () => {
  test('a child that ignores SIGTERM is killed with SIGKILL after the grace period', async () => {
    const { reporter, lines } = quietReporter();
    const it = new Interrupt(reporter, 300);
    const c = spawn('sh', ['-c', 'trap "" TERM; exec sleep 30'], { stdio: 'ignore' });
    await new Promise((r) => setTimeout(r, 100));
    it.setChild(c);
    const t0 = Date.now();
    it.receive('SIGTERM');
    const sig = await new Promise<string | null>((r) => c.on('close', (_code, s) => r(s)));
    assert.equal(sig, 'SIGKILL');
    assert.ok(Date.now() - t0 < 15_000, 'killed, not waited for: the child sleeps 30 s');
    assert.ok(lines.some((l) => /SIGKILL/.test(l)));
    it.uninstall();
  });

  test('the post hook runs to its end after a signal that came before it; a signal during it reaches it', async () => {
    const { reporter } = quietReporter();
    const it = new Interrupt(reporter, 0);
    const runner = new SystemRunner(reporter, false);
    it.receive('SIGTERM'); // the run was interrupted earlier
    const dir = mkdtempSync(join(tmpdir(), 'kt-post-'));
    const rc = await runHook('post', `sleep 0.3; echo "$KOPIATOMIC_STATUS" > ${dir}/status`, { KOPIATOMIC_STATUS: 'interrupted' }, runner, reporter, it);
    assert.equal(rc, 0);
    assert.equal(readFileSync(`${dir}/status`, 'utf8'), 'interrupted\n');
    // the pre hook, by contrast, is stopped
    const pre = await runHook('pre', 'sleep 5', {}, runner, reporter, it);
    assert.notEqual(pre, 0);
    // a signal while the post hook runs is forwarded to it
    const during = runHook('post', 'sleep 5', {}, runner, reporter, it);
    await new Promise((r) => setTimeout(r, 200));
    it.receive('SIGINT');
    assert.notEqual(await during, 0);
    rmSync(dir, { recursive: true });
  });

  test('a hook that cannot start (E2BIG in its environment) is a failed hook, not a throw', async () => {
    const { reporter } = quietReporter();
    const rc = await runHook('post', 'true', { HUGE: BIG }, new SystemRunner(reporter, false), reporter, new Interrupt(reporter));
    assert.equal(rc, 126);
  });

  test('--wait: a signal while waiting for the lock ends the wait, 128+N, the other lock untouched', async (t) => {
    const base = mkdtempSync(join(tmpdir(), 'kt-wait-'));
    t.after(() => rmSync(base, { recursive: true, force: true }));
    const dir = join(base, 'state');
    await Lock.acquire(dir, '/kt', 'boot', 0, quietReporter().reporter); // held by us, alive
    const path = `${dir}/${stateKey('/kt')}.lock`;
    const before = readFileSync(path, 'utf8');
    const stop = { signal: null as NodeJS.Signals | null };
    setTimeout(() => (stop.signal = 'SIGTERM'), 300);
    const t0 = Date.now();
    const e = await Lock.acquire(dir, '/kt', 'boot', Infinity, quietReporter().reporter, stop).catch((x: unknown) => x);
    assert.ok(e instanceof InterruptedError, String(e));
    assert.equal(e.exitCode, 143);
    assert.ok(Date.now() - t0 < 15_000, 'the wait ended: it would have lasted for ever');
    assert.equal(readFileSync(path, 'utf8'), before);
  });

  test('--kill-after, --zfs-timeout, --wait: a number of seconds or a duration, else a usage error', () => {
    assert.equal(parseCommandLine(['-a'], KOPIATOMIC).killAfter, 30);
    assert.equal(parseCommandLine(['--kill-after', '2', '-a'], KOPIATOMIC).killAfter, 2);
    assert.equal(parseCommandLine(['--kill-after=0', '-a'], KOPIATOMIC).killAfter, 0);
    assert.equal(parseCommandLine(['--kill-after', '2m', '-a'], KOPIATOMIC).killAfter, 120);
    assert.equal(parseCommandLine(['--zfs-timeout', '1h30m', '-a'], KOPIATOMIC).zfsTimeout, 5400);
    assert.equal(parseCommandLine(['--wait=90s', '-a'], KOPIATOMIC).wait, 90);
    assert.throws(() => parseCommandLine(['--kill-after', 'soon', '-a'], KOPIATOMIC), UsageError);
  });
});

describe('KOPIATOMIC_DATASETS and KOPIATOMIC_DATASETS_FILE', () => {
  test('small: both; the file is 0600, one dataset per line, removed at the end', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kt-ds-'));
    const v = datasetsVars(['tank/a', 'tank/b'], dir, 'RUN', quietReporter().reporter);
    assert.equal(v.env['KOPIATOMIC_DATASETS'], 'tank/a\ntank/b');
    const f = v.env['KOPIATOMIC_DATASETS_FILE']!;
    assert.equal(readFileSync(f, 'utf8'), 'tank/a\ntank/b\n');
    assert.equal(statSync(f).mode & 0o777, 0o600);
    v.remove();
    assert.equal(existsSync(f), false);
    rmSync(dir, { recursive: true });
  });

  test('large: the variable is left out with a warning, the file has them all, and a hook can start', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kt-ds-'));
    const many = Array.from({ length: 8000 }, (_, i) => `tank/some/rather/long/dataset-${i}`);
    const { reporter, lines } = quietReporter();
    const v = datasetsVars(many, dir, 'RUN', reporter);
    assert.ok(many.join('\n').length > DATASETS_ENV_MAX);
    assert.equal(v.env['KOPIATOMIC_DATASETS'], undefined);
    assert.ok(lines.some((l) => /KOPIATOMIC_DATASETS is not set/.test(l)));
    const out = `${dir}/count`;
    const rc = await runHook('pre', `wc -l < "$KOPIATOMIC_DATASETS_FILE" > ${out}`, v.env, new SystemRunner(reporter, false), reporter, new Interrupt(reporter));
    assert.equal(rc, 0);
    assert.equal(readFileSync(out, 'utf8').trim(), '8000');
    v.remove();
    rmSync(dir, { recursive: true });
  });

  test('dry run: no file', () => {
    const v = datasetsVars(['tank/a'], null, 'RUN', quietReporter().reporter);
    assert.deepEqual(v.env, { KOPIATOMIC_DATASETS: 'tank/a' });
  });
});

