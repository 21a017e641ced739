// Threat: monitoring that lies, or that needs root. A run that fails before
// any job starts (a dataset renamed) must be recorded for every job, and
// `kopiatomic status` run by an unprivileged account (as NRPE or a Zabbix
// agent runs it) must tell OK from CRITICAL without reading the 0600 config,
// and report a permission problem as UNKNOWN, never as a failed backup.
// Asserted on the system: the status and metrics files read from disk, and the
// exit code of `status` run as nobody.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { test } from 'node:test';
import { KOPIATOMIC, Pool, run, scratchDir, sh, shOk, zfs } from '../lib.js';

/** `kopiatomic ARGS` as the unprivileged account nobody: its exit code and output. */
function asNobody(args: string[]): { code: number | null; out: string } {
  const argv = [process.execPath, KOPIATOMIC, ...args];
  const r = shOk('sh', '-c', 'command -v runuser')
    ? spawnSync('runuser', ['-u', 'nobody', '--', ...argv], { encoding: 'utf8' })
    : spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', '--', ...argv], { encoding: 'utf8' });
  return { code: r.status, out: `${r.stdout}\n${r.stderr}` };
}

interface Rec {
  status: string;
  exitCode: number;
  error?: string;
}

test('a run that fails before any job starts is recorded for each job; status as nobody: CRITICAL, OK, and UNKNOWN for a permission problem', async (t) => {
  const pool = Pool.create(['a', 'b']).destroyAfter(t);
  const work = scratchDir('thr-monitor');
  chmodSync(work, 0o755);
  // The state directory as a fresh install makes it: private.
  const state = `${work}/state`;
  sh('install', '-d', '-m', '0700', state);
  const statusFile = `${state}/status.json`;
  const metrics = `${work}/kt.prom`;
  const cfg = `${work}/k.toml`;
  const write = (cmd: string) =>
    writeFileSync(
      cfg,
      `status_file = "${statusFile}"\n[defaults]\nengine = "command"\ncommand = "${cmd}"\nmetrics_file = "${metrics}"\n[jobs.a]\ndatasets = ["${pool.ds('a')}"]\nmount_root = "/kt-thr-mon-a"\n[jobs.b]\ndatasets = ["${pool.ds('b')}"]\nmount_root = "/kt-thr-mon-b"\n`,
      { mode: 0o600 },
    );
  const jobs = () => (JSON.parse(readFileSync(statusFile, 'utf8')) as { jobs: Record<string, Rec> }).jobs;
  const success = (job: string) => new RegExp(`^kopiatomic_last_run_success\\{job="${job}"[^}]*\\} (\\d)$`, 'm').exec(readFileSync(metrics, 'utf8'))?.[1];
  const status = ['--config', cfg, 'status', '--status-file', statusFile];

  write('false');
  let r = await run(KOPIATOMIC, ['--config', cfg, 'run']);
  assert.equal(r.code, 1, r.stderr);
  assert.equal(statSync(statusFile).mode & 0o777, 0o644);
  assert.equal(statSync(state).mode & 0o011, 0o011, 'the state directory is searchable by others');
  let n = asNobody(status);
  assert.equal(n.code, 2, `CRITICAL after a failed run, as nobody:\n${n.out}`);

  write('true');
  r = await run(KOPIATOMIC, ['--config', cfg, 'run']);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual([success('a'), success('b')], ['1', '1']);
  n = asNobody(status);
  assert.equal(n.code, 0, `OK after a good run, as nobody:\n${n.out}`);

  // A permission problem is UNKNOWN, with what to change.
  chmodSync(state, 0o700);
  n = asNobody(status);
  assert.equal(n.code, 3, n.out);
  assert.match(n.out, /permission denied.*chmod o\+x/s);

  // One job's dataset renamed: the run stops before any job starts, and both jobs record it.
  zfs('rename', pool.ds('b'), pool.ds('moved'));
  r = await run(KOPIATOMIC, ['--config', cfg, 'run']);
  assert.equal(r.code, 2, r.stderr);
  assert.deepEqual(pool.snapshots(), [], 'no job ran');
  const after = jobs();
  assert.deepEqual([after['a']?.status, after['a']?.exitCode, after['b']?.status, after['b']?.exitCode], ['usage', 2, 'usage', 2]);
  assert.match(after['a']!.error!, /no such ZFS filesystem/);
  assert.deepEqual([success('a'), success('b')], ['0', '0']);
  n = asNobody(status);
  assert.equal(n.code, 2, `CRITICAL after a run that could not start, as nobody:\n${n.out}`);
});
