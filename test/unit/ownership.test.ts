import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseOwned, zfsGetOwnedArgv } from '../../src/discover/snapshots.js';
import { freebsd, freebsdBootId, parseBootIdDump, parseBoottimeSec } from '../../src/platform/freebsd.js';
import { linux, linuxHostId } from '../../src/platform/linux.js';
import { ownerOf, parseOwner } from '../../src/zfs/naming.js';
import { judge, staleRuns } from '../../src/safety/ownership.js';
import { CommandError } from '../../src/core/errors.js';
import { FakeRunner } from './helpers.js';

const ME = { host: 'h1', boot: 'boot-now' };
const deadAlive = () => false;

// What `zfs get -H -p -o name,property,value,source -t snapshot kopiatomic:run,kopiatomic:owner` printed in the
// guest on OpenZFS 2.1.11 and 2.3.2 after `zfs send -R | zfs recv` and a snapshot of a dataset carrying the property.
const GET = [
  'pa/x@kopiatomic-R1\tkopiatomic:run\tR1\tlocal',
  'pa/x@kopiatomic-R1\tkopiatomic:owner\th1:boot-old:4242\tlocal',
  'pa/x@foreign\tkopiatomic:run\t-\t-',
  'pa/x/y@kopiatomic-INH\tkopiatomic:run\tINH\tinherited from pa/x/y',
  'pa/x/y@kopiatomic-INH\tkopiatomic:owner\th1:boot-old:4242\tinherited from pa/x/y',
  'pb/x@kopiatomic-R1\tkopiatomic:run\tR1\treceived',
  'pb/x@kopiatomic-R1\tkopiatomic:owner\th1:boot-old:4242\treceived',
  '',
].join('\n');

test('zfsGetOwnedArgv: one zfs get over every snapshot, local values only', () => {
  assert.deepEqual(zfsGetOwnedArgv(), ['zfs', 'get', '-H', '-p', '-o', 'name,property,value,source', '-s', 'local', '-t', 'snapshot', 'kopiatomic:run,kopiatomic:owner']);
});

test('parseOwned: only values set locally on the snapshot count (received and inherited are dropped)', () => {
  const list = parseOwned(GET);
  assert.deepEqual(list, [{ name: 'pa/x@kopiatomic-R1', dataset: 'pa/x', snapshot: 'kopiatomic-R1', run: 'R1', owner: 'h1:boot-old:4242' }]);
});

test('parseOwned: a value with a tab stays whole; the source is the last column', () => {
  const l = parseOwned('t/a@kopiatomic-R\tkopiatomic:owner\th1:b\tx:7\tlocal\n');
  assert.equal(l[0]!.owner, 'h1:b\tx:7');
});

test('judge: ours only when local, named after its run, made on this host, and its run is dead', () => {
  const s = (over: object) => ({ name: 't/a@kopiatomic-R1', dataset: 't/a', snapshot: 'kopiatomic-R1', run: 'R1', owner: 'h1:boot-old:10', ...over });
  assert.equal(judge(s({}), ME, deadAlive).verdict, 'stale');
  assert.equal(judge(s({ owner: null }), ME, deadAlive).verdict, 'foreign', 'owner not local (received or inherited)');
  assert.equal(judge(s({ run: null }), ME, deadAlive).verdict, 'foreign', 'run not local');
  assert.equal(judge(s({ snapshot: 'daily-1', name: 't/a@daily-1' }), ME, deadAlive).verdict, 'foreign', 'name mismatch');
  assert.equal(judge(s({ owner: 'h2:boot-old:10' }), ME, deadAlive).verdict, 'foreign', 'another host');
  assert.equal(judge(s({ owner: 'boot-old:10' }), ME, deadAlive).verdict, 'foreign', 'old format without a host');
  assert.equal(judge(s({ owner: 'h1:boot-now:10' }), ME, () => true).verdict, 'live', 'a live run');
  // the liveness check sees the boot and the pid, as parsed
  let seen: unknown = null;
  judge(s({ owner: 'h1:{ sec = 1, usec = 2 } Mon Jan  1 00:00:01 2024:77' }), ME, (o) => ((seen = o), false));
  assert.deepEqual(seen, { boot: '{ sec = 1, usec = 2 } Mon Jan  1 00:00:01 2024', pid: 77 });
});

test('staleRuns: dead runs of this host grouped by snapshot name; others left out', () => {
  const list = [
    ...parseOwned(GET),
    { name: 'pa/z@kopiatomic-R1', dataset: 'pa/z', snapshot: 'kopiatomic-R1', run: 'R1', owner: 'h1:boot-old:4242' },
    { name: 'pa/z@kopiatomic-R2', dataset: 'pa/z', snapshot: 'kopiatomic-R2', run: 'R2', owner: 'h2:boot-old:1' },
  ];
  assert.deepEqual([...staleRuns(list, ME, deadAlive)], [['kopiatomic-R1', ['pa/x@kopiatomic-R1', 'pa/z@kopiatomic-R1']]]);
});

