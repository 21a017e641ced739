// Issue 9, ownership and leftovers: recovery and cleanup destroy only what a
// dead run of this host made (never a replica received on a backup pool), a
// leftover that cannot be removed (a clone) is reported and does not stop the
// backup, only folders the journal says we created are removed (a user's
// folders and what a bind mount shows stay), and a setup step that fails
// cleanly gives exit 4 and leaves nothing. Every check reads the system.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { test } from 'node:test';
import { argvLogger, CLEAN, KOPIATOMIC, leftovers, mountsUnder, Pool, run, scratchDir, script, sh, shOk, zfs, type ExecResult } from './lib.js';

const STATE = '/run/kopiatomic';
const JOURNALS = '/var/lib/kopiatomic';
const key = (root: string) => encodeURIComponent(root);

function forgetState(root: string): void {
  rmSync(`${STATE}/${key(root)}.lock`, { force: true });
  rmSync(`${JOURNALS}/${key(root)}.leftovers`, { force: true });
  rmSync(`${JOURNALS}/${key(root)}.journal`, { force: true });
  rmSync(`${STATE}/${key(root)}.journal`, { force: true });
}

/** As on a host's first run: the journals are not known to be a complete record, so the next run scans every pool. */
function forgetRecord(): void {
  rmSync(`${JOURNALS}/record-complete`, { force: true });
}

function teardown(pools: Pool[], root: string): void {
  for (const p of pools) p.destroy();
  for (const m of mountsUnder(root).reverse()) shOk('umount', '-f', m.target);
  if (mountsUnder(root).length === 0) rmSync(root, { recursive: true, force: true });
  forgetState(root);
}

function ourSnapshots(p: Pool): string[] {
  return p.snapshots().filter((s) => s.includes('@kopiatomic-'));
}

function exists(ds: string): boolean {
  return shOk('zfs', 'list', '-H', '-o', 'name', ds);
}

function sourceOf(snap: string, prop: string): string {
  return zfs('get', '-H', '-o', 'source', prop, snap).trim();
}

/** Nothing of ours in the pools, no mount root, no journal. */
function assertNothingLeft(pools: Pool[], root: string, msg: string): void {
  assert.deepEqual(leftovers(pools, root), CLEAN, msg);
  assert.equal(existsSync(root), false, `${msg}: no mount root folder`);
  assert.equal(existsSync(`${JOURNALS}/${key(root)}.journal`), false, `${msg}: no journal`);
}

/** What the run said, for assertion messages only. */
function why(r: ExecResult): string {
  return r.stderr + r.events.filter((e) => e['event'] === 'log' || e['event'] === 'leftover').map((e) => JSON.stringify(e)).join('\n');
}

const cmd = (root: string, c: string) => ['--json', '--mount-root', root, '--engine', 'command', '-c', c];

test('a replica of our snapshot received on a backup pool (zfs send -R | zfs recv) survives the next run and `cleanup`; ours are removed', async (t) => {
  const root = '/kt-own-replica';
  const pool = Pool.create(['a', 'a/b']);
  const backup = Pool.create([]);
  const work = scratchDir('own-replica');
  t.after(() => teardown([pool, backup], root));
  // The "backup engine" replicates the run's snapshots, then the run dies (SIGKILL) mid-backup.
  const engine = script(work, 'replicate.sh', `zfs send -R "${pool.ds('a')}@$KOPIATOMIC_SNAPSHOT" | zfs recv -u -d ${backup.name} || exit 9\nkill -9 $PPID\nsleep 1`);
  const r1 = await run(KOPIATOMIC, [...cmd(root, engine), '-r', pool.ds('a')]);
  assert.equal(r1.signal ?? r1.code, 'SIGKILL', why(r1));
  const replicas = backup.snapshots().filter((s) => s.includes('@kopiatomic-'));
  assert.equal(replicas.length, 2, `replicated: ${replicas.join(' ')}`);
  for (const s of replicas) assert.equal(sourceOf(s, 'kopiatomic:run'), 'received', 'zfs recv marks the copied property received');
  assert.equal(ourSnapshots(pool).length, 2);

  // The next run (with every pool scanned, so the replica is a candidate too) removes ours, not the replica.
  forgetRecord();
  const r2 = await run(KOPIATOMIC, [...cmd(root, 'true'), '-r', pool.ds('a')]);
  assert.equal(r2.code, 0, why(r2));
  assert.deepEqual(leftovers([pool], root), CLEAN, 'ours are gone');
  assert.deepEqual(backup.snapshots().filter((s) => s.includes('@kopiatomic-')), replicas, 'the replica is intact after the next run');

  const r3 = await run(KOPIATOMIC, ['cleanup', '--json', '--mount-root', root]);
  assert.equal(r3.code, 0, why(r3));
  assert.deepEqual(backup.snapshots().filter((s) => s.includes('@kopiatomic-')), replicas, 'the replica is intact after cleanup');
  assertNothingLeft([pool], root, 'after cleanup');
});

