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
