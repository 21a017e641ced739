import { test } from 'node:test';
import assert from 'node:assert/strict';
import { zfsRows } from './helpers.js';
import {
  parseDatasetList,
  parseSnapshotList,
  poolOf,
  zfsListDatasetsArgv,
  zfsListSnapshotsArgv,
} from '../../src/zfs/list.js';

test('zfsListDatasetsArgv asks for scriptable, parsable output with the mount point last but one and the name again last', () => {
  assert.deepEqual(zfsListDatasetsArgv(), ['zfs', 'list', '-H', '-p', '-t', 'filesystem', '-o', 'name,canmount,mounted,keystatus,kopiatomic:backup,mountpoint,name']);
  assert.deepEqual(zfsListSnapshotsArgv(), ['zfs', 'list', '-H', '-p', '-t', 'snapshot', '-o', 'name,userrefs,kopiatomic:run,kopiatomic:owner']);
});

test('poolOf: the part before the first / or @', () => {
  assert.equal(poolOf('tank'), 'tank');
  assert.equal(poolOf('tank/a/b'), 'tank');
  assert.equal(poolOf('tank@snap'), 'tank');
  assert.equal(poolOf('tank/a@s/x'), 'tank');
});

test('parseDatasetList: plain rows', () => {
  const rows = parseDatasetList(zfsRows('tank\ton\tyes\t-\t/tank\ntank/home\tnoauto\tno\tavailable\t/home\n'));
  assert.deepEqual(rows, [
    { name: 'tank', pool: 'tank', canmount: 'on', mounted: true, keystatus: null, mountpoint: '/tank', backup: null },
    { name: 'tank/home', pool: 'tank', canmount: 'noauto', mounted: false, keystatus: 'available', mountpoint: '/home', backup: null },
  ]);
});

test('parseDatasetList: spaces and unicode in names and mount points are kept verbatim', () => {
  const rows = parseDatasetList(zfsRows('tank/my data\ton\tyes\t-\t/srv/my data\nbäck/ünï code ✓\ton\tyes\t-\t/mnt/dätä ✓\n'));
  assert.equal(rows.length, 2);
  assert.equal(rows[0]!.name, 'tank/my data');
  assert.equal(rows[0]!.mountpoint, '/srv/my data');
  assert.equal(rows[1]!.name, 'bäck/ünï code ✓');
  assert.equal(rows[1]!.pool, 'bäck');
  assert.equal(rows[1]!.mountpoint, '/mnt/dätä ✓');
});

test('parseDatasetList: a tab inside the mount point stays part of it', () => {
  const [row] = parseDatasetList(zfsRows('tank/t\ton\tyes\t-\t/srv/a\tb\t c\n'));
  assert.equal(row!.mountpoint, '/srv/a\tb\t c');
  assert.equal(row!.name, 'tank/t');
});

test('parseDatasetList: none, legacy, canmount=off, keystatus unavailable', () => {
  const rows = parseDatasetList(zfsRows(
    ['tank/none\ton\tno\t-\tnone', 'tank/leg\ton\tno\t-\tlegacy', 'tank/off\toff\tno\t-\t/off', 'tank/enc\ton\tno\tunavailable\t/enc'].join('\n'),
  ));
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
  assert.equal(parseDatasetList(zfsRows('a\ton\tyes\t-\t/a\n\nb\ton\tyes\t-\t/b')).length, 2);
  assert.deepEqual(parseDatasetList(zfsRows('')), []);
});

test('parseDatasetList: a line that is no row and belongs to none is an error naming it', () => {
  assert.throws(() => parseDatasetList('tank\ton\tyes\n'), /cannot parse zfs list line: "tank\\ton\\tyes"/);
});

test('parseDatasetList: a newline in a mount point joins lines into one row, which is skipped with the reason', () => {
  const rows = parseDatasetList(['tank\ton\tyes\t-\t-\t/tank\ttank', 'tank/nl\ton\tyes\t-\ton\t/srv/a', 'b\ttank/nl', 'tank/z\ton\tyes\t-\t-\t/z\ttank/z', ''].join('\n'));
  assert.deepEqual(rows.map((r) => [r.name, r.mountpoint, r.problem ?? null]), [
    ['tank', '/tank', null],
    ['tank/nl', '/srv/a\nb', 'mount point contains a newline'],
    ['tank/z', '/z', null],
  ]);
  assert.equal(rows[1]!.backup, 'on');
});

test('parseDatasetList: a mount point crafted to look like another row cannot pass as one', () => {
  // tank/evil's mount point is "/x<TAB>tank/evil<NL>tank/home<TAB>on<TAB>yes<TAB>-<TAB>-<TAB>/etc<TAB>tank/home<NL>y".
  const crafted = ['tank/evil\ton\tyes\t-\t-\t/x\ttank/evil', 'tank/home\ton\tyes\t-\t-\t/etc\ttank/home', 'y\ttank/evil'];
  const rows = parseDatasetList([...crafted, 'tank/home\ton\tyes\t-\t-\t/home\ttank/home', ''].join('\n'));
  const problem = Object.fromEntries(rows.map((r) => [r.name + ' ' + r.mountpoint, r.problem ?? null]));
  assert.match(problem['tank/evil /x']!, /newline/, 'the crafted dataset is skipped');
  assert.match(problem['tank/home /etc']!, /more than once/, 'the forged row is not trusted');
  assert.match(problem['tank/home /home']!, /more than once/, 'nor is the real one it imitates: better skipped than backed up from a forged path');
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
