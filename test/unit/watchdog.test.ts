// The per-command time limit of zfs and zpool (a suspended pool hangs them):
// killed, settled at once, a typed error with its own exit code.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CommandTimeoutError } from '../../src/core/errors.js';
import { SystemRunner } from '../../src/core/exec.js';
import { errorStatus, EXIT, runStatus } from '../../src/core/exit-status.js';
import { ownerAlive } from '../../src/safety/lock.js';
import { quietReporter } from './helpers.js';

test('a zfs command past its limit is killed (its whole group) and fails with CommandTimeoutError (exit 9) at once; other programs and 0 are unlimited', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kopiatomic-watchdog-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const zfs = join(dir, 'zfs');
  // a child that would outlive the shell: the group kill reaches it too
  writeFileSync(zfs, `#!/bin/sh\nsleep 30 &\necho $! > ${dir}/child\nwait\n`);
  chmodSync(zfs, 0o755);
  const runner = new SystemRunner(quietReporter().reporter, false);
  runner.zfsTimeoutMs = 300;
  const t0 = Date.now();
  await assert.rejects(runner.run([zfs, 'snapshot', 'tank@x']), (e: unknown) => {
    assert.ok(e instanceof CommandTimeoutError);
    assert.equal(e.reason, 'timeout');
    assert.equal(e.exitCode, EXIT.timedOut);
    assert.match(e.message, /zfs did not finish within 0.3 s and was killed .*snapshot tank@x/);
    assert.deepEqual(errorStatus(e), { status: 'timed-out', code: 9 });
    assert.deepEqual(runStatus({ setupError: e, backup: null, cleanupFailures: [] }, null), { status: 'timed-out', code: 9 });
    return true;
  });
  assert.ok(Date.now() - t0 < 15_000, 'killed, not waited for: the zfs sleeps 30 s');
  await new Promise((r) => setTimeout(r, 200));
  const { readFileSync } = await import('node:fs');
  assert.equal(ownerAlive({ pid: Number(readFileSync(join(dir, 'child'), 'utf8')), boot: 'b' }, 'b'), false, 'the group was killed (gone, or a zombie)');
  // a quick zfs is not touched; other programs are never limited
  writeFileSync(zfs, '#!/bin/sh\necho fine\n');
  assert.equal((await runner.run([zfs, 'list'])).stdout, 'fine\n');
  assert.equal((await runner.run(['sh', '-c', 'sleep 0.5; echo slow'])).stdout, 'slow\n');
  runner.zfsTimeoutMs = 0;
  writeFileSync(zfs, '#!/bin/sh\nsleep 0.5; echo unlimited\n');
  assert.equal((await runner.run([zfs, 'list'])).stdout, 'unlimited\n');
});

test('a batch that reports progress (mount -v, umount -v) is limited per report, not as a whole; one that stops reporting is killed', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kopiatomic-watchdog-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const umount = join(dir, 'umount');
  // twelve targets, one every 150 ms: 1.8 s in all, against a limit of 1 s
  writeFileSync(umount, '#!/bin/sh\n[ "$1" = -v ] && shift\nfor t in "$@"; do sleep 0.15; echo "umount: $t unmounted" >&2; done\n');
  chmodSync(umount, 0o755);
  const runner = new SystemRunner(quietReporter().reporter, false);
  runner.zfsTimeoutMs = 1000;
  const targets = Array.from({ length: 12 }, (_, i) => `/k/${i + 1}`);
  const r = await runner.run([umount, '-v', ...targets], { progress: true });
  assert.equal(r.stderr.split('\n').filter(Boolean).length, 12, 'every target was done');
  // the same batch without progress meets the limit as a whole
  await assert.rejects(runner.run([umount, '-v', ...targets]), (e: unknown) => e instanceof CommandTimeoutError && /did not finish within 1 s/.test(e.message));
  // progress on stdout counts too; a batch that stops reporting is killed at the limit after its last report
  writeFileSync(umount, '#!/bin/sh\necho "/k/1 : successfully mounted"\nsleep 0.3\necho "/k/2 : successfully mounted"\nexec sleep 30\n');
  const t0 = Date.now();
  await assert.rejects(runner.run([umount, '-a'], { progress: true }), (e: unknown) => {
    assert.ok(e instanceof CommandTimeoutError);
    assert.equal(e.exitCode, EXIT.timedOut);
    assert.match(e.message, /umount made no progress for 1 s and was killed/);
    return true;
  });
  const took = Date.now() - t0;
  assert.ok(took >= 1250 && took < 15_000, `killed 1 s after its last report, not at the first limit or never (${took} ms)`);
  // whatever carries the batch (the umount2 one-liner runs as perl): progress alone puts it under the limit
  const t1 = Date.now();
  await assert.rejects(runner.run(['sh', '-c', 'echo /k/1; exec sleep 30'], { progress: true }), (e: unknown) => e instanceof CommandTimeoutError && /sh made no progress for 1 s/.test(e.message));
  assert.ok(Date.now() - t1 < 15_000);
});
