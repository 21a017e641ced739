// Threat: the batch carriers lie or are missing. On Linux one perl process
// calls mount(2) per snapshot of a level, and one calls umount2(2) per
// target (platform/syscall-batch.ts). A carrier that says it is done but
// did nothing must not be believed (the mount table decides: a mount that is
// not there fails the backup; what is still mounted is unmounted one by
// one); a machine without perl mounts with mount(8) and unmounts with
// umount(8); a symlink where a target was is never followed.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { test } from 'node:test';
import { umount2Argv } from '../../../src/platform/syscall-batch.js';
import { argvLogger, CLEAN, KOPIATOMIC, leftovers, mounts, Pool, run, scratchDir, script, sh, shOk } from '../lib.js';
import { forgetRoot, gone } from './common.js';

test('a batch unmount that exits 0 and reports every target but unmounts nothing: not believed, each is unmounted by umount(8), nothing left, exit 0', async (t) => {
  const root = `/kt-liar-${process.pid}`;
  const pool = Pool.create(['a', 'a/b', 'c']);
  const work = scratchDir('liar');
  // "perl" on PATH: for an unmount (a path after the carrier's seven words
  // -T -e SCRIPT -- NR ARCH FLAGS) it reports each target and touches
  // nothing; the mounts (the type, zfs, is the eighth word) are the real perl's.
  const perl = sh('sh', '-c', 'command -v perl').trim();
  script(work, 'perl', `case "$8" in /*) ;; *) exec ${perl} "$@" ;; esac\necho "$*" >> ${work}/called\nshift 7\nfor t in "$@"; do echo "$t"; done\nexit 0`);
  t.after(() => {
    pool.destroy();
    forgetRoot(root);
  });
  const r = await run(KOPIATOMIC, ['--json', '--mount-root', root, '--engine', 'command', '-c', 'true', '-r', pool.ds()], {
    env: { PATH: `${work}:${process.env['PATH']}` },
  });
  assert.ok(readFileSync(`${work}/called`, 'utf8').includes(`${root}/${pool.name}`), 'the lying carrier was asked to unmount the tree');
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(leftovers([pool], root), CLEAN);
  assert.ok(gone(root));
});

test('a batch mount that exits 0 and reports every target but mounts nothing: not believed, the backup of the empty tree fails, nothing left', async (t) => {
  const root = `/kt-mliar-${process.pid}`;
  const pool = Pool.create(['a', 'c']);
  writeFileSync(pool.path('a/file'), 'x');
  const work = scratchDir('mliar');
  // "perl" on PATH: a mount (the type, zfs, as the eighth word) reports each
  // target and mounts nothing; an unmount is the real perl's.
  const perl = sh('sh', '-c', 'command -v perl').trim();
  script(work, 'perl', `case "$8" in /*) exec ${perl} "$@" ;; esac\necho "$*" >> ${work}/called\nshift 8\nwhile [ $# -ge 2 ]; do echo "$2"; shift 2; done\nexit 0`);
  t.after(() => {
    pool.destroy();
    forgetRoot(root);
  });
  // One level (two siblings): the engine runs, over empty folders.
  const engine = script(work, 'engine', `ls -A ${root}/${pool.name}/a > ${work}/seen`);
  const r = await run(KOPIATOMIC, ['--json', '--mount-root', root, '--engine', 'command', '-c', engine, pool.ds('a'), pool.ds('c')], {
    env: { PATH: `${work}:${process.env['PATH']}` },
  });
  assert.ok(readFileSync(`${work}/called`, 'utf8').includes(`${root}/${pool.name}/a`), 'the lying carrier was asked to mount the tree');
  assert.equal(readFileSync(`${work}/seen`, 'utf8'), '', 'the engine saw an empty folder where the snapshot was to be');
  assert.notEqual(r.code, 0, 'not a success');
  assert.deepEqual(leftovers([pool], root), CLEAN);
  assert.ok(gone(root));
});

