import { test } from 'node:test';
import assert from 'node:assert/strict';
import { UsageError } from '../../src/core/errors.js';
import { buildInventory, type Inventory } from '../../src/discover/inventory.js';
import { zfsRows } from './helpers.js';
import { parseDatasetList } from '../../src/zfs/list.js';
import type { Target } from '../../src/discover/targets.js';
import { resolveTarget, select, skipReason, type SelectOptions } from '../../src/plan/select.js';
import { ds } from './helpers.js';

const inv = (...datasets: ReturnType<typeof ds>[]): Inventory => ({ datasets, mounts: [] });
const opts = (o: Partial<SelectOptions>): SelectOptions => ({ targets: [], all: false, recursive: false, excludes: [], ...o });
const name = (n: string): Target => ({ kind: 'dataset', name: n });
const path = (p: string): Target => ({ kind: 'path', path: p });
const names = (l: { name: string }[]) => l.map((d) => d.name);

const TREE = inv(
  ds('tank', '/tank'),
  ds('tank/home', '/home'),
  ds('tank/home/alice', '/home/alice'),
  ds('tank/home/bob', '/home/bob'),
  ds('tank/homework', '/homework'),
  ds('pool2', '/pool2'),
  ds('pool2/data', '/data'),
);

test('select: no targets and no -a is a usage error', () => {
  assert.throws(() => select(TREE, opts({})), UsageError);
});

test('select -a: every dataset', () => {
  assert.deepEqual(names(select(TREE, opts({ all: true })).selected), names(TREE.datasets));
});

test('select: by name without -r takes only that dataset', () => {
  const s = select(TREE, opts({ targets: [name('tank/home')] }));
  assert.deepEqual(names(s.selected), ['tank/home']);
  assert.deepEqual(s.skipped, []);
});

test('select -r: descendants by name, not siblings with the same prefix', () => {
  const s = select(TREE, opts({ targets: [name('tank/home')], recursive: true }));
  assert.deepEqual(names(s.selected), ['tank/home', 'tank/home/alice', 'tank/home/bob']);
});

test('select: a target named twice (by name and by path) is taken once', () => {
  const s = select(TREE, opts({ targets: [name('tank/home'), path('/home')] }));
  assert.deepEqual(names(s.selected), ['tank/home']);
});

test('select: by path of its mount point', () => {
  const s = select(TREE, opts({ targets: [path('/home/alice'), path('/data')] }));
  assert.deepEqual(names(s.selected), ['tank/home/alice', 'pool2/data']);
});

test('resolveTarget: a path inside a dataset names the deepest dataset holding it', () => {
  assert.throws(
    () => resolveTarget(TREE, path('/home/alice/Documents')),
    (e: unknown) =>
      e instanceof UsageError &&
      e.message.includes('/home/alice/Documents is not the mount point of a dataset') &&
      e.message.includes('inside tank/home/alice (mounted at /home/alice)'),
  );
  // /homework/x is inside tank/homework, not tank/home
  assert.throws(() => resolveTarget(TREE, path('/homework/x')), /inside tank\/homework \(mounted at \/homework\)/);
});

test('resolveTarget: a path under a ZFS root (/) is inside the root dataset', () => {
  const i = inv(ds('rpool/ROOT', '/'), ds('rpool/home', '/home'));
  assert.throws(() => resolveTarget(i, path('/etc')), /inside rpool\/ROOT \(mounted at \/\)/);
  assert.equal(resolveTarget(i, path('/')).name, 'rpool/ROOT');
});

test('resolveTarget: a path on no ZFS filesystem', () => {
  assert.throws(() => resolveTarget(TREE, path('/etc')), (e: unknown) => e instanceof UsageError && /\/etc is not on a ZFS filesystem/.test(e.message));
});

test('resolveTarget: an unmounted dataset is found by its mountpoint property', () => {
  const i = inv(ds('tank/off', null, { mountpoint: '/srv/off' }));
  assert.equal(resolveTarget(i, path('/srv/off')).name, 'tank/off');
});

