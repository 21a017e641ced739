// Issue 10, a tree large enough for the batch commands to split: one mount
// process per depth level, two unmount processes side by side, whatever the
// number of datasets; and a busy mount inside such a batch is still named,
// kept with its folder, and makes the run exit 5. Checked with the argv that
// wrappers on PATH logged and the mount table.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { PARALLEL_UNMOUNT_MIN } from '../../src/plan/mounts.js';
import { MOUNT2_SCRIPT, UMOUNT2_SCRIPT } from '../../src/platform/syscall-batch.js';
import { argvLogger, CLEAN, KOPIATOMIC, leftovers, mountsUnder, Pool, run, scratchDir, script, sh, type ExecResult } from './lib.js';

// The smallest tree whose unmount batch splits in two (the pool root, home
// and the users): each dataset costs a `zfs create`, a mount and an unmount
// of some 0.4 s in the emulated guest, so not one more than the split needs.
const USERS = PARALLEL_UNMOUNT_MIN - 2;
// A run of the whole tree takes some 20 s in a quiet emulated guest, and
// more than the helper's default 120 s limit when other guests share the
// host's cores (seen at a load of 19 on 2 cores); a hung run is still
// stopped by the rig's limit on a silent guest.
const LONG = { timeoutMs: 600_000 };
const why = (r: ExecResult) => r.stderr + r.events.filter((e) => e['event'] === 'log').map((e) => JSON.stringify(e)).join('\n');

// One pool for both tests: making it is a third of their time, and each test
// leaves it as it found it (no snapshot, hold or mount of ours: asserted).
let pool: Pool;
before(() => {
  pool = Pool.create(['home']);
  const names = Array.from({ length: USERS }, (_, i) => `${pool.ds('home')}/u${String(i).padStart(3, '0')}`);
  sh('sh', '-c', 'for n; do zfs create "$n" || exit 1; done', 'sh', ...names);
});
after(() => pool?.destroy());

test(`a tree of ${USERS + 2} datasets: one mount process per level, two unmount processes side by side (a third of the users; the rest, then the parents), every mount gone`, async () => {
  const root = '/kt-scale';
  const work = scratchDir('scale');
  // perl carries the batches on Linux (mount(2) per snapshot of a level, umount2 per target);
  // mount(8) and umount(8) are its fallbacks, and umount(8) unmounts one by one after a failed batch.
  const { env, logged } = argvLogger(work, ['mount', 'umount', 'perl']);
  const r = await run(KOPIATOMIC, ['--json', '--mount-root', root, '--engine', 'command', '-c', 'true', '-r', pool.name], { env, ...LONG });
  assert.equal(r.code, 0, why(r));
  assert.deepEqual(leftovers([pool], root), CLEAN);
  const carrier = (script: string) => (a: string[]) => a[0] === 'perl' && a[3] === script;
  const mounts = logged().filter(carrier(MOUNT2_SCRIPT));
  const umounts = logged().filter((a) => a[0] === 'umount');
  assert.equal(mounts.length, 3, 'three levels: the pool root, home, the users');
  assert.equal(logged().filter((a) => a[0] === 'mount').length, 0, 'no mount(8): perl is there');
  // The batch: two processes side by side (either may have logged first).
  const batch = logged().filter(carrier(UMOUNT2_SCRIPT));
  assert.equal(batch.length, 2);
  const targets = (a: string[]) => a.filter((w) => w.startsWith(`${root}/`));
  const [leaves, rest] = targets(batch[0]!).includes(`${root}/${pool.name}`) ? [batch[1]!, batch[0]!] : [batch[0]!, batch[1]!];
  const users = (a: string[]) => targets(a).filter((t) => t.startsWith(`${root}/${pool.name}/home/u`));
  assert.equal(users(leaves).length, targets(leaves).length, 'one has users only');
  assert.equal(users(leaves).length, Math.floor(USERS / 3), 'a third of them');
  assert.deepEqual(rest.slice(-2), [`${root}/${pool.name}/home`, `${root}/${pool.name}`], 'the other has the rest, then the parents, children first');
  assert.equal(new Set([...targets(leaves), ...targets(rest)]).size, USERS + 2, 'every mount once');
  // umount(8) only for a parent the second reached too early, one by one.
  for (const a of umounts) assert.ok(a.length === 2 && [`${root}/${pool.name}/home`, `${root}/${pool.name}`].includes(a[1]!), `only a parent: ${a.join(' ')}`);
  assert.ok(umounts.length <= 2);
});

test('a busy mount in a split batch: it and its parents stay mounted with their folders, the rest is gone, exit 5; cleanup repairs once it is free', async (t) => {
  const root = '/kt-scale-busy';
  const work = scratchDir('scale-busy');
  const user = 'u007';
  const engine = script(work, 'leave-busy', `cd "$1"/*/home/${user} && { sleep 300 </dev/null >/dev/null 2>&1 & echo $! > ${work}/pid; }`);
  // A failed assertion must not leave the mount busy for the shared pool's destroy.
  t.after(() => {
    try {
      process.kill(Number(readFileSync(`${work}/pid`, 'utf8')), 'SIGKILL');
    } catch {
      // gone already, or never started
    }
  });
  const r = await run(KOPIATOMIC, ['--json', '--mount-root', root, '--engine', 'command', '-c', engine, '-r', pool.name], LONG);
  assert.equal(r.code, 5, why(r));
  const left = mountsUnder(root).map((m) => m.target).sort();
  assert.deepEqual(left, [`${root}/${pool.name}`, `${root}/${pool.name}/home`, `${root}/${pool.name}/home/${user}`], 'the busy one and its parents');
  assert.match(r.stderr + r.stdout, new RegExp(`umount failed.*${root}/${pool.name}/home/${user}`), 'the busy mount is named');
  process.kill(Number(readFileSync(`${work}/pid`, 'utf8')), 'SIGKILL');
  await new Promise((res) => setTimeout(res, 500));
  const c = await run(KOPIATOMIC, ['cleanup', '--json', '--mount-root', root], LONG);
  assert.equal(c.code, 0, why(c));
  assert.deepEqual(leftovers([pool], root), CLEAN);
});
