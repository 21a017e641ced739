// Threat: a local user owns a directory above the mount root (/home/u/tree).
// Were only the mount root checked, the user could swap its parent after the
// check and root would mount the snapshots elsewhere. Promise: such a mount
// root is refused before anything changes: exit 4, no snapshot, nothing
// mounted, the user's directory and the tree in it as they were.
import assert from 'node:assert/strict';
import { chownSync, lstatSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { test } from 'node:test';
import { KOPIATOMIC, mounts, Pool, run } from '../lib.js';

const NOBODY = 65534;

test('a mount root below a directory a user owns: refused before anything happens, nothing snapshotted or mounted', async (t) => {
  const home = '/kt-threat-home';
  const root = `${home}/tree`;
  const pool = Pool.create(['a']);
  t.after(() => {
    pool.destroy();
    rmSync(home, { recursive: true, force: true });
  });
  mkdirSync(home, { mode: 0o755 });
  chownSync(home, NOBODY, NOBODY);
  mkdirSync(root, { mode: 0o700 }); // root's own and empty: only its parent is the user's
  for (const r of [root, `${home}/absent`]) {
    const res = await run(KOPIATOMIC, ['--json', '--mount-root', r, '--engine', 'command', '-c', 'true', '-r', pool.ds('a')]);
    assert.equal(res.code, 4, `${r}: setup refused (${res.stderr})`);
    assert.deepEqual(pool.snapshots(), [], `${r}: no snapshot was made or left`);
    assert.deepEqual(mounts().filter((m) => m.source.includes('@kopiatomic-')).map((m) => m.target), [], `${r}: nothing of ours is mounted anywhere`);
  }
  assert.deepEqual(readdirSync(home).sort(), ['tree'], 'nothing made in the user\'s directory');
  assert.deepEqual(readdirSync(root), [], 'the tree is still empty');
  assert.equal(lstatSync(home).uid, NOBODY);
});