test('select: a dataset that does not exist is a usage error naming it', () => {
  assert.throws(() => select(TREE, opts({ targets: [name('tank/nope')] })), (e: unknown) => e instanceof UsageError && e.message === 'no such ZFS filesystem: tank/nope');
  assert.throws(() => select(TREE, opts({ all: true, excludes: [name('nope')] })), UsageError);
});

test('select --exclude: the excluded dataset and its descendants are skipped with reasons', () => {
  const s = select(TREE, opts({ targets: [name('tank')], recursive: true, excludes: [name('tank/home')] }));
  assert.deepEqual(names(s.selected), ['tank', 'tank/homework']);
  assert.deepEqual(s.skipped, [
    { dataset: 'tank/home', reason: 'excluded' },
    { dataset: 'tank/home/alice', reason: 'excluded with tank/home' },
    { dataset: 'tank/home/bob', reason: 'excluded with tank/home' },
  ]);
});

test('select --exclude by path, with -a', () => {
  const s = select(TREE, opts({ all: true, excludes: [path('/pool2')] }));
  assert.deepEqual(names(s.selected), ['tank', 'tank/home', 'tank/home/alice', 'tank/home/bob', 'tank/homework']);
  assert.deepEqual(s.skipped.map((k) => k.reason), ['excluded', 'excluded with pool2']);
});

test('skipReason: each reason, key first', () => {
  assert.equal(skipReason(ds('t/a', '/a')), null);
  assert.equal(skipReason(ds('t/a', '/a', { canmount: 'noauto' })), null);
  assert.equal(skipReason(ds('t/a', null, { keystatus: 'unavailable', canmount: 'off' })), 'encrypted and its key is not loaded (keystatus=unavailable)');
  assert.equal(skipReason(ds('t/a', '/a', { keystatus: 'available' })), null);
  assert.equal(skipReason(ds('t/a', null, { canmount: 'off' })), 'canmount=off');
  assert.equal(skipReason(ds('t/a', null, { mountpoint: 'none' })), 'mountpoint=none');
  assert.equal(skipReason(ds('t/a', null, { mountpoint: '/a' })), 'not mounted');
  assert.equal(skipReason(ds('t/a', null, { mountpoint: 'legacy' })), 'mountpoint=legacy and not in the mount table');
});

test('select -r: skip reasons from a real zfs list + mount table; legacy mounted taken from the mount table', () => {
  const rows = parseDatasetList(zfsRows(
    [
      'tank\ton\tyes\t-\t/tank',
      'tank/off\toff\tno\t-\t/tank/off',
      'tank/none\ton\tno\t-\tnone',
      'tank/unmounted\tnoauto\tno\t-\t/tank/unmounted',
      'tank/locked\ton\tno\tunavailable\t/tank/locked',
      'tank/legacy-out\ton\tno\t-\tlegacy',
      'tank/legacy-in\ton\tno\t-\tlegacy',
    ].join('\n'),
  ));
  const i = buildInventory(rows, [
    { source: 'tank', target: '/tank', fstype: 'zfs', root: '/' },
    { source: 'tank/legacy-in', target: '/mnt/leg acy', fstype: 'zfs', root: '/' },
  ]);
  const s = select(i, opts({ targets: [name('tank')], recursive: true }));
  assert.deepEqual(names(s.selected), ['tank', 'tank/legacy-in']);
  assert.equal(s.selected[1]!.mountedAt, '/mnt/leg acy');
  assert.deepEqual(s.skipped, [
    { dataset: 'tank/off', reason: 'canmount=off' },
    { dataset: 'tank/none', reason: 'mountpoint=none' },
    { dataset: 'tank/unmounted', reason: 'not mounted' },
    { dataset: 'tank/locked', reason: 'encrypted and its key is not loaded (keystatus=unavailable)' },
    { dataset: 'tank/legacy-out', reason: 'mountpoint=legacy and not in the mount table' },
  ]);
  // a legacy dataset is found by the path the mount table gives
  assert.equal(resolveTarget(i, path('/mnt/leg acy')).name, 'tank/legacy-in');
});

