import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseMountinfo, parseMountP, unescapeOctal } from '../../src/zfs/mount-table.js';
import { buildInventory } from '../../src/discover/inventory.js';
import { zfsRows } from './helpers.js';
import { parseDatasetList } from '../../src/zfs/list.js';

test('unescapeOctal: space, tab, newline, backslash; one pass only', () => {
  assert.equal(unescapeOctal('a\\040b\\011c\\012d\\134e'), 'a b\tc\nd\\e');
  // an escaped backslash followed by digits stays a backslash and digits
  assert.equal(unescapeOctal('x\\134040'), 'x\\040');
  assert.equal(unescapeOctal('no escapes'), 'no escapes');
  assert.equal(unescapeOctal('\\04'), '\\04');
});

const MOUNTINFO = [
  '22 1 0:21 / / rw,relatime shared:1 - zfs rpool/ROOT/default rw,xattr,noacl',
  '40 22 0:35 / /srv/my\\040data rw,relatime shared:20 - zfs tank/my\\040data rw,xattr',
  '41 22 0:36 / /srv/tab\\011dir rw,relatime - zfs tank/tab rw',
  '42 22 0:37 / /srv/back\\134slash rw master:3 shared:4 - zfs tank/back\\134slash rw',
  '43 22 0:35 /sub /mnt/bind rw,relatime shared:20 - zfs tank/my\\040data rw,xattr',
  '44 22 0:38 / /mnt/ünï rw - zfs tank/ünï rw',
  '45 22 0:5 / /dev rw,nosuid shared:2 - devtmpfs udev rw,size=100k',
  '',
].join('\n');

test('parseMountinfo: octal escapes in target and source, optional fields of any count', () => {
  const m = parseMountinfo(MOUNTINFO);
  assert.deepEqual(m, [
    { target: '/', fstype: 'zfs', source: 'rpool/ROOT/default', root: '/' },
    { target: '/srv/my data', fstype: 'zfs', source: 'tank/my data', root: '/' },
    { target: '/srv/tab\tdir', fstype: 'zfs', source: 'tank/tab', root: '/' },
    { target: '/srv/back\\slash', fstype: 'zfs', source: 'tank/back\\slash', root: '/' },
    { target: '/mnt/bind', fstype: 'zfs', source: 'tank/my data', root: '/sub' },
    { target: '/mnt/ünï', fstype: 'zfs', source: 'tank/ünï', root: '/' },
    { target: '/dev', fstype: 'devtmpfs', source: 'udev', root: '/' },
  ]);
});

test('parseMountinfo: a bind mount of part of a filesystem keeps its root (a mount, not where the dataset is)', () => {
  const m = parseMountinfo(MOUNTINFO);
  assert.equal(m.find((e) => e.target === '/mnt/bind')?.root, '/sub');
  // a root with an escaped space is unescaped too
  assert.deepEqual(parseMountinfo('50 1 0:9 /a\\040b /x rw - zfs t/x rw\n'), [{ target: '/x', fstype: 'zfs', source: 't/x', root: '/a b' }]);
  // discovery does not take it for the dataset's mount point
  const inv = buildInventory(parseDatasetList(zfsRows('tank/my data\ton\tyes\t-\t/srv/my data\n')), [m[4]!, m[1]!]);
  assert.equal(inv.datasets[0]!.mountedAt, '/srv/my data');
});

test('parseMountinfo: short or malformed lines are skipped', () => {
  assert.deepEqual(parseMountinfo('garbage\n1 2 3 4 5 6 -\n'), []);
});

test('parseMountP: whitespace separated, octal escapes in source and target', () => {
  const text = [
    'zroot/ROOT/default\t/\tzfs\trw,nfsv4acls\t0 0',
    'tank/my\\040data\t\t/srv/my\\040data\tzfs\trw\t0 0',
    'tank/t\\011b /srv/t\\011b zfs rw 0 0',
    '  tank/back\\134s   /srv/back\\134s   zfs   rw   0 0  ',
    'devfs\t\t\t/dev\t\tdevfs\trw\t\t0 0',
    '',
    '   ',
  ].join('\n');
  assert.deepEqual(parseMountP(text), [
    { source: 'zroot/ROOT/default', target: '/', fstype: 'zfs', root: '/' },
    { source: 'tank/my data', target: '/srv/my data', fstype: 'zfs', root: '/' },
    { source: 'tank/t\tb', target: '/srv/t\tb', fstype: 'zfs', root: '/' },
    { source: 'tank/back\\s', target: '/srv/back\\s', fstype: 'zfs', root: '/' },
    { source: 'devfs', target: '/dev', fstype: 'devfs', root: '/' },
  ]);
});

test('buildInventory: mountedAt from the mount table; first entry wins; snapshots and other fstypes ignored', () => {
  const rows = parseDatasetList(zfsRows(
    [
      'tank\ton\tyes\t-\t/tank',
      'tank/leg\ton\tno\t-\tlegacy',
      'tank/gone\ton\tno\t-\t/gone',
      'tank/my data\ton\tyes\t-\t/srv/my data',
    ].join('\n'),
  ));
  const mounts = [
    { source: 'tank/leg@kopiatomic-x', target: '/kopia/leg', fstype: 'zfs', root: '/' },
    { source: 'tank/leg', target: '/mnt/legacy', fstype: 'zfs', root: '/' },
    { source: 'tank/leg', target: '/mnt/over', fstype: 'zfs', root: '/' },
    { source: 'tank', target: '/tank', fstype: 'zfs', root: '/' },
    { source: 'tank/gone', target: '/gone', fstype: 'nullfs', root: '/' },
    { source: 'tank/my data', target: '/srv/my data', fstype: 'zfs', root: '/' },
  ];
  const inv = buildInventory(rows, mounts);
  assert.deepEqual(
    inv.datasets.map((d) => [d.name, d.mountedAt]),
    [
      ['tank', '/tank'],
      ['tank/leg', '/mnt/legacy'],
      ['tank/gone', null],
      ['tank/my data', '/srv/my data'],
    ],
  );
  assert.equal(inv.mounts, mounts);
});
