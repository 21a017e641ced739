// Threat: a pool imported read-only beside a normal one. `-a` must back up
// the normal pool (its snapshot existed during the backup) and exit with the
// warning code 3; naming a dataset of the read-only pool is an error before
// anything is created.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { test } from 'node:test';
import { CLEAN, KOPIATOMIC, leftovers, Pool, run, SCRATCH, scratchDir, script, sh, shOk } from '../lib.js';
import { forgetRoot, gone } from './common.js';

test('a read-only pool: -a backs up the other pool and exits 3; a dataset of it named explicitly exits 2 with nothing created', async (t) => {
  const root = `/kt-ro-${process.pid}`;
  const rw = Pool.create(['a']);
  const ro = Pool.create(['b']);
  const work = scratchDir('ro');
  t.after(() => {
    shOk('zpool', 'export', ro.name);
    shOk('zpool', 'import', '-d', SCRATCH, ro.name);
    ro.destroy();
    rw.destroy();
    forgetRoot(root);
  });
  writeFileSync(`${ro.path('b')}/file`, 'b\n');
  sh('zpool', 'export', ro.name);
  sh('zpool', 'import', '-o', 'readonly=on', '-d', SCRATCH, ro.name);
  assert.equal(sh('zpool', 'list', '-H', '-o', 'readonly', ro.name).trim(), 'on');
  const engine = script(work, 'engine', `zfs list -H -t snapshot -o name > '${work}/snaps'`);

  const all = await run(KOPIATOMIC, ['--json', '--mount-root', root, '--engine', 'command', '-c', engine, '-a']);
  assert.equal(all.code, 3, all.stderr);
  const seen = readFileSync(`${work}/snaps`, 'utf8').split('\n');
  assert.ok(seen.some((s) => s.startsWith(`${rw.ds('a')}@kopiatomic-`)), 'the normal pool\'s snapshot existed during the backup');
  assert.ok(!seen.some((s) => s.startsWith(`${ro.name}`)), 'nothing of the read-only pool');
  assert.deepEqual(leftovers([rw, ro], root), CLEAN);

  for (const targets of [[ro.ds('b')], [rw.ds('a'), ro.ds('b')]]) {
    const named = await run(KOPIATOMIC, ['--json', '--mount-root', root, '--engine', 'command', '-c', engine, ...targets]);
    assert.equal(named.code, 2, named.stderr);
    assert.deepEqual(leftovers([rw, ro], root), CLEAN, 'nothing was created');
    assert.ok(gone(root));
  }
});