test('ownerOf/parseOwner: host first, pid last, a boot id with ":" survives; a host id never holds ":"', () => {
  assert.equal(ownerOf('abc', 'b:o:o:t', 12), 'abc:b:o:o:t:12');
  assert.deepEqual(parseOwner('abc:b:o:o:t:12'), { host: 'abc', boot: 'b:o:o:t', pid: 12 });
  assert.equal(ownerOf('we:ird host', 'b', 1), 'we_ird_host:b:1');
  assert.equal(parseOwner('abc:12'), null);
  assert.equal(parseOwner('abc::12'), null);
  assert.equal(parseOwner('abc:b:x12'), null);
  assert.equal(parseOwner(':b:12'), null);
});

test('FreeBSD boot id: kern.boot_id from `sysctl -nx` (16 random bytes per boot)', async () => {
  assert.equal(parseBootIdDump('Format: Length:16 Dump:0x4c8609698ad1a11cdc00cf6eb7d954e1\n'), '4c8609698ad1a11cdc00cf6eb7d954e1');
  assert.equal(parseBootIdDump(''), null);
  const r = new FakeRunner((argv) => (argv.join(' ') === 'sysctl -nx kern.boot_id' ? { code: 0, stdout: 'Format: Length:16 Dump:0x2B1D732B2C1B8134CF3B7161650B01D8\n', stderr: '' } : new Error('unexpected')));
  assert.equal(await freebsdBootId(r), '2b1d732b2c1b8134cf3b7161650b01d8');
});

test('FreeBSD boot id: without kern.boot_id (older releases), the seconds of kern.boottime, with no ":"', async () => {
  // `sysctl -n kern.boottime` on FreeBSD 12.x/13.x/14.x
  const text = '{ sec = 1732600000, usec = 123456 } Tue Nov 26 07:46:40 2024\n';
  assert.equal(parseBoottimeSec(text), '1732600000');
  assert.equal(parseBoottimeSec('{ sec = 5, usec = 0 } Thu Jan  1 00:00:05 1970'), '5');
  assert.equal(parseBoottimeSec('garbage'), null);
  const r = new FakeRunner((argv) =>
    argv.includes('kern.boot_id')
      ? new CommandError(argv, 1, null, "sysctl: unknown oid 'kern.boot_id'", 'failed')
      : { code: 0, stdout: text, stderr: '' },
  );
  const id = await freebsdBootId(r);
  assert.equal(id, 'boottime-1732600000');
  assert.ok(!id.includes(':'));
  // a missing sysctl is an error, never a fallback
  const gone = new FakeRunner((argv) => new CommandError(argv, 127, null, '', 'program-missing'));
  await assert.rejects(freebsdBootId(gone));
});

test('host ids: Linux machine id, else a non-zero /etc/hostid, else the host name', () => {
  const files = (m: Record<string, string>) => (p: string) => m[p] ?? null;
  assert.equal(linuxHostId(files({ '/etc/machine-id': '0123456789ABCDEF0123456789abcdef\n' })), '0123456789abcdef0123456789abcdef');
  assert.equal(linuxHostId(files({ '/etc/machine-id': '\n', '/etc/hostid': Buffer.from([0x81, 0x0a, 0x82, 0x09]).toString('latin1') })), 'hostid-09820a81');
  assert.match(linuxHostId(files({ '/etc/hostid': '\0\0\0\0' })), /^name-/);
});

test('our snapshot mounts: Linux mount -t zfs sources, FreeBSD nullfs .zfs/snapshot sources; bind mounts are not', () => {
  assert.equal(linux.isOurSnapshotMount({ source: 'tank/a@kopiatomic-R1', target: '/kopia/a', fstype: 'zfs', root: '/' }), true);
  assert.equal(linux.isOurSnapshotMount({ source: 'tank/a@kopiatomic-R1', target: '/kopia/a', fstype: 'zfs', root: '/sub' }), false);
  assert.equal(linux.isOurSnapshotMount({ source: 'tank/a@daily', target: '/kopia/a', fstype: 'zfs', root: '/' }), false);
  assert.equal(freebsd.isOurSnapshotMount({ source: '/usr/home/.zfs/snapshot/kopiatomic-R1', target: '/kopia/usr/home', fstype: 'nullfs', root: '/' }), true);
  assert.equal(freebsd.isOurSnapshotMount({ source: '/.zfs/snapshot/kopiatomic-R1', target: '/kopia', fstype: 'nullfs', root: '/' }), true);
  assert.equal(freebsd.isOurSnapshotMount({ source: '/data', target: '/kopia/data', fstype: 'nullfs', root: '/' }), false);
  assert.equal(freebsd.isOurSnapshotMount({ source: 'zroot/a@kopiatomic-R1', target: '/kopia/a', fstype: 'zfs', root: '/' }), false);
});
