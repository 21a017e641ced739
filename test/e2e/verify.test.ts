// --verify end to end (issue 13): after the backup, while the snapshots are
// mounted and held, the backup is restored and compared with the frozen tree.
// Each test asserts on what the system shows (exit code, zfs list/holds, the
// mount table, the verification folder, restic's own view of the repository);
// the summary's verify object is read only for what is the feature's output
// (the counts and the paths it names).
import assert from 'node:assert/strict';
import { chmodSync, chownSync, linkSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { which } from '../../src/core/which.js';
import { CLEAN, KOPIATOMIC, leftovers, mounts, Pool, RESTOMIC, restic, resticRepo, run, scratchDir, script, sh, summary, type ExecResult } from './lib.js';

interface Verify {
  status: string;
  message?: string;
  entries: number;
  files: number;
  filesCompared: number;
  bytesCompared: number;
  differences: number;
  firstDifferences: { path: string; what: string }[];
  excluded: number;
  excludedPaths: string[];
  ms: number;
}

const verifyOf = (r: ExecResult) => summary(r)?.['verify'] as Verify | undefined;

/** Every regular file below dir (no symlinks followed): what the frozen tree holds. */
function countFiles(dir: string): number {
  let n = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.isDirectory()) n += countFiles(join(dir, e.name));
    else if (e.isFile()) n++;
  }
  return n;
}

/** The hard-to-copy content: sparse, hard links, 255-byte and unicode names, symlinks, empty files, modes, owners. */
function fill(pool: Pool): void {
  sh('truncate', '-s', '96M', pool.path('a/sparse.img'));
  sh('dd', 'if=/dev/urandom', `of=${pool.path('a/sparse.img')}`, 'bs=64k', 'count=2', 'seek=700', 'conv=notrunc', 'status=none');
  sh('dd', 'if=/dev/urandom', `of=${pool.path('a/blob')}`, 'bs=64k', 'count=24', 'status=none');
  writeFileSync(pool.path('a/file.txt'), 'hello a\n');
  linkSync(pool.path('a/file.txt'), pool.path('a/hardlink'));
  writeFileSync(pool.path(`a/${'n'.repeat(251)}.txt`), 'a 255-byte name\n');
  writeFileSync(pool.path('b/ünïcødé 日本語 ✓.txt'), 'unicode\n');
  writeFileSync(pool.path('b/empty'), '');
  symlinkSync('../a/file.txt', pool.path('b/rel-link'));
  symlinkSync('/etc/hostname', pool.path('b/abs-link'));
  symlinkSync('does-not-exist', pool.path('b/dangling'));
  writeFileSync(pool.path('b/suid'), '#!/bin/sh\n');
  chmodSync(pool.path('b/suid'), 0o4755);
  writeFileSync(pool.path('b/nested/secret'), 'secret\n');
  chmodSync(pool.path('b/nested/secret'), 0o600);
  chownSync(pool.path('b/nested/secret'), 1234, 5678);
  sh('mkdir', '-m', '2775', pool.path('b/nested/shared'));
  chownSync(pool.path('b/nested/shared'), 1234, 5678);
  writeFileSync(pool.path('b/nested/shared/x'), 'x\n');
}

/** The verification folder is empty again, and nothing of ours is left on the system. */
function assertNothingLeft(pools: Pool[], root: string, vdir: string): void {
  assert.deepEqual(leftovers(pools, root), CLEAN);
  assert.deepEqual(readdirSync(vdir), [], 'the verification folder is removed');
  assert.deepEqual(
    mounts().filter((m) => m.source.includes('@kopiatomic')).map((m) => m.target),
    [],
  );
}

test('restic tree: hard-to-copy content in nested datasets verifies clean while a writer changes the live files', async (t) => {
  const pool = Pool.create(['a', 'b', 'b/nested']).destroyAfter(t);
  const work = scratchDir('verify-clean');
  const vdir = scratchDir('vdir');
  fill(pool);
  const files = countFiles(pool.path());
  // restic behind a wrapper that changes live files as the backup starts
  const wrapper = script(
    work,
    'restic-wrapper',
    `if [ "$1" = backup ]; then echo changed >> '${pool.path('a/file.txt')}'; rm '${pool.path('b/empty')}'; echo new > '${pool.path('b/new.txt')}'; chmod 0644 '${pool.path('b/suid')}'; fi\nexec restic "$@"`,
  );
  const env: NodeJS.ProcessEnv = { ...resticRepo(), KOPIATOMIC_VERIFY_DIR: vdir };
  const r = await run(RESTOMIC, ['--json', '--verify', '--mount-root', '/kt-v1', '--engine', 'restic', '-c', `${wrapper} backup`, '-r', pool.name], { env, timeoutMs: 600_000 });
  assert.equal(r.code, 0, r.stderr);
  assertNothingLeft([pool], '/kt-v1', vdir);
  const v = verifyOf(r)!;
  assert.equal(v.status, 'ok', JSON.stringify(v));
  assert.equal(v.differences, 0);
  assert.equal(v.files, files, 'every file of the frozen tree was looked at');
  assert.equal(v.filesCompared, files, 'bare --verify compares every file');
  assert.ok(v.bytesCompared >= 96 * 2 ** 20, `${v.bytesCompared}`);
  // the live tree did change: what was verified is the snapshot, not the live files
  assert.match(readFileSync(pool.path('a/file.txt'), 'utf8'), /changed/);
  assert.equal(restic(env, 'snapshots', '--json').includes('kopiatomic-'), true);
});