test('a user clones our snapshot during the backup: the destroy program refuses, the exact destroy removes the rest by exact names; exit 5; the clone survives; once it is gone cleanup removes it', async (t) => {
  const root = '/kt-own-clone-live';
  const pool = Pool.create(['a', 'b']);
  const work = scratchDir('own-clone-live');
  t.after(() => teardown([pool], root));
  const { env, logged } = argvLogger(work, ['zfs']);
  const engine = script(work, 'clone.sh', `zfs clone "${pool.ds('a')}@$KOPIATOMIC_SNAPSHOT" ${pool.ds('userclone')}`);
  const r = await run(KOPIATOMIC, [...cmd(root, engine), pool.ds('a'), pool.ds('b')], { env });
  assert.equal(r.code, 5, why(r));
  // (The read-only program, `zfs program -n`, only reads the identities after the snapshot.)
  const destroys = logged().filter((a) => (a[1] === 'program' && a[2] !== '-n') || a[1] === 'destroy');
  const snap = ourSnapshots(pool)[0]!.split('@')[1]!;
  assert.deepEqual(
    destroys.map((a) => a.slice(0, a[1] === 'program' ? 4 : 3).join(' ')),
    [`zfs program -j ${pool.name}`, `zfs program -j ${pool.name}`, `zfs destroy ${pool.ds('a')}@${snap}`, `zfs destroy ${pool.ds('b')}@${snap}`],
    'the program, then the exact destroy: the program at the names found, then each exact name; never -r',
  );
  assert.ok(exists(pool.ds('userclone')), 'the clone survives');
  const left = ourSnapshots(pool);
  assert.deepEqual(left, [`${pool.ds('a')}@${snap}`], 'only the cloned snapshot is left');
  for (const s of left) assert.equal(sh('zfs', 'holds', '-H', s).trim(), '', `our hold on ${s} was released`);
  assert.deepEqual(mountsUnder(root), []);

  zfs('destroy', pool.ds('userclone'));
  const c = await run(KOPIATOMIC, ['cleanup', '--json', '--mount-root', root]);
  assert.equal(c.code, 0, why(c));
  assertNothingLeft([pool], root, 'after the clone is gone');
});

