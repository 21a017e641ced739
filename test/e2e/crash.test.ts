// Issue 4, "Must show": a run killed with SIGKILL at each phase is repaired by
// `cleanup` or by the next run (zero snapshots, holds, mounts and folders of
// ours; the next backup works; `restic check` passes); two runs started at
// once: one backs up, the other exits 6; stale locks are taken over; recovery
// never touches snapshots that are not ours; holds guard our snapshots during
// the backup. Faults come from the test-only KOPIATOMIC_TEST_FAULT switch.
import assert from 'node:assert/strict';
import { chmodSync, existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { test } from 'node:test';
import {
  alive,
  CLEAN,
  KOPIATOMIC,
  leftovers,
  mountsUnder,
  Pool,
  procsWithArg,
  restic,
  resticRepo,
  RESTOMIC,
  run,
  scratchDir,
  sh,
  shOk,
  startRun,
  summary,
  waitFor,
  zfs,
  type ExecResult,
} from './lib.js';
import { linux } from '../../src/platform/linux.js';
import { ownerOf } from '../../src/zfs/naming.js';

const STATE = '/run/kopiatomic';
const lockFile = (root: string) => `${STATE}/${encodeURIComponent(root)}.lock`;
const journalFile = (root: string) => `/var/lib/kopiatomic/${encodeURIComponent(root)}.journal`;
const tableFile = (root: string) => `${STATE}/${encodeURIComponent(root)}.mounts`;

/** The undo entries a journal holds for `phase` (written before the change was made). */
function journalUndos(root: string, phase: string): string[] {
  return readFileSync(journalFile(root), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { op: string; phase?: string; action?: { argv?: string[] } })
    .filter((l) => l.op === 'undo' && l.phase === phase)
    .map((l) => String(l.action?.argv?.at(-1)));
}
function bootId(): string {
  return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
}

/** A command engine that stays in its backup until `go` exists; optionally sits in a folder (keeping that mount busy). */
function holdingEngine(work: string): { cmd: string; env: NodeJS.ProcessEnv; go: string; pidfile: string; count: string } {
  const p = `${work}/engine.sh`;
  const go = `${work}/go`;
  const pidfile = `${work}/engine.pid`;
  const count = `${work}/engine.count`;
  writeFileSync(
    p,
    `#!/bin/sh\n[ -z "$KT_CD" ] || cd "$KT_CD" || exit 9\necho started >> '${count}'\necho $$ > '${pidfile}.tmp' && mv '${pidfile}.tmp' '${pidfile}'\nwhile [ ! -e '${go}' ]; do sleep 0.2; done\nexit 0\n`,
  );
  chmodSync(p, 0o755);
  return { cmd: p, env: {}, go, pidfile, count };
}

function warned(r: ExecResult, re: RegExp): boolean {
  return r.events.some((e) => e['event'] === 'log' && e['level'] === 'warn' && re.test(String(e['message'])));
}

function fill(pool: Pool, rels: string[]): void {
  for (const rel of rels) {
    writeFileSync(pool.path(rel ? `${rel}/file.txt` : 'top.txt'), `content of ${rel || 'the pool root'}\n`);
    sh('dd', 'if=/dev/urandom', `of=${pool.path(rel ? `${rel}/blob` : 'blob')}`, 'bs=64k', 'count=4', 'status=none');
  }
}

/** Zero snapshots, holds, mounts and folders of ours; no lock and no journal left. */
function assertClean(pools: Pool[], root: string, msg = ''): void {
  assert.deepEqual(leftovers(pools, root), CLEAN, msg);
  assert.equal(existsSync(root), false, `${msg} the mount root folder ${root} is gone`);
  assert.equal(existsSync(lockFile(root)), false, `${msg} no lock file`);
  assert.equal(existsSync(journalFile(root)), false, `${msg} no journal`);
  assert.equal(existsSync(tableFile(root)), false, `${msg} no mount table`);
}

function assertResticOk(env: NodeJS.ProcessEnv, snapshots: number): void {
  const out = restic(env, 'check');
  assert.match(out, /no errors were found/);
  const snaps = JSON.parse(restic(env, 'snapshots', '--json')) as unknown[];
  assert.equal(snaps.length, snapshots, 'restic snapshots');
}

/** Never leave the host worse for the next test: engines, pools, mount root, state files. */
function teardown(pools: Pool[], root: string): void {
  for (const pid of procsWithArg(root)) shOk('kill', '-9', String(pid));
  for (const p of pools) p.destroy();
  for (const m of mountsUnder(root).reverse()) shOk('umount', '-f', m.target);
  if (mountsUnder(root).length === 0) rmSync(root, { recursive: true, force: true });
  rmSync(lockFile(root), { force: true });
  rmSync(journalFile(root), { force: true });
  rmSync(tableFile(root), { force: true });
}

// ---------------------------------------------------------------- SIGKILL at each phase

/** The next backup after a killed run: takes over its stale lock, repairs, backs up (ok), leaves nothing; the repository holds `backups` snapshots and checks. */
async function nextRunRepairs(pool: Pool, root: string, env: NodeJS.ProcessEnv, backups: number): Promise<void> {
  const b = await run(RESTOMIC, ['--json', '--mount-root', root, '-r', pool.name], { env });
  assert.equal(b.code, 0, b.stderr);
  assert.ok(warned(b, /took over a stale lock/));
  assert.equal(summary(b)?.['status'], 'ok');
  assertClean([pool], root);
  assertResticOk(env, backups);
}

/** What a case of the table sees: its pools (the first is `pool`), mount root, restic repository and backup arguments. */
interface Killed {
  pools: Pool[];
  pool: Pool;
  root: string;
  env: NodeJS.ProcessEnv;
  args: string[];
  /** A path below the mount root: where the run mounts the dataset at `rel` of the first pool. */
  at: (rel: string) => string;
}

/**
 * A restomic run killed (SIGKILL) by the fault switch at one phase: what it
 * must have left (`left`, after `settle` waited for its orphans) and how
 * that is repaired (`repair`).
 */
interface KillCase {
  name: string;
  root: string;
  /** The datasets of each pool made (one pool unless two are given), and the ones filled with files. */
  pools: { datasets: string[]; fill: string[] }[];
  fault: string;
  settle?: (k: Killed) => Promise<void>;
  left: (left: ReturnType<typeof leftovers>, k: Killed) => void;
  repair: (k: Killed) => Promise<void>;
}

const KILL_CASES: KillCase[] = [
  {
    name: 'SIGKILL after the snapshot: `restomic cleanup` takes over the stale lock and repairs; the next backup works; restic check passes',
    root: '/kt-crash-snap',
    pools: [{ datasets: ['a', 'b'], fill: ['a', 'b'] }],
    fault: 'snapshot',
    left: (left, { root }) => {
      assert.equal(left.snapshots.length, 3, 'the killed run left its snapshots');
      assert.deepEqual(left.holds, [], 'killed before the hold');
      const lock = JSON.parse(readFileSync(lockFile(root), 'utf8')) as { pid: number };
      assert.equal(alive(lock.pid), false, 'the lock names a dead process');
    },
    repair: async ({ pool, root, env, args }) => {
      const c = await run(RESTOMIC, ['--json', '--mount-root', root, 'cleanup'], { env });
      assert.equal(c.code, 0, c.stderr);
      assert.ok(warned(c, /took over a stale lock of pid \d+ \(process gone\)/), 'cleanup warns that it took over the stale lock');
      assertClean([pool], root, 'after cleanup:');

      const b = await run(RESTOMIC, args, { env });
      assert.equal(b.code, 0, b.stderr);
      assert.equal(warned(b, /stale lock/), false, 'nothing stale any more');
      assertClean([pool], root, 'after the next backup:');
      assertResticOk(env, 1);
    },
  },
  {
    name: 'SIGKILL after the 2nd of 3 mount levels (3 of 4 mounts): the next run repairs, then backs up; restic check passes',
    root: '/kt-crash-mount',
    pools: [{ datasets: ['a', 'b', 'b/nested'], fill: ['', 'a', 'b', 'b/nested'] }],
    fault: 'mount:2',
    settle: () => waitFor('the orphaned hold (it runs beside the mounts) to exit', () => procsWithArg('hold').length === 0),
    left: (left) => {
      assert.equal(left.snapshots.length, 4);
      assert.equal(left.holds.length, 4, 'all four snapshots held');
      assert.equal(left.mounts.length, 3, 'the pool root, then a and b in one batch; not b/nested');
    },
    repair: ({ pool, root, env }) => nextRunRepairs(pool, root, env, 1),
  },
  {
    name: "SIGKILL during the batch mount (the 2nd level's mount process running): every undo was journaled first; the next run repairs, then backs up; restic check passes",
    root: '/kt-crash-mountbatch',
    pools: [{ datasets: ['a', 'b', 'b/nested'], fill: ['', 'a', 'b', 'b/nested'] }],
    fault: 'mount-batch:2',
    // The orphaned mount process finishes (or not) on its own.
    settle: ({ root }) => waitFor('the orphaned batch mount and hold to exit', () => procsWithArg(tableFile(root)).length === 0 && procsWithArg('hold').length === 0),
    left: (left, { root, at }) => {
      assert.deepEqual(journalUndos(root, 'umount').sort(), [at(''), at('a'), at('b')].sort(), 'both levels journaled before their mount process started');
      assert.equal(left.snapshots.length, 4);
      assert.equal(left.holds.length, 4, 'all four snapshots held');
      assert.ok(left.mounts.includes(at('')), `the first level is mounted: ${left.mounts.join(' ')}`);
      assert.ok(!left.mounts.includes(at('b/nested')), 'the third level never started');
    },
    repair: ({ pool, root, env }) => nextRunRepairs(pool, root, env, 1),
  },
  {
    name: 'SIGKILL right after the hold, which runs beside the mounts: the next run repairs whatever was mounted, then backs up; restic check passes',
    root: '/kt-crash-hold',
    pools: [{ datasets: ['a', 'b', 'b/nested'], fill: ['', 'a', 'b', 'b/nested'] }],
    fault: 'hold',
    settle: ({ root }) => waitFor('an orphaned batch mount to exit', () => procsWithArg(tableFile(root)).length === 0),
    left: (left) => {
      assert.equal(left.snapshots.length, 4);
      assert.equal(left.holds.length, 4, 'the hold was done');
      assert.ok(left.rootEntries.length > 0, 'setup had begun on the tree');
    },
    repair: ({ pool, root, env }) => nextRunRepairs(pool, root, env, 1),
  },
  {
    name: 'SIGKILL during the batch unmount (one umount process for all 3): the next run repairs, then backs up; restic check passes',
    root: '/kt-crash-umount',
    pools: [{ datasets: ['a', 'b'], fill: ['a', 'b'] }],
    fault: 'umount-batch',
    // The release of the holds was started beside the unmount (before the kill): it finishes on its own too.
    settle: ({ at }) => waitFor('the orphaned batch unmount and release to exit', () => procsWithArg(at('a')).length === 0 && procsWithArg('release').length === 0),
    left: (left) => {
      assert.ok(left.mounts.length <= 3, `mounts left: ${left.mounts.join(' ')}`);
      assert.equal(left.snapshots.length, 3);
      assert.deepEqual(left.holds, [], 'released beside the unmount');
      assert.ok(left.rootEntries.length > 0, 'the folders are left');
    },
    repair: ({ pool, root, env }) => nextRunRepairs(pool, root, env, 2), // the killed run's backup had finished
  },
  {
    name: 'SIGKILL after the batch unmount: the next run removes the folders and snapshots, then backs up',
    root: '/kt-crash-umount2',
    pools: [{ datasets: ['a', 'b'], fill: ['a', 'b'] }],
    fault: 'umount:1',
    settle: () => waitFor('the orphaned release to exit', () => procsWithArg('release').length === 0),
    left: (left) => {
      assert.deepEqual(left.mounts, [], 'one umount did all three');
      assert.equal(left.snapshots.length, 3);
      assert.deepEqual(left.holds, [], 'released beside the unmount');
    },
    repair: async ({ pool, root, env, args }) => {
      const b = await run(RESTOMIC, args, { env });
      assert.equal(b.code, 0, b.stderr);
      assertClean([pool], root);
      assertResticOk(env, 2);
    },
  },
  {
    name: 'SIGKILL during destroy (after the 1st of 2 pools): cleanup repairs; the next backup works; restic check passes',
    root: '/kt-crash-destroy',
    pools: [
      { datasets: ['a'], fill: ['a'] },
      { datasets: ['x'], fill: ['x'] },
    ],
    fault: 'destroy:1',
    left: (left) => {
      assert.equal(left.snapshots.length, 2, `one pool's snapshots are left: ${left.snapshots.join(' ')}`);
      assert.deepEqual(left.holds, [], 'released before destroy');
      assert.deepEqual(left.mounts, []);
    },
    repair: async ({ pools, root, env, args }) => {
      const c = await run(RESTOMIC, ['--json', '--mount-root', root, 'cleanup'], { env });
      assert.equal(c.code, 0, c.stderr);
      assertClean(pools, root);

      const b = await run(RESTOMIC, args, { env });
      assert.equal(b.code, 0, b.stderr);
      assertClean(pools, root);
      assertResticOk(env, 2);
    },
  },
];

for (const c of KILL_CASES) {
  test(c.name, async (t) => {
    const pools = c.pools.map((p) => Pool.create(p.datasets));
    const root = c.root;
    t.after(() => teardown(pools, root));
    const env = resticRepo();
    const pool = pools[0]!;
    const k: Killed = { pools, pool, root, env, args: ['--json', '--mount-root', root, '-r', ...pools.map((p) => p.name)], at: (rel) => `${root}${pool.path(rel)}` };
    c.pools.forEach((p, i) => fill(pools[i]!, p.fill));
    const killed = await run(RESTOMIC, k.args, { env: { ...env, KOPIATOMIC_TEST_FAULT: c.fault } });
    assert.equal(killed.signal, 'SIGKILL', killed.stderr);
    await c.settle?.(k);
    c.left(leftovers(pools, root), k);
    await c.repair(k);
  });
}

test('SIGKILL during the backup (restic): the orphaned restic finishes, cleanup repairs, the next backup works; restic check passes', async (t) => {
  const root = '/kt-crash-backup';
  const pool = Pool.create(['a', 'b']);
  const env = resticRepo();
  t.after(() => teardown([pool], root));
  fill(pool, ['a', 'b']);
  const k = await startRun(RESTOMIC, ['--json', '--mount-root', root, '-r', pool.name], { ...env, KOPIATOMIC_TEST_FAULT: 'backup' });
  assert.equal(k.signal, 'SIGKILL', k.stderr);
  // restic outlives us (as it would after an OOM kill of kopiatomic alone):
  // its open files keep the mounts busy until it is done.
  await waitFor('the orphaned restic to finish', () => procsWithArg(root).length === 0);
  const left = leftovers([pool], root);
  assert.equal(left.mounts.length, 3);
  assert.equal(left.holds.length, 3);

  const c = await run(RESTOMIC, ['--json', '--mount-root', root, 'cleanup'], { env });
  assert.equal(c.code, 0, c.stderr);
  assertClean([pool], root);

  const b = await run(RESTOMIC, ['--json', '--mount-root', root, '-r', pool.name], { env });
  assert.equal(b.code, 0, b.stderr);
  assertClean([pool], root);
  const n = (JSON.parse(restic(env, 'snapshots', '--json')) as unknown[]).length;
  assert.ok(n === 1 || n === 2, `one snapshot from the orphan (if it got that far) and one from the next run: ${n}`);
  assertResticOk(env, n);
});

test('SIGKILL during the backup (command engine that keeps a mount busy): cleanup reports it and leaves it; once the engine is gone, cleanup repairs', async (t) => {
  const root = '/kt-crash-busy';
  const pool = Pool.create(['a']);
  const work = scratchDir('crash-busy');
  t.after(() => {
    writeFileSync(`${work}/go`, '');
    teardown([pool], root);
  });
  fill(pool, ['a']);
  const eng = holdingEngine(work);
  const busyDir = `${root}${pool.path('a')}`;
  const k = await startRun(KOPIATOMIC, ['--json', '--mount-root', root, '--engine', 'command', '-c', eng.cmd, '-r', pool.name], {
    KOPIATOMIC_TEST_FAULT: 'backup',
    KT_CD: busyDir,
  });
  assert.equal(k.signal, 'SIGKILL', k.stderr);
  await waitFor('the engine to start', () => existsSync(eng.pidfile));
  const pid = Number(readFileSync(eng.pidfile, 'utf8'));
  assert.ok(alive(pid), 'the engine outlived kopiatomic');

  // The engine sits in a mount: cleanup must not force it away, and must say so.
  const c1 = await run(KOPIATOMIC, ['--json', '--mount-root', root, 'cleanup']);
  assert.equal(c1.code, 5, c1.stderr);
  assert.equal(summary(c1)?.['status'], 'cleanup-incomplete');
  assert.ok(mountsUnder(root).some((m) => m.target === busyDir), 'the busy mount is left in place');
  assert.equal(readFileSync(`${busyDir}/file.txt`, 'utf8'), 'content of a\n', 'and still readable by its user');

  process.kill(pid, 'SIGKILL');
  await waitFor('the engine to die', () => !alive(pid));
  const c2 = await run(KOPIATOMIC, ['--json', '--mount-root', root, 'cleanup']);
  assert.equal(c2.code, 0, c2.stderr);
  assertClean([pool], root);

  const b = await run(KOPIATOMIC, ['--json', '--mount-root', root, '--engine', 'command', '-c', 'ls -R', '-r', pool.name]);
  assert.equal(b.code, 0, b.stderr);
  assertClean([pool], root);
});


// ---------------------------------------------------------------- holds

test('holds: during the backup every snapshot of ours carries tag kopiatomic and cannot be destroyed; afterwards nothing is held', async (t) => {
  const root = '/kt-crash-holds';
  const pool = Pool.create(['a', 'b']);
  const work = scratchDir('crash-holds');
  t.after(() => {
    writeFileSync(`${work}/go`, '');
    teardown([pool], root);
  });
  const eng = holdingEngine(work);
  const running = run(KOPIATOMIC, ['--json', '--mount-root', root, '--engine', 'command', '-c', eng.cmd, '-r', pool.name]);
  await waitFor('the backup to start', () => existsSync(eng.pidfile));
  const ours = pool.snapshots().filter((s) => s.includes('@kopiatomic-'));
  assert.equal(ours.length, 3);
  const holds = zfs('holds', '-H', ...ours).split('\n').filter(Boolean).map((l) => l.split('\t'));
  assert.deepEqual(holds.map(([name, tag]) => `${name} ${tag}`).sort(), ours.map((s) => `${s} kopiatomic`).sort());
  for (const s of ours) assert.equal(shOk('zfs', 'destroy', s), false, `zfs destroy ${s} must fail while held`);
  const snap = ours[0]!.split('@')[1]!;
  assert.equal(shOk('zfs', 'destroy', '-r', `${pool.name}@${snap}`), false, 'zfs destroy -r must fail too');
  assert.equal(pool.snapshots().filter((s) => s.includes('@kopiatomic-')).length, 3, 'all still there');

  writeFileSync(eng.go, '');
  const r = await running;
  assert.equal(r.code, 0, r.stderr);
  assertClean([pool], root);
});

// ---------------------------------------------------------------- the lock

test('concurrent start: of two runs started at once, exactly one backs up and the other exits 6 (locked)', async (t) => {
  const root = '/kt-crash-concurrent';
  const pool = Pool.create(['a']);
  const work = scratchDir('crash-concurrent');
  t.after(() => {
    writeFileSync(`${work}/go`, '');
    teardown([pool], root);
  });
  const eng = holdingEngine(work);
  const args = ['--json', '--mount-root', root, '--engine', 'command', '-c', eng.cmd, '-r', pool.name];
  const runs = [run(KOPIATOMIC, args), run(KOPIATOMIC, args)];
  // The loser must exit on its own while the winner is still in its backup.
  // (A timer that is cleared: a pending one keeps the file's process alive after its last test.)
  let timer: NodeJS.Timeout | undefined;
  const first = await Promise.race([...runs, new Promise<null>((r) => (timer = setTimeout(() => r(null), 90_000)))]);
  clearTimeout(timer);
  assert.ok(first, 'one run exited while the other was still backing up');
  assert.equal(first.code, 6, first.stderr);
  assert.equal(summary(first)?.['status'], 'locked');
  assert.match(String(summary(first)?.['error']), /another run is using \/kt-crash-concurrent/);
  writeFileSync(eng.go, '');
  const results = await Promise.all(runs);
  assert.deepEqual(results.map((r) => r.code).sort(), [0, 6], results.map((r) => r.stderr).join('\n'));
  assert.equal(readFileSync(eng.count, 'utf8').trim().split('\n').length, 1, 'the engine ran once');
  assertClean([pool], root);
});

test('stale and live locks: a lock from an earlier boot is taken over with a warning; a live one gives exit 6, or is waited for with --wait', async (t) => {
  const root = '/kt-crash-lock';
  const pool = Pool.create(['a']);
  const args = ['--json', '--mount-root', root, '--engine', 'command', '-c', 'ls', '-r', pool.name];
  t.after(() => teardown([pool], root));
  sh('mkdir', '-p', STATE);
  // pid 1 is alive, but the lock was taken in another boot.
  writeFileSync(lockFile(root), JSON.stringify({ pid: 1, boot: '00000000-0000-4000-8000-000000000000', mountRoot: root, started: '2020-01-01T00:00:00.000Z' }) + '\n');
  const r1 = await run(KOPIATOMIC, args);
  assert.equal(r1.code, 0, r1.stderr);
  assert.ok(warned(r1, /took over a stale lock of pid 1 \(an earlier boot\)/), r1.stderr);
  assertClean([pool], root);

  // A live owner in this boot (this test process): locked, at once.
  const live = JSON.stringify({ pid: process.pid, boot: bootId(), mountRoot: root, started: new Date().toISOString() }) + '\n';
  writeFileSync(lockFile(root), live);
  const r2 = await run(KOPIATOMIC, args);
  assert.equal(r2.code, 6, r2.stderr);
  assert.equal(summary(r2)?.['status'], 'locked');
  assert.equal(readFileSync(lockFile(root), 'utf8'), live, 'the live lock is untouched');
  assert.equal(pool.snapshots().length, 0, 'nothing was done');

  // --wait: waits for the owner, then runs.
  let sawWaiting = false;
  const r3 = await run(KOPIATOMIC, ['--wait=120', ...args], {
    onEvent: (e) => {
      if (e['event'] === 'log' && /waiting for the run/.test(String(e['message'])) && !sawWaiting) {
        sawWaiting = true;
        setTimeout(() => rmSync(lockFile(root), { force: true }), 1000);
      }
    },
  });
  assert.ok(sawWaiting, 'it said it was waiting');
  assert.equal(r3.code, 0, r3.stderr);
  assertClean([pool], root);
});

// ---------------------------------------------------------------- never touch what is not ours

test("recovery never touches snapshots that are not ours: a user's named like ours, another tool's, an inherited property, a live run's", async (t) => {
  const root = '/kt-crash-foreign';
  const pool = Pool.create(['a', { name: 'u', props: { 'kopiatomic:run': '20200101T000000Z-1-000000', 'kopiatomic:owner': 'deadbeef:1' } }]);
  t.after(() => teardown([pool], root));
  const a = pool.ds('a');
  const foreign = [
    `${a}@kopiatomic-20250101T000000Z-4242-abcdef`, // a user's, named like ours, no property
    `${a}@autosnap_2026-01-01_00:00:00_daily`, // another tool's, held by it
    `${pool.ds('u')}@kopiatomic-20200101T000000Z-1-000000x`, // inherits our property, not our name for it
  ];
  zfs('snapshot', foreign[0]!);
  zfs('snapshot', '-o', 'syncoid:sync=false', foreign[1]!);
  zfs('hold', 'sanoid', foreign[1]!);
  zfs('snapshot', foreign[2]!);
  // A live run's snapshot (owner: this test process, this boot).
  const liveRun = '20260101T000000Z-1-123456';
  const liveSnap = `${a}@kopiatomic-${liveRun}`;
  zfs('snapshot', '-o', `kopiatomic:run=${liveRun}`, '-o', `kopiatomic:owner=${ownerOf(await linux.hostId({} as never), bootId(), process.pid)}`, liveSnap);
  zfs('hold', 'kopiatomic', liveSnap);
  const keep = [...foreign, liveSnap].sort();

  // A killed run leaves snapshots of ours (held, mounted) beside them.
  const k = await run(KOPIATOMIC, ['--json', '--mount-root', root, '--engine', 'command', '-c', 'ls', pool.ds('a')], { env: { KOPIATOMIC_TEST_FAULT: 'mount' } });
  assert.equal(k.signal, 'SIGKILL', k.stderr);
  const mine = pool.snapshots().filter((s) => !keep.includes(s));
  assert.equal(mine.length, 1, mine.join(' '));

  // cleanup -n: says what it would do, does nothing.
  const dry = await run(KOPIATOMIC, ['--json', '--mount-root', root, '-n', 'cleanup']);
  assert.equal(dry.code, 0, dry.stderr);
  const would = dry.events.filter((e) => e['event'] === 'recover').map((e) => String(e['command']));
  const mineSnap = mine[0]!.slice(mine[0]!.indexOf('@'));
  assert.ok(would.some((c) => c.split('\n').some((l) => l.startsWith('zfs destroy') && l.includes(mineSnap))), would.join('\n'));
  assert.ok(!would.some((c) => keep.some((s) => c.includes(s))), `would touch none of ours: ${would.join('\n')}`);
  assert.deepEqual(pool.snapshots().sort(), [...keep, ...mine].sort(), 'a dry run changes nothing');
  assert.equal(mountsUnder(root).length, 1);

  const c = await run(KOPIATOMIC, ['--json', '--mount-root', root, 'cleanup']);
  assert.equal(c.code, 0, c.stderr);
  assert.deepEqual(pool.snapshots().sort(), keep, 'only ours is gone');
  assert.deepEqual(zfs('holds', '-H', foreign[1]!).split('\t')[1], 'sanoid', "the other tool's hold stays");
  assert.match(zfs('holds', '-H', liveSnap), /\tkopiatomic\t/, "the live run's hold stays");
  assert.deepEqual(mountsUnder(root), []);
  assert.equal(existsSync(root), false);

  const b = await run(KOPIATOMIC, ['--json', '--mount-root', root, '--engine', 'command', '-c', 'ls', '-r', pool.name]);
  assert.equal(b.code, 0, b.stderr);
  assert.deepEqual(pool.snapshots().sort(), keep, 'and a full run leaves them too');
});