test('restic: a pack file corrupted between the backup and the verification is caught: exit 1, the path named, nothing left', async (t) => {
  const pool = Pool.create(['a']).destroyAfter(t);
  const vdir = scratchDir('vdir');
  writeFileSync(pool.path('a/small.txt'), 'small\n');
  const env: NodeJS.ProcessEnv = { ...resticRepo(), KOPIATOMIC_VERIFY_DIR: vdir };
  // A first backup puts small.txt's data in a pack of its own; the second
  // run's new data (precious.bin) then lands in a new pack.
  assert.equal((await run(RESTOMIC, ['--json', '--mount-root', '/kt-v2', pool.ds('a')], { env, timeoutMs: 600_000 })).code, 0);
  sh('dd', 'if=/dev/urandom', `of=${pool.path('a/precious.bin')}`, 'bs=64k', 'count=48', 'status=none');
  // The largest pack holds precious.bin's data (tree packs are small).
  // Overwrite 64 KiB in its middle (blob data, not the header at its end):
  // restic then cannot decrypt those blobs.
  const damage = `f=$(find "$RESTIC_REPOSITORY/data" -type f -printf '%s %p\\n' | sort -n | tail -n1 | cut -d' ' -f2-); echo "corrupting $f" >&2; dd if=/dev/urandom of="$f" bs=64k count=1 seek=8 conv=notrunc status=none`;
  const r = await run(RESTOMIC, ['--json', '--verify', '--mount-root', '/kt-v2', pool.ds('a')], { env: { ...env, KOPIATOMIC_TEST_BEFORE_VERIFY: damage }, timeoutMs: 600_000 });
  assert.equal(r.code, 1, r.stderr);
  assertNothingLeft([pool], '/kt-v2', vdir);
  // the damage is real: restic's own check finds it
  assert.throws(() => restic(env, "check", "--read-data"));
  const s = summary(r)!;
  assert.equal(s['status'], 'verify-failed');
  assert.equal(s['backupStatus'], 'ok');
  const v = verifyOf(r)!;
  assert.equal(v.status, 'failed');
  assert.ok(v.firstDifferences.some((d) => d.path === `/kt-v2${pool.path('a/precious.bin')}`), JSON.stringify(v.firstDifferences));
  assert.ok(!v.firstDifferences.some((d) => d.path.endsWith('small.txt')), 'an intact file is not named');
  assert.match(r.stdout + r.stderr, /precious\.bin/);
});

test('restic: -o "--exclude ..." verifies clean and reports the excluded files', async (t) => {
  const pool = Pool.create(['a', 'a/sub']).destroyAfter(t);
  const vdir = scratchDir('vdir');
  writeFileSync(pool.path('a/keep.txt'), 'keep\n');
  writeFileSync(pool.path('a/one.skip'), 'skip\n');
  writeFileSync(pool.path('a/sub/two.skip'), 'skip\n');
  const env: NodeJS.ProcessEnv = { ...resticRepo(), KOPIATOMIC_VERIFY_DIR: vdir };
  const r = await run(RESTOMIC, ['--json', '--verify', '--mount-root', '/kt-v3', '-o', '--exclude *.skip', '-r', pool.ds('a')], { env, timeoutMs: 600_000 });
  assert.equal(r.code, 0, r.stderr);
  assertNothingLeft([pool], '/kt-v3', vdir);
  // restic's view: the excluded files are really not in the backup
  const listed = restic(env, 'ls', String(JSON.parse(restic(env, 'snapshots', '--json'))[0].id)).split('\n');
  assert.ok(listed.some((l) => l.endsWith('/keep.txt')) && !listed.some((l) => l.endsWith('.skip')), listed.join('\n'));
  const v = verifyOf(r)!;
  assert.equal(v.status, 'ok');
  assert.equal(v.excluded, 2);
  assert.deepEqual(v.excludedPaths.sort(), [`/kt-v3${pool.path('a/one.skip')}`, `/kt-v3${pool.path('a/sub/two.skip')}`]);
});

