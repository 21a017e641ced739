// Threat: the account that owns node_exporter's textfile directory (or the
// status file's) plants symlinks at the names root writes there, to make
// root overwrite another file with metrics text. Promise: root follows no
// name in such a directory: the temp file is new and random (O_EXCL|
// O_NOFOLLOW), the rename replaces the planted link, and the link's target is
// never written.
import assert from 'node:assert/strict';
import { chownSync, lchownSync, lstatSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { test } from 'node:test';
import { KOPIATOMIC, leftovers, CLEAN, Pool, run } from '../lib.js';

const NOBODY = 65534;

function nextPid(): number {
  try {
    return Number(readFileSync('/proc/sys/kernel/ns_last_pid', 'utf8'));
  } catch {
    return 0; // not Linux: only the final names are planted
  }
}

test('metrics and status files in a directory another account owns, with symlinks planted at every name: written, the links\' target untouched', async (t) => {
  const dir = '/kt-threat-textfile';
  const precious = '/kt-threat-precious';
  const root = '/kt-threat-textfile-root';
  const pool = Pool.create(['a']);
  t.after(() => {
    pool.destroy();
    rmSync(dir, { recursive: true, force: true });
    rmSync(precious, { force: true });
    rmSync(root, { recursive: true, force: true });
  });
  writeFileSync(precious, 'precious\n', { mode: 0o600 });
  mkdirSync(dir, { mode: 0o755 });
  chownSync(dir, NOBODY, NOBODY);
  const metrics = `${dir}/kopiatomic.prom`;
  const status = `${dir}/status.json`;
  // The final names, and the old writer's guessable temp names (.NAME.PID.tmp)
  // for the next pids, where the run's own pid will be (Linux says which came last).
  const names = [metrics, status];
  const last = nextPid();
  for (let pid = last + 1; last && pid <= last + 150; pid++) names.push(`${dir}/.kopiatomic.prom.${pid}.tmp`, `${dir}/.status.json.${pid}.tmp`);
  for (const n of names) {
    symlinkSync(precious, n);
    lchownSync(n, NOBODY, NOBODY);
  }
  const r = await run(KOPIATOMIC, ['--json', '--mount-root', root, '--engine', 'command', '-c', 'true', '--metrics-file', metrics, '--status-file', status, '-r', pool.ds('a')]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(readFileSync(precious, 'utf8'), 'precious\n', 'the planted links\' target is untouched');
  for (const f of [metrics, status]) {
    const st = lstatSync(f);
    assert.ok(st.isFile() && st.uid === 0 && (st.mode & 0o777) === 0o644, `${f} is root's own plain file now (the link was replaced)`);
  }
  assert.match(readFileSync(metrics, 'utf8'), /^kopiatomic_last_run_success\{job="default",host="[^"]*"\} 1$/m);
  assert.equal(JSON.parse(readFileSync(status, 'utf8')).jobs.default.status, 'ok');
  assert.deepEqual(leftovers([pool], root), CLEAN);
});
