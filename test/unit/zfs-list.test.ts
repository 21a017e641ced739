import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  parseDatasetList,
  parseSnapshotList,
  poolOf,
  zfsListDatasetsArgv,
  zfsListSnapshotsArgv,
} from '../../src/discover/zfs-list.js';

test('zfsListDatasetsArgv asks for scriptable, parsable output with the mount point last', () => {
  assert.deepEqual(zfsListDatasetsArgv(), ['zfs', 'list', '-H', '-p', '-t', 'filesystem', '-o', 'name,canmount,mounted,keystatus,mountpoint']);
  assert.deepEqual(zfsListSnapshotsArgv(), ['zfs', 'list', '-H', '-p', '-t', 'snapshot', '-o', 'name,userrefs,kopiatomic:run,kopiatomic:owner']);
});

test('poolOf: the part before the first / or @', () => {
  assert.equal(poolOf('tank'), 'tank');
  assert.equal(poolOf('tank/a/b'), 'tank');
  assert.equal(poolOf('tank@snap'), 'tank');
  assert.equal(poolOf('tank/a@s/x'), 'tank');
});

test('parseDatasetList: plain rows', () => {
  const rows = parseDatasetList('tank\ton\tyes\t-\t/tank\ntank/home\tnoauto\tno\tavailable\t/home\n');
  assert.deepEqual(rows, [
    { name: 'tank', pool: 'tank', canmount: 'on', mounted: true, keystatus: null, mountpoint: '/tank' },
    { name: 'tank/home', pool: 'tank', canmount: 'noauto', mounted: false, keystatus: 'available', mountpoint: '/home' },
  ]);
});

test('parseDatasetList: spaces and unicode in names and mount points are kept verbatim', () => {
  const rows = parseDatasetList('tank/my data\ton\tyes\t-\t/srv/my data\nbäck/ünï code ✓\ton\tyes\t-\t/mnt/dätä ✓\n');
  assert.equal(rows.length, 2);
  assert.equal(rows[0]!.name, 'tank/my data');
  assert.equal(rows[0]!.mountpoint, '/srv/my data');
  assert.equal(rows[1]!.name, 'bäck/ünï code ✓');
  assert.equal(rows[1]!.pool, 'bäck');
  assert.equal(rows[1]!.mountpoint, '/mnt/dätä ✓');
});

test('parseDatasetList: a tab inside the mount point stays part of it', () => {
  const [row] = parseDatasetList('tank/t\ton\tyes\t-\t/srv/a\tb\t c\n');
  assert.equal(row!.mountpoint, '/srv/a\tb\t c');
  assert.equal(row!.name, 'tank/t');
});

test('parseDatasetList: none, legacy, canmount=off, keystatus unavailable', () => {
  const rows = parseDatasetList(
    ['tank/none\ton\tno\t-\tnone', 'tank/leg\ton\tno\t-\tlegacy', 'tank/off\toff\tno\t-\t/off', 'tank/enc\ton\tno\tunavailable\t/enc'].join('\n'),
  );
  assert.deepEqual(
    rows.map((r) => [r.name, r.canmount, r.mounted, r.keystatus, r.mountpoint]),
    [
      ['tank/none', 'on', false, null, 'none'],
      ['tank/leg', 'on', false, null, 'legacy'],
      ['tank/off', 'off', false, null, '/off'],
      ['tank/enc', 'on', false, 'unavailable', '/enc'],
    ],
  );
});

test('parseDatasetList: no trailing newline and blank lines are fine; empty output is no rows', () => {
  assert.equal(parseDatasetList('a\ton\tyes\t-\t/a\n\nb\ton\tyes\t-\t/b').length, 2);
  assert.deepEqual(parseDatasetList(''), []);
});

test('parseDatasetList: a line with too few columns is an error naming it', () => {
  assert.throws(() => parseDatasetList('tank\ton\tyes\n'), /cannot parse zfs list line: "tank\\ton\\tyes"/);
});

test('parseSnapshotList: our properties, - for unset, spaces and unicode in names', () => {
  const rows = parseSnapshotList(
    [
      'tank/my data@kopiatomic-R1\t1\tR1\tboot-1:42',
      'pööl/ü@other\t0\t-\t-',
      'tank@kopiatomic-R2\t2\tR2\tb:7',
    ].join('\n') + '\n',
  );
  assert.deepEqual(rows, [
    { name: 'tank/my data@kopiatomic-R1', dataset: 'tank/my data', snapshot: 'kopiatomic-R1', userrefs: 1, run: 'R1', owner: 'boot-1:42' },
    { name: 'pööl/ü@other', dataset: 'pööl/ü', snapshot: 'other', userrefs: 0, run: null, owner: null },
    { name: 'tank@kopiatomic-R2', dataset: 'tank', snapshot: 'kopiatomic-R2', userrefs: 2, run: 'R2', owner: 'b:7' },
  ]);
});

test('parseSnapshotList: lines that are not snapshots are ignored; bad userrefs counts as 0', () => {
  const rows = parseSnapshotList('tank/fs\t0\t-\t-\ntank@s\tx\t-\t-\n');
  assert.equal(rows.length, 1);
  assert.equal(rows[0]!.name, 'tank@s');
  assert.equal(rows[0]!.userrefs, 0);
});