test('restic --verify=10: about 10% of the file contents compared; a file the engine silently left out is still noticed', async (t) => {
  const pool = Pool.create(['a']).destroyAfter(t);
  const work = scratchDir('verify-sample');
  const vdir = scratchDir('vdir');
  for (let d = 0; d < 10; d++) {
    sh('mkdir', pool.path(`a/d${d}`));
    for (let f = 0; f < 30; f++) writeFileSync(pool.path(`a/d${d}/f${f}`), `${d}/${f}\n`);
  }
  const env: NodeJS.ProcessEnv = { ...resticRepo(), KOPIATOMIC_VERIFY_DIR: vdir };
  const r = await run(RESTOMIC, ['--json', '--verify=10', '--mount-root', '/kt-v4', pool.ds('a')], { env, timeoutMs: 600_000 });
  assert.equal(r.code, 0, r.stderr);
  assertNothingLeft([pool], '/kt-v4', vdir);
  const v = verifyOf(r)!;
  assert.equal(v.status, 'ok');
  assert.equal(v.files, 300);
  assert.ok(v.filesCompared >= 10 && v.filesCompared <= 55, `${v.filesCompared} of 300 compared`);

  // A restic that quietly drops one file (an engine bug, a filter kopiatomic
  // was not told about): the backup "succeeds", verification must not.
  const lossy = script(work, 'restic-lossy', `if [ "$1" = backup ]; then exec restic "$@" --exclude 'f17'; fi\nexec restic "$@"`);
  const r2 = await run(RESTOMIC, ['--json', '--verify=10', '--mount-root', '/kt-v4', '--engine', 'restic', '-c', `${lossy} backup`, pool.ds('a')], { env, timeoutMs: 600_000 });
  assert.equal(r2.code, 1, r2.stderr);
  assertNothingLeft([pool], '/kt-v4', vdir);
  const id = String((JSON.parse(restic(env, 'snapshots', '--json')) as { id: string; time: string }[]).sort((x, y) => (x.time < y.time ? -1 : 1)).at(-1)!.id);
  assert.ok(!restic(env, 'ls', id).includes('/f17\n'), 'the file really is missing from the backup');
  const v2 = verifyOf(r2)!;
  assert.equal(v2.status, 'failed');
  const missing = v2.firstDifferences.filter((d) => d.what === 'missing from the backup').map((d) => d.path);
  assert.ok(missing.includes(`/kt-v4${pool.path('a/d0/f17')}`), JSON.stringify(v2.firstDifferences));
});

test('restic --layout paths: the comparison follows the real paths and verifies clean; nothing mounted anywhere after', async (t) => {
  const pool = Pool.create(['a', 'b', 'b/nested']).destroyAfter(t);
  const vdir = scratchDir('vdir');
  fill(pool);
  const env: NodeJS.ProcessEnv = { ...resticRepo(), KOPIATOMIC_VERIFY_DIR: vdir };
  const r = await run(RESTOMIC, ['--json', '--verify', '--layout', 'paths', '--mount-root', '/kt-v5', '-r', pool.name], { env, timeoutMs: 600_000 });
  assert.equal(r.code, 0, r.stderr);
  assertNothingLeft([pool], '/kt-v5', vdir);
  const v = verifyOf(r)!;
  assert.equal(v.status, 'ok', JSON.stringify(v));
  assert.equal(v.files, countFiles(pool.path()));
  const snaps = JSON.parse(restic(env, 'snapshots', '--json')) as { paths: string[] }[];
  assert.deepEqual(snaps[0]!.paths, [pool.mountpoint]);
});

test('SIGTERM during the verification: it stops, cleanup runs, the restore folder is removed (exit 143)', async (t) => {
  const pool = Pool.create(['a']).destroyAfter(t);
  const vdir = scratchDir('vdir');
  sh('dd', 'if=/dev/urandom', `of=${pool.path('a/big')}`, 'bs=1M', 'count=24', 'status=none');
  const env: NodeJS.ProcessEnv = { ...resticRepo(), KOPIATOMIC_VERIFY_DIR: vdir };
  let sent = false;
  const r = await run(RESTOMIC, ['--json', '--verify', '--mount-root', '/kt-v9', pool.ds('a')], {
    env,
    timeoutMs: 600_000,
    onEvent: (e, child) => {
      // the verification has started (the backup is saved)
      if (!sent && e['event'] === 'log' && String(e['message']).startsWith('verifying the backup')) {
        sent = true;
        child.kill('SIGTERM');
      }
    },
  });
  assert.ok(sent);
  assert.equal(r.code, 143, r.stderr);
  assertNothingLeft([pool], '/kt-v9', vdir);
  assert.equal(verifyOf(r)?.status, 'skipped');
});

