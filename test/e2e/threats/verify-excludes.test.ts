// Threat: a verification that passes blind. With any exclude option (the
// README's own --exclude-caches) every absent entry used to count as
// excluded, so such a job could never catch a lost file. Now the rules are
// evaluated: the CACHEDIR.TAG directory's content is excluded (exit 0), and a
// file restic really left out without a rule that excuses it (an extra
// --exclude slipped in by a wrapper, which kopiatomic never sees) fails the
// verification.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { test } from 'node:test';
import { EXIT_VERIFY_FAILED } from '../../../src/core/exit-status.js';
import { CLEAN, leftovers, Pool, RESTOMIC, resticRepo, run, scratchDir, script, summary } from '../lib.js';

const MOUNT_ROOT = '/kt-vexcl';

interface V {
  status: string;
  differences: number;
  firstDifferences: { path: string; what: string }[];
  excluded: number;
  excludedPaths: string[];
  unjudged: number;
}

test('--verify -o --exclude-caches: the tagged directory is excluded (exit 0); a file a hidden exclude lost fails it (exit 1)', async (t) => {
  const pool = Pool.create(['data']).destroyAfter(t);
  mkdirSync(pool.path('data/cache'));
  writeFileSync(pool.path('data/cache/CACHEDIR.TAG'), 'Signature: 8a477f597d28d172789f06886806bc55\n# a cache directory\n');
  writeFileSync(pool.path('data/cache/blob'), 'regenerable\n');
  writeFileSync(pool.path('data/keep.txt'), 'keep\n');
  writeFileSync(pool.path('data/precious.txt'), 'precious\n');
  const repo = resticRepo();
  const env = { ...repo, KOPIATOMIC_VERIFY_DIR: scratchDir('vdir') };
  const ls = () => execFileSync('restic', ['ls', 'latest'], { env: { ...process.env, ...repo }, encoding: 'utf8' }).split('\n');

  const ok = await run(RESTOMIC, ['--json', '--verify', '--mount-root', MOUNT_ROOT, '-o', '--exclude-caches', pool.ds('data')], { env, timeoutMs: 600_000 });
  assert.equal(ok.code, 0, ok.stderr);
  const held = ls();
  assert.ok(held.some((l) => l.endsWith('/data/cache/CACHEDIR.TAG')), 'restic kept the tag file');
  assert.ok(!held.some((l) => l.endsWith('/data/cache/blob')), "restic left out the cache's content");
  const v = summary(ok)?.['verify'] as V;
  assert.equal(v.status, 'ok');
  assert.deepEqual(v.excludedPaths, [`${MOUNT_ROOT}${pool.path('data/cache/blob')}`]);
  assert.equal(v.unjudged, 0);
  assert.deepEqual(leftovers([pool], MOUNT_ROOT), CLEAN);

  // restic behind a wrapper that also excludes precious.txt: the file is really not in the backup.
  const wrapper = script(scratchDir('vexcl'), 'restic-wrapper', 'if [ "$1" = backup ]; then shift; exec restic backup --exclude precious.txt "$@"; fi\nexec restic "$@"');
  const lost = await run(RESTOMIC, ['--json', '--verify', '--mount-root', MOUNT_ROOT, '--engine', 'restic', '-c', `${wrapper} backup`, '-o', '--exclude-caches', pool.ds('data')], { env, timeoutMs: 600_000 });
  assert.equal(lost.code, EXIT_VERIFY_FAILED, lost.stderr);
  assert.ok(!ls().some((l) => l.endsWith('/data/precious.txt')), 'the file is really missing from the repository');
  assert.ok(ls().some((l) => l.endsWith('/data/keep.txt')));
  const w = summary(lost)?.['verify'] as V;
  assert.equal(summary(lost)?.['status'], 'verify-failed');
  assert.deepEqual(w.firstDifferences, [{ path: `${MOUNT_ROOT}${pool.path('data/precious.txt')}`, what: 'missing from the backup' }]);
  assert.deepEqual(w.excludedPaths, [`${MOUNT_ROOT}${pool.path('data/cache/blob')}`]);
  assert.deepEqual(leftovers([pool], MOUNT_ROOT), CLEAN);
});
