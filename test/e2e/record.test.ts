// Issue 10, recovery at scale: the journals on disk are the record of our
// snapshots, so a run after a reboot finds a dead run's snapshots without
// listing every snapshot on every pool; when that record is missing (a
// host's first run, lost state) the next run scans every pool, still finds
// them, and from then on does not scan. Every check reads the system: `zfs
// list`, `zfs holds`, the mount table, and the zfs calls as a wrapper on
// PATH logged them.
import assert from 'node:assert/strict';
import { existsSync, rmSync } from 'node:fs';
import { test } from 'node:test';
import { argvLogger, CLEAN, KOPIATOMIC, leftovers, mountsUnder, Pool, run, scratchDir, script, shOk, type ExecResult } from './lib.js';

const STATE = '/run/kopiatomic';
const JOURNALS = '/var/lib/kopiatomic';
const RECORD = `${JOURNALS}/record-complete`;
const key = (root: string) => encodeURIComponent(root);

/** A zfs call that reads every snapshot on every pool: no dataset operand after the options. */
function listsEverySnapshot(argv: string[]): boolean {
  if (argv[0] !== 'zfs' || !(argv[1] === 'list' || argv[1] === 'get') || !argv.includes('snapshot')) return false;
  const operands: string[] = [];
  for (let i = 2; i < argv.length; i++) {
    const w = argv[i]!;
    if (w === '-o' || w === '-t' || w === '-s' || w === '-d') i++;
    else if (!w.startsWith('-')) operands.push(w);
  }
  // `zfs get` takes the property list as its first operand.
  return (argv[1] === 'get' ? operands.slice(1) : operands).length === 0;
}

/** As a reboot leaves things: our mounts gone, /run empty; /var/lib kept. */
function reboot(root: string): void {
  for (const m of mountsUnder(root).reverse()) shOk('umount', m.target);
  rmSync(`${STATE}/${key(root)}.lock`, { force: true });
}

function forget(root: string): void {
  for (const m of mountsUnder(root).reverse()) shOk('umount', '-f', m.target);
  if (mountsUnder(root).length === 0) rmSync(root, { recursive: true, force: true });
  for (const f of [`${STATE}/${key(root)}.lock`, `${JOURNALS}/${key(root)}.journal`, `${JOURNALS}/${key(root)}.leftovers`]) rmSync(f, { force: true });
}

const why = (r: ExecResult) => r.stderr + r.events.filter((e) => e['event'] === 'log' || e['event'] === 'leftover').map((e) => JSON.stringify(e)).join('\n');
const ours = (p: Pool) => p.snapshots().filter((s) => s.includes('@kopiatomic-'));
const cmd = (root: string, c: string) => ['--json', '--mount-root', root, '--engine', 'command', '-c', c];

test('after a reboot, a dead run of another mount root is recovered from its journal: its snapshots and holds go, and no zfs call lists every snapshot', async (t) => {
  const deadRoot = '/kt-rec-dead';
  const nextRoot = '/kt-rec-next';
  const pool = Pool.create(['a', 'b']);
  const other = Pool.create(['c']);
  const work = scratchDir('rec-journal');
  t.after(() => {
    pool.destroy();
    other.destroy();
    forget(deadRoot);
    forget(nextRoot);
  });
  // A run with the record in place (the first run of a fresh guest writes it).
  const warm = await run(KOPIATOMIC, [...cmd(nextRoot, 'true'), other.ds('c')]);
  assert.equal(warm.code, 0, why(warm));
  assert.ok(existsSync(RECORD), 'the record is marked complete after a scan');

  const killer = script(work, 'die.sh', 'kill -9 $PPID\nsleep 1');
  const r1 = await run(KOPIATOMIC, [...cmd(deadRoot, killer), pool.ds('a'), pool.ds('b')]);
  assert.equal(r1.signal ?? r1.code, 'SIGKILL', why(r1));
  const dead = ours(pool);
  assert.equal(dead.length, 2, 'the dead run left its two snapshots');
  reboot(deadRoot);

  // The next run, for another mount root and another pool.
  const { env, logged } = argvLogger(work, ['zfs']);
  const r2 = await run(KOPIATOMIC, [...cmd(nextRoot, 'true'), other.ds('c')], { env });
  assert.equal(r2.code, 0, why(r2));
  assert.deepEqual(ours(pool), [], 'the dead run\'s snapshots are destroyed');
  assert.deepEqual(leftovers([pool, other], nextRoot), CLEAN);
  const full = logged().filter(listsEverySnapshot);
  assert.deepEqual(full, [], 'no listing of every snapshot');
  const asked = logged().filter((a) => a[1] === 'get' && a.includes('kopiatomic:run,kopiatomic:owner'));
  // One finds the dead run among the journal's names, one proves them ours just before their destroy.
  assert.ok(asked.length >= 1 && asked.length <= 2, `targeted zfs get calls proved them ours (${asked.length})`);
  for (const a of asked) assert.deepEqual(a.slice(-2).sort(), [...dead].sort(), 'each asked about exactly those snapshots');

  // The dead run's own mount root: its next run removes the folders its journal lists.
  const r3 = await run(KOPIATOMIC, [...cmd(deadRoot, 'true'), pool.ds('a')]);
  assert.equal(r3.code, 0, why(r3));
  assert.deepEqual(leftovers([pool], deadRoot), CLEAN);
  assert.equal(existsSync(deadRoot), false, 'its mount root is gone');
  assert.equal(existsSync(`${JOURNALS}/${key(deadRoot)}.journal`), false, 'its journal is gone');
});

test('a dead run whose record is lost (journal and record removed): the next run scans every pool, removes its snapshots, marks the record complete, and the run after it does not scan', async (t) => {
  const deadRoot = '/kt-rec-lost';
  const nextRoot = '/kt-rec-lost2';
  const pool = Pool.create(['a']);
  const work = scratchDir('rec-lost');
  t.after(() => {
    pool.destroy();
    forget(deadRoot);
    forget(nextRoot);
  });
  const killer = script(work, 'die.sh', 'kill -9 $PPID\nsleep 1');
  const r1 = await run(KOPIATOMIC, [...cmd(deadRoot, killer), pool.ds('a')]);
  assert.equal(r1.signal ?? r1.code, 'SIGKILL', why(r1));
  assert.equal(ours(pool).length, 1);
  reboot(deadRoot);
  rmSync(`${JOURNALS}/${key(deadRoot)}.journal`, { force: true });
  rmSync(RECORD, { force: true });

  const { env, logged, clear } = argvLogger(work, ['zfs']);
  const r2 = await run(KOPIATOMIC, [...cmd(nextRoot, 'true'), pool.ds('a')], { env });
  assert.equal(r2.code, 0, why(r2));
  assert.deepEqual(ours(pool), [], 'found by the scan and destroyed');
  assert.equal(logged().filter(listsEverySnapshot).length, 1, 'one listing of every snapshot');
  assert.ok(existsSync(RECORD), 'the record is marked complete');

  clear();
  const r3 = await run(KOPIATOMIC, [...cmd(nextRoot, 'true'), pool.ds('a')], { env });
  assert.equal(r3.code, 0, why(r3));
  assert.deepEqual(logged().filter(listsEverySnapshot), [], 'the next run does not scan');
  assert.deepEqual(leftovers([pool], nextRoot), CLEAN);
});
