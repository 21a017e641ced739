// Threat: a credential inside a value (the fleet form of docs/fleets.md
// RESTIC_REPOSITORY=rest:https://user:password@host/) in a configuration file
// that other users can read. Promise: the file is refused before anything is
// snapshotted (exit 2), and once it is private, the secret is found in
// neither the status file nor the engine's argv as kopiatomic prints it.
// Asserted on the system: the exit code, `zfs list -t snapshot`, the status
// file on disk, what the engine received.
import assert from 'node:assert/strict';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { test } from 'node:test';
import { KOPIATOMIC, Pool, run, scratchDir, script } from '../lib.js';

test('a 0644 config holding rest:https://u:secret@host/ is refused and nothing is snapshotted; made 0600 it runs and the secret stays out of the status file', async (t) => {
  const pool = Pool.create(['a']).destroyAfter(t);
  const work = scratchDir('thr-secret');
  const statusFile = `${work}/status.json`;
  // The "engine" keeps the repository it was given (to prove the secret reached it) and fails.
  const engine = script(work, 'engine.sh', `printf %s "$RESTIC_REPOSITORY" > ${work}/seen\nexit 1`);
  const cfg = `${work}/k.toml`;
  writeFileSync(
    cfg,
    `status_file = "${statusFile}"\n[jobs.a]\ndatasets = ["${pool.ds('a')}"]\nengine = "command"\ncommand = "${engine}"\nmount_root = "/kt-thr-secret"\nenv = { RESTIC_REPOSITORY = "rest:https://u:s3cr3tpw@backup.example:8000/a/" }\n`,
  );
  for (const mode of [0o644, 0o640]) {
    chmodSync(cfg, mode);
    const r = await run(KOPIATOMIC, ['--config', cfg, 'run']);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /jobs\.a\.env\.RESTIC_REPOSITORY holds a secret.*chmod 600/);
    assert.match(r.stderr, /k\.toml:7:/);
    assert.doesNotMatch(r.stderr + r.stdout, /s3cr3tpw/);
    assert.deepEqual(pool.snapshots(), [], 'nothing was snapshotted');
  }
  chmodSync(cfg, 0o600);
  const r = await run(KOPIATOMIC, ['--json', '--config', cfg, 'run', '--verbose']);
  assert.equal(r.code, 1, r.stderr); // the engine failed
  assert.deepEqual(pool.snapshots(), [], 'the run cleaned up');
  assert.equal(readFileSync(`${work}/seen`, 'utf8'), 'rest:https://u:s3cr3tpw@backup.example:8000/a/', 'the engine got the secret, in its environment');
  const stored = readFileSync(statusFile, 'utf8');
  assert.match(stored, /"status": "backup-failed"/);
  assert.doesNotMatch(stored, /s3cr3tpw/);
  assert.doesNotMatch(r.stdout + r.stderr, /s3cr3tpw/, 'nor in what kopiatomic printed (events, logs)');
  const shown = await run(KOPIATOMIC, ['--json', '--config', cfg, 'config', 'show']);
  assert.equal(shown.code, 0, shown.stderr);
  assert.doesNotMatch(shown.stdout, /s3cr3tpw/);
});
