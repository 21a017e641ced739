// Power cut, first boot: pools with our datasets and foreign things, a backup
// whose engine never ends; once the tree is mounted and held, the state is
// recorded on the rig's share and the guest is reset at once (sysrq b: no
// sync, no unmount, the page cache lost), after asking the rig to boot again
// and run after.test.js. Nothing here is cleaned up unless the test fails
// before the cut: the second boot needs it all.
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { test } from 'node:test';
import { foreignState, KOPIATOMIC, ourLeftovers, Pool, scratchDir, script, sleep, startRun, waitFor, zfs } from '../e2e/lib.js';
import { backupArgs, DISKS, journalExists, POOLS, ROOT, SEEN, type Seen } from './power-cut.js';

/** Progress on the console while the one test runs (the runner prints the test only when it ends, which this one never does). */
const step = (what: string) => console.error(`power cut: ${what}`);

test('power cut, first boot: a backup is mounted and held, then the power goes', async () => {
  const p1 = Pool.onDevice(POOLS[0]!, DISKS[0]!, ['a', 'b', 'b/nested']);
  const p2 = Pool.onDevice(POOLS[1]!, DISKS[1]!, ['x']);
  let child: ChildProcess | undefined;
  let running: ReturnType<typeof startRun> | undefined;
  try {
    const foreignSnaps = [
      `${p1.ds('a')}@user-keep`, // held by its user
      `${p1.ds('b')}@user-base`, // cloned by its user
      `${p2.ds('x')}@kopiatomic-20250101T000000Z-4242-abcdef`, // named like ours, not ours
      `${p2.ds('x')}@autosnap_2026-01-01_00:00:00_daily`, // another tool's, held by it
    ];
    for (const s of foreignSnaps) zfs('snapshot', s);
    zfs('hold', 'user', foreignSnaps[0]!);
    zfs('hold', 'sanoid', foreignSnaps[3]!);
    zfs('clone', foreignSnaps[1]!, p1.ds('clone'));
    writeFileSync(`${p1.path('clone')}/mine.txt`, "the user's work\n");
    for (const [p, d] of [[p1, 'a'], [p1, 'b/nested'], [p2, 'x']] as const) writeFileSync(`${p.path(d)}/file.txt`, `content of ${p.ds(d)}\n`);

    step('pools and foreign things made; starting the backup');
    const work = scratchDir('power-cut');
    const pidfile = `${work}/engine.pid`;
    const engine = script(work, 'engine.sh', `echo $$ > '${pidfile}'\nexec sleep 100000`);
    let exited = false;
    running = startRun(KOPIATOMIC, backupArgs(engine), {}, (c) => (child = c));
    void running.then(() => (exited = true));
    await waitFor('the engine to start', () => existsSync(pidfile) || exited, 120_000);
    if (exited) assert.fail(`the backup ended before its engine started: ${(await running).stderr}`);

    step('the engine runs');
    // The cut only proves something if our things are there when it happens.
    const ours = ourLeftovers([p1, p2], ROOT, foreignSnaps);
    assert.equal(ours.snapshots.length, 7, `a snapshot of each dataset, the clone included: ${ours.snapshots.join(' ')}`);
    assert.equal(ours.holds.length, 7, 'each held');
    assert.equal(ours.mounts.length, 7, 'each mounted in the tree');
    assert.ok(journalExists(), 'the journal is on the disk that survives');
    const seen: Seen = { ours, foreign: foreignState([p1, p2], foreignSnaps), foreignSnaps };
    writeFileSync(SEEN, JSON.stringify(seen));
    step(`cutting the power with ${ours.snapshots.length} snapshots held and mounted`);
  } catch (e) {
    // What the run said, then it goes (its mounts would keep the pools busy).
    child?.kill('SIGKILL');
    if (running) console.error((await running).stderr);
    p1.destroy();
    p2.destroy();
    throw e;
  }
  writeFileSync('/mnt/ctl/power-cut', 'exec bash ./test/vm/guest-powercut.sh after\n');
  writeFileSync('/proc/sys/kernel/sysrq', '1');
  writeFileSync('/proc/sysrq-trigger', 'b');
  await sleep(60_000);
  assert.fail('the guest was not reset');
});
