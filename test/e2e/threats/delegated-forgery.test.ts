// Threat: a local user to whom the admin delegated `zfs allow USER
// snapshot,userprop,mount` on a dataset makes a snapshot named like ours and
// sets our run and owner properties (a dead run of this host), with or without
// a made-up kopiatomic:proof. `kopiatomic cleanup` scans every pool and finds
// it by those properties; it must leave it alone (only root can read the key
// that makes a proof), while a real dead run's snapshot that only the scan can
// find (its journal lost) still goes. Asserted with `zfs list`.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { test } from 'node:test';
import { linux } from '../../../src/platform/linux.js';
import { newRunId, ownerOf, snapshotNameFor } from '../../../src/zfs/naming.js';
import { KOPIATOMIC, Pool, run, scratchDir, script, zfs } from '../lib.js';
import { cmd, journalOf, namedOurs, teardown, why } from './common.js';

/** `zfs ARGS` as the unprivileged account nobody. */
function zfsAsNobody(...args: string[]): { code: number | null; out: string } {
  const r = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', '--', 'zfs', ...args], { encoding: 'utf8' });
  return { code: r.status, out: `${r.stdout}\n${r.stderr}` };
}

test('a snapshot a delegated user made with our name and our run and owner properties survives `cleanup`', async () => {
  const root = '/kt-threat-forged';
  const pool = Pool.create(['a', 'u']);
  const work = scratchDir('threat-forged');
  try {
    // A real run killed in its backup, whose journal is then lost: only the scan can find its snapshot.
    const killer = script(work, 'kill.sh', 'kill -9 $PPID\nsleep 1');
    const r1 = await run(KOPIATOMIC, [...cmd(root, killer), pool.ds('a')]);
    assert.equal(r1.signal ?? r1.code, 'SIGKILL', why(r1));
    const real = namedOurs([pool]);
    assert.equal(real.length, 1, real.join(' '));
    assert.match(zfs('get', '-H', '-o', 'value,source', 'kopiatomic:proof', real[0]!), /^[0-9a-f]{64}\tlocal$/m, 'our snapshot carries its proof');
    rmSync(journalOf(root), { force: true });

    // The admin delegates; the user forges a dead run of this host on its dataset.
    zfs('allow', '-u', 'nobody', 'snapshot,userprop,mount', pool.ds('u'));
    const owner = ownerOf(await linux.hostId({} as never), 'a-boot-long-gone', 4242);
    const forged = (tag: string, proof: string | null) => {
      const runId = newRunId(new Date(), 4242);
      const name = `${pool.ds('u')}@${snapshotNameFor(runId)}`;
      const r = zfsAsNobody('snapshot', '-o', `kopiatomic:run=${runId}`, '-o', `kopiatomic:owner=${owner}`, ...(proof ? ['-o', `kopiatomic:proof=${proof}`] : []), name);
      assert.equal(r.code, 0, `${tag}: the delegated user can make it: ${r.out}`);
      assert.equal(zfs('get', '-H', '-o', 'source', 'kopiatomic:owner', name).trim(), 'local');
      return name;
    };
    const noProof = forged('without a proof', null);
    const madeUp = forged('with a made-up proof', 'ab'.repeat(32));
    // The key is root's alone.
    assert.equal(zfsAsNobody('list').code, 0);
    const keyRead = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', '--', 'cat', '/var/lib/kopiatomic/proof.key'], { encoding: 'utf8' });
    assert.notEqual(keyRead.status, 0, 'nobody cannot read the key');
    assert.match(readFileSync('/var/lib/kopiatomic/proof.key', 'utf8'), /^[0-9a-f]{64}\n$/);

    const c = await run(KOPIATOMIC, ['cleanup', '--json', '--mount-root', root]);
    assert.equal(c.code, 5, `the forged snapshots are reported as leftovers: ${why(c)}`);
    const left = zfs('list', '-H', '-o', 'name', '-t', 'snapshot', '-r', pool.name).split('\n').filter(Boolean).sort();
    assert.deepEqual(left, [madeUp, noProof].sort(), 'the real dead run\'s snapshot went; both forged ones are intact');
    // A second cleanup still leaves them.
    const c2 = await run(KOPIATOMIC, ['cleanup', '--json', '--mount-root', root]);
    assert.equal(c2.code, 5, why(c2));
    assert.deepEqual(zfs('list', '-H', '-o', 'name', '-t', 'snapshot', '-r', pool.name).split('\n').filter(Boolean).sort(), [madeUp, noProof].sort());
  } finally {
    teardown([pool], root);
  }
});
