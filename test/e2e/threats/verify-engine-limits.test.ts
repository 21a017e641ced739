// Threat: verification that fails every backup for what the engine never
// stores, or for names it cannot read. A user's socket in their home made
// every verified restic backup exit 1; a file name that is not UTF-8 made
// every verification end in exit 8. Neither is a lost file: the backup is
// verified (exit 0), the socket is reported as not stored, and the file with
// the odd name is in the repository and compared.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { test } from 'node:test';
import { CLEAN, leftovers, Pool, RESTOMIC, resticRepo, run, scratchDir, summary } from '../lib.js';

const MOUNT_ROOT = '/kt-vlimits';

test('restic --verify: a socket and a name that is not UTF-8 in a dataset: exit 0, the socket reported as not stored, the file in the repository', async (t) => {
  const pool = Pool.create(['home']);
  // A process that keeps a Unix socket open in the dataset, as a user's agent would.
  const sock = pool.path('home/agent.sock');
  const holder = spawn(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(sock)}); setInterval(() => {}, 1000)`], { stdio: 'ignore' });
  t.after(() => {
    holder.kill('SIGKILL');
    pool.destroy();
  });
  writeFileSync(pool.path('home/plain.txt'), 'plain\n');
  const odd = Buffer.concat([Buffer.from(`${pool.path('home')}/caf`), Buffer.from([0xe9]), Buffer.from('.txt')]); // latin-1 "café.txt"
  writeFileSync(odd, 'latin-1 name\n');
  const until = Date.now() + 20_000;
  while (!execFileSync('find', [pool.path('home'), '-type', 's'], { encoding: 'utf8' }).includes('agent.sock')) {
    if (Date.now() > until) throw new Error('the socket never appeared');
    await new Promise((r) => setTimeout(r, 100));
  }
  const env = { ...resticRepo(), KOPIATOMIC_VERIFY_DIR: scratchDir('vdir') };
  const r = await run(RESTOMIC, ['--json', '--verify', '--mount-root', MOUNT_ROOT, pool.ds('home')], { env, timeoutMs: 600_000 });
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(leftovers([pool], MOUNT_ROOT), CLEAN);

  // What the repository holds, as restic lists it (names as bytes).
  const ls = execFileSync('restic', ['ls', 'latest'], { env: { ...process.env, ...env } });
  const lines = ls.toString('latin1').split('\n');
  assert.ok(lines.some((l) => l.endsWith('/home/plain.txt')), 'the plain file is in the repository');
  assert.ok(lines.some((l) => l.endsWith('/home/caf\xe9.txt')), `the file whose name is not UTF-8 is in the repository under its own bytes:\n${ls.toString('latin1')}`);
  assert.ok(!lines.some((l) => l.endsWith('/agent.sock')), 'restic did not store the socket');

  const v = summary(r)?.['verify'] as { status: string; differences: number; notStored: number; notStoredPaths: { path: string; why: string }[]; entries: number };
  assert.equal(v.status, 'ok');
  assert.equal(v.differences, 0);
  assert.equal(v.notStored, 1);
  assert.match(v.notStoredPaths[0]!.path, /\/home\/agent\.sock$/);
  assert.match(v.notStoredPaths[0]!.why, /not stored by restic/);
});
