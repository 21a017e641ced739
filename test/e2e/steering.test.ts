// Issue 9 item 4: the tree cannot be steered. A local user who owns a folder
// on the path of a nested dataset's mount point swaps it for a symlink between
// discovery and the snapshot (the pre hook stands in for that user). The
// snapshot then holds the symlink; mounting the nested snapshot "inside" it
// would follow it and put a root mount wherever the user chose. The run must
// refuse before mounting there (exit 4), mount nothing at the symlink's
// target (checked in the mount table during and after the run), leave that
// folder untouched, and leave nothing of its own behind.
import assert from 'node:assert/strict';
import { chownSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { test } from 'node:test';
import { CLEAN, KOPIATOMIC, leftovers, mounts, Pool, run, scratchDir, script, summary, zfs } from './lib.js';

test('a user who swaps a folder on a nested mount point for a symlink cannot steer a mount: exit 4, nothing mounted at its target, nothing left', async (t) => {
  const root = '/kt-steer';
  const pool = Pool.create(['home']).destroyAfter(t);
  const work = scratchDir('steer');
  const evil = scratchDir('steer-target'); // where the user wants root to mount
  mkdirSync(`${evil}/vm`);
  writeFileSync(`${evil}/keep.txt`, 'the user target\n');
  const userDir = pool.path('home/alice/work');
  mkdirSync(userDir, { recursive: true });
  chownSync(pool.path('home/alice'), 1000, 1000);
  chownSync(userDir, 1000, 1000);
  zfs('create', '-o', `mountpoint=${userDir}/vm`, pool.ds('vm'));
  writeFileSync(`${userDir}/vm/disk.img`, 'vm data\n');

  // The swap, after kopiatomic has discovered the datasets and before the snapshot.
  const pre = script(work, 'pre.sh', `mv '${userDir}' '${userDir}.orig' && ln -s '${evil}' '${userDir}' && touch '${work}/swapped'`);
  const engine = script(work, 'engine.sh', `cat /proc/self/mountinfo > '${work}/during'`);

  // Watch the mount table while the run goes: nothing may ever appear at or below the target.
  const seen = new Set<string>();
  const watch = setInterval(() => {
    for (const m of mounts()) if (m.target === evil || m.target.startsWith(evil + '/')) seen.add(`${m.source} on ${m.target}`);
  }, 25);
  let r;
  try {
    r = await run(KOPIATOMIC, ['--json', '--mount-root', root, '--engine', 'command', '-c', engine, '-p', pre, '-r', pool.name]);
  } finally {
    clearInterval(watch);
  }

  assert.ok(existsSync(`${work}/swapped`), `the pre hook swapped the folder: ${r.stderr}`);
  assert.ok(lstatSync(userDir).isSymbolicLink());
  assert.deepEqual([...seen], [], 'nothing was ever mounted at the symlink target');
  if (existsSync(`${work}/during`)) {
    const during = readFileSync(`${work}/during`, 'utf8').split('\n').filter((l) => l.includes(` ${evil}`));
    assert.deepEqual(during, [], 'mount table during the backup: nothing at the symlink target');
  }
  assert.equal(r.code, 4, r.stderr);
  assert.equal(summary(r)?.['status'], 'setup-failed');
  assert.equal(existsSync(`${work}/during`), false, 'the backup never ran');
  assert.deepEqual(mounts().filter((m) => m.target.startsWith(evil)), [], 'nothing mounted there after the run');
  assert.deepEqual(readdirSync(evil).sort(), ['keep.txt', 'vm'], 'the target folder is untouched');
  assert.deepEqual(readdirSync(`${evil}/vm`), []);
  assert.equal(readFileSync(`${evil}/keep.txt`, 'utf8'), 'the user target\n');
  assert.deepEqual(leftovers([pool], root), CLEAN);
  assert.equal(existsSync(root), false, 'the mount root folder is gone');
});