/** A backup of POOL/a and POOL/b, run with `env`; what the engine read and every mount(8) and umount(8) it ran. */
async function fallbackRun(t: { after: (f: () => void) => void }, tag: string, hide: (work: string) => { env: NodeJS.ProcessEnv; restore: () => void }) {
  const root = `/kt-${tag}-${process.pid}`;
  const pool = Pool.create(['a', 'b']);
  writeFileSync(pool.path('a/file'), 'frozen');
  const work = scratchDir(tag);
  const { env, logged } = argvLogger(work, ['umount', 'mount']);
  const h = hide(work);
  t.after(() => {
    h.restore();
    pool.destroy();
    forgetRoot(root);
  });
  const engine = script(work, 'engine', `cat ${root}/${pool.name}/a/file > ${work}/seen`);
  const r = await run(KOPIATOMIC, ['--json', '--mount-root', root, '--engine', 'command', '-c', engine, '-r', pool.ds()], { env: { ...env, ...h.env, PATH: `${h.env['PATH'] ?? ''}${env['PATH']}` } });
  h.restore();
  assert.equal(r.code, 0, r.stderr);
  assert.equal(readFileSync(`${work}/seen`, 'utf8'), 'frozen', 'the engine read the file from the snapshot');
  const mo = logged().filter((a) => a[0] === 'mount');
  assert.deepEqual(mo.map((a) => a.slice(1, 5)), [['--all', '--internal-only', '--verbose', '--fstab'], ['--all', '--internal-only', '--verbose', '--fstab']], 'one mount(8) per level, over its table');
  const um = logged().filter((a) => a[0] === 'umount');
  assert.deepEqual(um.map((a) => a.slice(0, 2)), [['umount', '-v']], 'one batch, reporting its progress');
  assert.deepEqual(um[0]!.slice(2).sort(), [`${root}/${pool.name}`, `${root}/${pool.name}/a`, `${root}/${pool.name}/b`]);
  assert.deepEqual(leftovers([pool], root), CLEAN);
}

test('no perl on the machine: each level is mounted by mount(8) over its table, the batch unmounted by one umount -v process; the engine sees the snapshots, nothing left, exit 0', async (t) => {
  const perl = sh('sh', '-c', 'command -v perl').trim();
  const hidden = `${perl}.kt-hidden-${process.pid}`;
  await fallbackRun(t, 'noperl', () => {
    renameSync(perl, hidden);
    assert.equal(shOk('sh', '-c', 'command -v perl'), false, 'perl is hidden');
    return { env: {}, restore: () => existsSync(hidden) && renameSync(hidden, perl) };
  });
});

test('a perl that refuses to run here (exit 3 before any call, as one built for another ABI does): mount(8) and umount -v instead, the engine sees the snapshots, nothing left, exit 0', async (t) => {
  await fallbackRun(t, 'refuse', (work) => {
    // "perl" first on PATH: says what another ABI's perl says, calls nothing.
    mkdirSync(`${work}/refuse`);
    script(`${work}/refuse`, 'perl', `echo "$*" >> ${work}/called\necho 'mount2: perl is built for ELF machine 3, class 1, not machine 62, class 2' >&2\nexit 3`);
    return { env: { PATH: `${work}/refuse:` }, restore: () => {} };
  });
});

test('the umount2 carrier does not follow a symlink put where a target was: the mount it points to stays; the real target is unmounted', { skip: umount2Argv([]) ? false : 'an architecture without the umount2 carrier' }, (t) => {
  const work = scratchDir('nofollow');
  const target = `${work}/target`;
  const link = `${work}/link`;
  mkdirSync(target);
  sh('mount', '-t', 'tmpfs', '-o', 'size=1m', 'kt-nofollow', target);
  t.after(() => {
    if (mounts().some((m) => m.target === target)) sh('umount', target);
    rmSync(work, { recursive: true, force: true });
  });
  symlinkSync(target, link);
  const argv = umount2Argv([link])!;
  assert.equal(shOk(argv[0]!, ...argv.slice(1)), false, 'the link is not a mount point');
  assert.ok(mounts().some((m) => m.target === target), 'the mount behind the link is still there');
  const ok = umount2Argv([target])!;
  assert.equal(sh(ok[0]!, ...ok.slice(1)), `${target}\n`, 'it reports the target it unmounted');
  assert.equal(mounts().some((m) => m.target === target), false, 'the target itself is unmounted');
});