test('no room to restore: the verification does not run (exit 8), the backup stands, nothing left', async (t) => {
  const pool = Pool.create(['a', { name: 'tiny', props: { quota: '8M' } }]).destroyAfter(t);
  sh('dd', 'if=/dev/urandom', `of=${pool.path('a/big')}`, 'bs=1M', 'count=16', 'status=none');
  const env: NodeJS.ProcessEnv = { ...resticRepo(), KOPIATOMIC_VERIFY_DIR: pool.path('tiny') };
  const r = await run(RESTOMIC, ['--json', '--verify', '--mount-root', '/kt-v6', pool.ds('a')], { env, timeoutMs: 600_000 });
  assert.equal(r.code, 8, r.stderr);
  assert.deepEqual(leftovers([pool], '/kt-v6'), CLEAN);
  assert.deepEqual(readdirSync(pool.path('tiny')), []);
  assert.equal((JSON.parse(restic(env, 'snapshots', '--json')) as unknown[]).length, 1, 'the backup was saved');
  const s = summary(r)!;
  assert.equal(s['status'], 'verify-error');
  assert.equal(s['backupStatus'], 'ok');
  assert.match(verifyOf(r)!.message ?? '', /no room/);
});

test('command engine: --verify without --verify-command is refused (exit 2, nothing made); with one it verifies', async (t) => {
  const pool = Pool.create(['a']).destroyAfter(t);
  const work = scratchDir('verify-cmd');
  const vdir = scratchDir('vdir');
  writeFileSync(pool.path('a/f'), 'f\n');
  const refused = await run(KOPIATOMIC, ['--verify', '--mount-root', '/kt-v7', '--engine', 'command', '-c', 'true', pool.ds('a')]);
  assert.equal(refused.code, 2);
  assert.match(refused.stderr, /--verify-command/);
  assert.deepEqual(leftovers([pool], '/kt-v7'), CLEAN);
  // a "backup" that copies the tree with cp -a, and its restore
  const store = `${work}/store`;
  const backup = script(work, 'backup', `rm -rf '${store}'; cp -a "$1" '${store}'`);
  const restore = script(work, 'restore', `[ "$1" = "$KOPIATOMIC_VERIFY_ROOT" ] && [ "$2" = "$KOPIATOMIC_VERIFY_DIR" ] && cp -a '${store}'/. "$2"`);
  const r = await run(KOPIATOMIC, ['--json', '--verify', '--mount-root', '/kt-v7', '--engine', 'command', '-c', backup, '--verify-command', restore, pool.ds('a')], { env: { KOPIATOMIC_VERIFY_DIR: vdir } });
  assert.equal(r.code, 0, r.stderr);
  assertNothingLeft([pool], '/kt-v7', vdir);
  assert.equal(verifyOf(r)!.status, 'ok');
  assert.equal(verifyOf(r)!.files, 1);
});

test('kopia: verifies clean by the manifest id from --json (runs only where kopia is installed)', { skip: which('kopia') ? false : 'kopia is not installed here' }, async (t) => {
  const pool = Pool.create(['a']).destroyAfter(t);
  const vdir = scratchDir('vdir');
  const repo = scratchDir('kopia-repo');
  writeFileSync(pool.path('a/f'), 'f\n');
  const cfg = `${repo}.config`;
  const env = { KOPIA_PASSWORD: 'e2e-password', KOPIA_CONFIG_PATH: cfg, KOPIA_CHECK_FOR_UPDATES: 'false', KOPIATOMIC_VERIFY_DIR: vdir };
  sh('env', `KOPIA_PASSWORD=${env.KOPIA_PASSWORD}`, `KOPIA_CONFIG_PATH=${cfg}`, 'kopia', 'repository', 'create', 'filesystem', `--path=${repo}`);
  const r = await run(KOPIATOMIC, ['--json', '--verify', '--mount-root', '/kt-v8', pool.ds('a')], { env, timeoutMs: 600_000 });
  assert.equal(r.code, 0, r.stderr);
  assertNothingLeft([pool], '/kt-v8', vdir);
  assert.equal(verifyOf(r)!.status, 'ok');
});

