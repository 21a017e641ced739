// The exact destroy: each recorded snapshot found by guid and createtxg (a
// renamed one under its new name), proven ours by its local properties, and
// destroyed by its exact name; a copy received under our name (same guid,
// later createtxg, no local property) and a look-alike with our properties
// set on it by hand (another guid) are never touched.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CommandError } from '../../src/core/errors.js';
import type { ExecResult } from '../../src/core/exec.js';
import { destroyExact } from '../../src/safety/destroy-exact.js';
import { FakeRunner } from './helpers.js';

const S = 'kopiatomic-R1';
const ok = (stdout = ''): ExecResult => ({ code: 0, stdout, stderr: '' });
type Snap = { guid: string; txg: string; run?: string; owner?: string };

function fakeZfs(snaps: Map<string, Snap>) {
  const rows = (names: string[]) => names.filter((n) => snaps.has(n)).map((n) => `${n}\t${snaps.get(n)!.guid}\t${snaps.get(n)!.txg}\n`).join('');
  return (argv: readonly string[]): ExecResult | Error => {
    const a = argv.join(' ');
    if (a.startsWith('zfs list -H -p -t snapshot -o name,guid,createtxg -r ')) return ok(rows([...snaps.keys()].filter((n) => n.startsWith(`${argv[9]}/`) || n.startsWith(`${argv[9]}@`))));
    if (a.startsWith('zfs list -H -p -t snapshot -o name,guid,createtxg ')) return { code: argv.slice(8).every((n) => snaps.has(n)) ? 0 : 1, stdout: rows(argv.slice(8)), stderr: '' };
    if (a.startsWith('zfs get ')) {
      return ok(argv.slice(11).filter((n) => snaps.get(n)?.run).map((n) => `${n}\tkopiatomic:run\t${snaps.get(n)!.run}\tlocal\n${n}\tkopiatomic:owner\t${snaps.get(n)!.owner}\tlocal\n`).join(''));
    }
    if (a.startsWith('zfs holds -H')) return ok();
    if (argv[1] === 'program') return new CommandError(argv, 1, null, 'Channel program execution failed', 'failed'); // as on a system without channel programs
    if (argv[1] === 'destroy' && argv.length === 3 && snaps.delete(argv[2]!)) return ok();
    return new Error(`unexpected: ${a}`);
  };
}

test('destroyExact: a renamed snapshot is found by guid and createtxg and destroyed under its new name; the received copy and a look-alike stay', async () => {
  const snaps = new Map<string, Snap>([
    [`t/moved@${S}`, { guid: '11', txg: '5', run: 'R1', owner: 'h:b:1' }], // ours, renamed from t/a
    [`t/b@${S}`, { guid: '12', txg: '5', run: 'R1', owner: 'h:b:1' }],
    [`t/a@${S}`, { guid: '11', txg: '9' }], // a copy of ours received at our old name: same guid, later txg, no property
    [`t/c@${S}`, { guid: '99', txg: '9', run: 'R1', owner: 'h:b:1' }], // our properties set by hand on someone's snapshot of our name
  ]);
  const runner = new FakeRunner(fakeZfs(snaps));
  const r = await destroyExact(
    runner,
    [
      { name: `t/a@${S}`, id: { guid: '11', txg: '5' } },
      { name: `t/b@${S}`, id: { guid: '12', txg: '5' } },
      { name: `t/c@${S}`, id: { guid: '13', txg: '5' } }, // ours was destroyed by someone else: gone
    ],
    { run: 'R1', owner: 'h:b:1' },
  );
  assert.deepEqual(r, { dropped: 2, leftovers: [] });
  assert.deepEqual([...snaps.keys()].sort(), [`t/a@${S}`, `t/c@${S}`]);
  const destroys = runner.calls.map((c) => c.argv.join(' ')).filter((c) => c.startsWith('zfs destroy'));
  assert.deepEqual(destroys, [`zfs destroy t/moved@${S}`, `zfs destroy t/b@${S}`]);
});

test('destroyExact: a snapshot at our name without our local properties is never destroyed; with our identity recorded it is a leftover', async () => {
  const snaps = new Map<string, Snap>([[`t/a@${S}`, { guid: '11', txg: '5' }]]);
  const runner = new FakeRunner(fakeZfs(snaps));
  const r = await destroyExact(runner, [{ name: `t/a@${S}`, id: { guid: '11', txg: '5' } }], { run: 'R1', owner: 'h:b:1' });
  assert.equal(r.leftovers.length, 1);
  assert.match(r.leftovers[0]!.reason, /not proven ours/);
  assert.ok(snaps.has(`t/a@${S}`));
  // Never identified (the run died before the listing): a snapshot of our name that is not proven ours is someone else's.
  const r2 = await destroyExact(new FakeRunner(fakeZfs(snaps)), [{ name: `t/a@${S}`, id: null }], { run: 'R1', owner: null });
  assert.deepEqual(r2, { dropped: 0, leftovers: [] });
  assert.ok(snaps.has(`t/a@${S}`));
});