test('select: two selected datasets on one mount point is a usage error', () => {
  const i = inv(ds('tank/a', '/srv'), ds('pool2/b', '/srv'));
  assert.throws(
    () => select(i, opts({ all: true })),
    (e: unknown) => e instanceof UsageError && e.message === 'tank/a and pool2/b are both mounted at /srv',
  );
  // fine when one of them is excluded
  assert.deepEqual(names(select(i, opts({ all: true, excludes: [name('pool2/b')] })).selected), ['tank/a']);
});

test('pools that cannot take a snapshot: -a and the property skip their datasets with the pool\'s reason; a dataset named on one is an error', () => {
  const i: Inventory = {
    datasets: [ds('tank', '/tank'), ds('tank/a', '/tank/a'), ds('ro', '/ro'), ds('ro/x', '/ro/x'), ds('sus', '/sus', { backup: 'on' })],
    mounts: [],
    pools: new Map([
      ['tank', { health: 'DEGRADED', readonly: false }],
      ['ro', { health: 'ONLINE', readonly: true }],
      ['sus', { health: 'SUSPENDED', readonly: false }],
    ]),
  };
  const o = (x: Partial<SelectOptions>): SelectOptions => ({ targets: [], all: false, recursive: false, excludes: [], ...x });
  const all = select(i, o({ all: true }));
  assert.deepEqual(all.selected.map((d) => d.name), ['tank', 'tank/a'], 'a degraded pool still takes snapshots');
  assert.deepEqual(all.skipped, [
    { dataset: 'ro', reason: 'pool ro is imported read-only (readonly=on): it cannot take a snapshot', pool: 'ro' },
    { dataset: 'ro/x', reason: 'pool ro is imported read-only (readonly=on): it cannot take a snapshot', pool: 'ro' },
    { dataset: 'sus', reason: 'pool sus is SUSPENDED: it cannot take a snapshot', pool: 'sus' },
  ]);
  const prop = select(i, o({ property: 'nightly' }));
  assert.deepEqual(prop.skipped.map((s) => s.pool), ['sus']);
  for (const t of [{ kind: 'dataset', name: 'ro/x' }, { kind: 'path', path: '/ro' }] as Target[]) {
    assert.throws(() => select(i, o({ targets: [t], recursive: true })), (e: unknown) => e instanceof UsageError && /cannot back up ro.*read-only/.test(e.message));
  }
  // excluded on purpose: not a warning
  const ex = select(i, o({ all: true, excludes: [{ kind: 'dataset', name: 'ro' }, { kind: 'dataset', name: 'sus' }] }));
  assert.ok(ex.skipped.every((s) => s.pool === undefined));
  // unknown state (zpool could not tell): zfs snapshot will say
  assert.deepEqual(select({ ...i, pools: new Map() }, o({ all: true })).skipped, []);
});

test('zpool list of the pools\' states: parsed, and only ONLINE or DEGRADED pools that are not read-only can take a snapshot', async () => {
  const { parsePools, poolProblem, readPools, zpoolListArgv } = await import('../../src/discover/pools.js');
  assert.deepEqual(zpoolListArgv(), ['zpool', 'list', '-H', '-o', 'name,health,readonly']);
  const m = parsePools('tank\tONLINE\toff\nro\tONLINE\ton\nsus\tSUSPENDED\toff\nbad\tFAULTED\t-\ndeg\tDEGRADED\toff\n');
  assert.deepEqual([...m.keys()], ['tank', 'ro', 'sus', 'bad', 'deg']);
  assert.deepEqual([...m].map(([n, s]) => poolProblem(n, s)), [null, 'pool ro is imported read-only (readonly=on): it cannot take a snapshot', 'pool sus is SUSPENDED: it cannot take a snapshot', 'pool bad is FAULTED: it cannot take a snapshot', null]);
  // zpool failing is "unknown" (zfs snapshot will say), a hung zpool is not swallowed
  const { FakeRunner } = await import('./helpers.js');
  const { CommandError, CommandTimeoutError } = await import('../../src/core/errors.js');
  assert.equal((await readPools(new FakeRunner((a) => new CommandError(a, 1, null, 'no pools', 'failed')))).size, 0);
  await assert.rejects(readPools(new FakeRunner((a) => new CommandTimeoutError(a, 5))), CommandTimeoutError);
});