test('a dead run\'s snapshot that a user cloned: the next run warns, backs up and exits 0; the clone survives; cleanup exits 5 until the clone is gone', async (t) => {
  const root = '/kt-own-clone';
  const pool = Pool.create(['a', 'b']);
  const work = scratchDir('own-clone');
  t.after(() => teardown([pool], root));
  const engine = script(work, 'clone.sh', `zfs clone "${pool.ds('a')}@$KOPIATOMIC_SNAPSHOT" ${pool.ds('userclone')} || exit 9\nkill -9 $PPID\nsleep 1`);
  const r1 = await run(KOPIATOMIC, [...cmd(root, engine), pool.ds('a'), pool.ds('b')]);
  assert.equal(r1.signal ?? r1.code, 'SIGKILL', why(r1));
  const dead = ourSnapshots(pool);
  assert.equal(dead.length, 2);
  const cloned = dead.find((s) => s.startsWith(pool.ds('a') + '@'))!;

  const marker = `${work}/backed-up`;
  const backupCmd = script(work, 'backup.sh', `echo "$@" >> '${marker}'`);
  const r2 = await run(KOPIATOMIC, [...cmd(root, backupCmd), pool.ds('a'), pool.ds('b')]);
  assert.equal(r2.code, 0, why(r2));
  assert.ok(existsSync(marker), 'the backup ran');
  assert.ok(exists(pool.ds('userclone')), 'the clone survives');
  assert.deepEqual(ourSnapshots(pool), [cloned], 'only the cloned snapshot is left; the new run left nothing');
  assert.equal(sh('zfs', 'holds', '-H', cloned).trim(), '', 'our hold on it was released');
  assert.deepEqual(mountsUnder(root), []);
  assert.match(r2.stderr + r2.stdout, new RegExp(cloned.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')), 'it names the leftover');

  // A later run does not stop either.
  const r3 = await run(KOPIATOMIC, [...cmd(root, backupCmd), pool.ds('a'), pool.ds('b')]);
  assert.equal(r3.code, 0, why(r3));
  assert.equal(readdirSync(work).includes('backed-up'), true);

  const r4 = await run(KOPIATOMIC, ['cleanup', '--json', '--mount-root', root]);
  assert.equal(r4.code, 5, why(r4));
  assert.ok(exists(pool.ds('userclone')) && ourSnapshots(pool).includes(cloned), 'cleanup never destroys the clone');

  zfs('destroy', pool.ds('userclone'));
  const r5 = await run(KOPIATOMIC, ['cleanup', '--json', '--mount-root', root]);
  assert.equal(r5.code, 0, why(r5));
  assertNothingLeft([pool], root, 'after the clone is gone');
});

test('--mount-root at an existing folder with a user\'s empty folders: cleanup and a refused run leave them', async (t) => {
  const root = '/kt-own-userdirs';
  const pool = Pool.create(['a']);
  t.after(() => teardown([pool], root));
  mkdirSync(`${root}/u1/u2`, { recursive: true });
  mkdirSync(`${root}/u3`, { recursive: true });
  const r1 = await run(KOPIATOMIC, ['cleanup', '--json', '--mount-root', root]);
  assert.equal(r1.code, 0, why(r1));
  assert.ok(existsSync(`${root}/u1/u2`) && existsSync(`${root}/u3`), 'cleanup left the user\'s folders');
  const r2 = await run(KOPIATOMIC, [...cmd(root, 'true'), pool.ds('a')]);
  assert.equal(r2.code, 4, why(r2));
  assert.ok(existsSync(`${root}/u1/u2`) && existsSync(`${root}/u3`), 'a refused run left them');
  assert.deepEqual(ourSnapshots(pool), []);
});

test('a bind mount of a sub-folder under the mount root is never walked into', async (t) => {
  const root = '/kt-own-bind';
  const outside = scratchDir('own-outside');
  t.after(() => {
    shOk('umount', `${root}/bind`);
    rmSync(outside, { recursive: true, force: true });
    teardown([], root);
  });
  mkdirSync(`${outside}/empty1/empty2`, { recursive: true });
  mkdirSync(`${root}/bind`, { recursive: true });
  sh('mount', '--bind', outside, `${root}/bind`);
  const r = await run(KOPIATOMIC, ['cleanup', '--json', '--mount-root', root]);
  assert.ok(existsSync(`${outside}/empty1/empty2`), `the folders the bind mount shows are untouched (exit ${r.code}): ${r.stderr}`);
  assert.deepEqual(mountsUnder(root).map((m) => m.target), [`${root}/bind`], 'the bind mount is still there');
  assert.equal(r.code, 0, why(r));
});

test('a failed `zfs snapshot` (the pre hook destroyed a selected dataset) gives exit 4 and leaves nothing', async (t) => {
  const root = '/kt-own-snapfail';
  const pool = Pool.create(['a', 'b']);
  t.after(() => teardown([pool], root));
  const r = await run(KOPIATOMIC, [...cmd(root, 'true'), '-p', `zfs destroy ${pool.ds('b')}`, pool.ds('a'), pool.ds('b')]);
  assert.equal(r.code, 4, why(r));
  assert.equal(exists(pool.ds('b')), false, 'the hook did destroy it');
  assertNothingLeft([pool], root, 'after the failed snapshot');
});

test('a mount root whose parent folder is missing gives exit 4 and leaves nothing', async (t) => {
  const top = '/kt-own-noparent';
  const root = `${top}/deeper/root`;
  const pool = Pool.create(['a']);
  t.after(() => teardown([pool], root));
  rmSync(top, { recursive: true, force: true });
  const r = await run(KOPIATOMIC, [...cmd(root, 'true'), pool.ds('a')]);
  assert.equal(r.code, 4, why(r));
  assertNothingLeft([pool], root, 'after the failed mkdir');
  assert.equal(existsSync(top), false);
});

test('the pre hook creates the folder the plan meant to create: the run fails (exit 4) and that folder survives', async (t) => {
  const root = '/kt-own-hookdir';
  const pool = Pool.create(['a']);
  t.after(() => {
    rmSync(`${root}.hook-ran`, { force: true });
    teardown([pool], root);
  });
  rmSync(root, { recursive: true, force: true });
  const r = await run(KOPIATOMIC, [...cmd(root, 'true'), '-p', `mkdir ${root} && touch ${root}.hook-ran`, pool.ds('a')]);
  assert.ok(existsSync(`${root}.hook-ran`), 'the hook ran');
  assert.equal(r.code, 4, why(r));
  assert.ok(existsSync(root), 'the folder the hook made is still there');
  assert.deepEqual(ourSnapshots(pool), []);
  assert.deepEqual(mountsUnder(root), []);
});

test('`kopiatomic A A/B/C` with A/B mounted but not selected is refused up front (exit 2, names A/B), nothing is made', async (t) => {
  const root = '/kt-own-nested';
  const pool = Pool.create(['a', 'a/b', 'a/b/c']);
  t.after(() => teardown([pool], root));
  writeFileSync(pool.path('a/b/c/file'), 'x\n');
  const r = await run(KOPIATOMIC, [...cmd(root, 'true'), pool.ds('a'), pool.ds('a/b/c')]);
  assert.equal(r.code, 2, why(r));
  assert.match(r.stderr + r.stdout, new RegExp(`${pool.ds('a/b')}\\b`));
  assertNothingLeft([pool], root, 'after the refusal');
  // Selecting A/B too works.
  const ok = await run(KOPIATOMIC, [...cmd(root, 'true'), pool.ds('a'), pool.ds('a/b'), pool.ds('a/b/c')]);
  assert.equal(ok.code, 0, why(ok));
  assertNothingLeft([pool], root, 'after the run');
});
