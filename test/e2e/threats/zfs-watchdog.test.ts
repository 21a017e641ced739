// Threat: a zfs command that never returns (a suspended pool). A wrapper on
// PATH makes `zfs snapshot` hang: kopiatomic kills it at --zfs-timeout, exits
// 9, releases its lock and leaves nothing behind.
import assert from 'node:assert/strict';
import { readFileSync, realpathSync } from 'node:fs';
import { test } from 'node:test';
import { CLEAN, KOPIATOMIC, leftovers, Pool, run, scratchDir, script, sh } from '../lib.js';
import { forgetRoot, gone, lockOf } from './common.js';

test('a zfs snapshot that hangs: killed at the limit, exit 9, the lock free, nothing left; the next run works', async (t) => {
  const root = `/kt-hang-${process.pid}`;
  const pool = Pool.create(['a']);
  const work = scratchDir('hang');
  const real = realpathSync(sh('sh', '-c', 'command -v zfs').trim());
  script(work, 'zfs', `if [ "$1" = snapshot ]; then exec sleep 4242; fi\nexec ${real} "$@"`);
  const args = ['--json', '--mount-root', root, '--engine', 'command', '-c', 'true', '-r', pool.ds('a')];
  t.after(() => {
    pool.destroy();
    forgetRoot(root);
  });
  const t0 = Date.now();
  const r = await run(KOPIATOMIC, ['--zfs-timeout', '3', ...args], { env: { PATH: `${work}:${process.env['PATH']}` } });
  const took = (Date.now() - t0) / 1000;
  assert.equal(r.code, 9, r.stderr);
  assert.ok(took < 60, `it stopped soon after the limit (${took} s)`);
  assert.doesNotMatch(sh('ps', '-eo', 'args'), /sleep 4242/, 'the hung command was killed');
  assert.ok(gone(lockOf(root)), 'the lock is free');
  assert.deepEqual(leftovers([pool], root), CLEAN);
  assert.ok(gone(root));
  const again = await run(KOPIATOMIC, args);
  assert.equal(again.code, 0, again.stderr);
  assert.deepEqual(leftovers([pool], root), CLEAN);
});

// The wrappers below keep the real carriers (perl calling mount(2) and
// umount2, mount(8) their fallback: every mount and unmount is real) and hold back their
// progress reports, one every 2 s: a batch then lasts well past the 6 s limit
// while each report comes well within it.
// Each call logs one line: the seconds its reports took, then its arguments.
const PACE = (real: string) =>
  `out=$(${real} "$@" 2>&1); rc=$?\n` +
  `start=$(date +%s)\n` +
  `printf '%s\\n' "$out" | while IFS= read -r l; do sleep 2; printf '%s\\n' "$l"; done\n` +
  // printf, not echo: sh's echo would turn the backslash-n in perl's one-liner into a new line
  `printf '%s %s\\n' "$(( $(date +%s) - start ))" "$*" >> "$(dirname "$0")/log"\n` +
  'exit $rc';

test('a mount and an unmount batch that outlast --zfs-timeout but keep reporting progress: the backup runs on the whole frozen tree and nothing is left', async (t) => {
  const root = `/kt-pace-${process.pid}`;
  const names = ['a', 'b', 'c', 'd', 'e', 'f'];
  const pool = Pool.create(names);
  for (const n of names) sh('sh', '-c', `echo ${n} > ${pool.mountpoint}/${n}/file`);
  const work = scratchDir('pace');
  for (const prog of ['mount', 'perl']) script(work, prog, PACE(realpathSync(sh('sh', '-c', `command -v ${prog}`).trim())));
  t.after(() => {
    pool.destroy();
    forgetRoot(root);
  });
  const seen = `${work}/seen`;
  // the engine gets the tree's root as its last argument
  const engine = script(work, 'engine', `cat "$1"/${pool.name}/*/file > ${seen}`);
  const r = await run(KOPIATOMIC, ['--zfs-timeout', '6', '--json', '--mount-root', root, '--engine', 'command', '-c', engine, '-r', pool.ds()], {
    env: { PATH: `${work}:${process.env['PATH']}` },
  });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(readFileSync(seen, 'utf8'), names.map((n) => `${n}\n`).join(''), 'the engine read every dataset through its snapshot');
  // The batches really outlasted the limit: the six-mount level and the seven-target unmount.
  const spans = readFileSync(`${work}/log`, 'utf8').trim().split('\n').map((l) => ({ s: Number(l.split(' ')[0]), what: l.split(' ').slice(1).join(' ') }));
  const long = spans.filter((x) => x.s > 6);
  // Each carrier's one-liner names itself in its messages: "mount2: … and "umount2: …
  const carrier = (name: string) => (x: { what: string }) => x.what.startsWith('-T -e ') && x.what.includes(`"${name}: `) && x.what.includes(root);
  assert.ok(long.some(carrier('mount2')) && long.some(carrier('umount2')), `a mount and an unmount batch each ran past 6 s: ${JSON.stringify(spans)}`);
  assert.deepEqual(leftovers([pool], root), CLEAN);
  assert.ok(gone(root));
});

test('a mount batch that stops reporting progress (its pool hangs): killed at the limit, exit 9, what it mounted unmounted, the lock free, nothing left', async (t) => {
  const root = `/kt-stall-${process.pid}`;
  const pool = Pool.create(['a', 'b']);
  const work = scratchDir('stall');
  const real = realpathSync(sh('sh', '-c', 'command -v perl').trim());
  // the batch mount (the carrier's eighth word is the type, zfs) mounts for real, reports one mount, then hangs
  script(work, 'perl', `if [ "$8" = zfs ]; then ${real} "$@" | head -n 1; exec sleep 4343; fi\nexec ${real} "$@"`);
  t.after(() => {
    pool.destroy();
    forgetRoot(root);
  });
  const r = await run(KOPIATOMIC, ['--zfs-timeout', '6', '--json', '--mount-root', root, '--engine', 'command', '-c', 'true', '-r', pool.ds()], {
    env: { PATH: `${work}:${process.env['PATH']}` },
  });
  assert.equal(r.code, 9, r.stderr);
  assert.doesNotMatch(sh('ps', '-eo', 'args'), /sleep 4343/, 'the stalled batch was killed');
  assert.ok(gone(lockOf(root)), 'the lock is free');
  assert.deepEqual(leftovers([pool], root), CLEAN);
  assert.ok(gone(root));
});
