// Metrics files written by our code, checked by the real promtool.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { merge, parse, render, samplesFor, writeMetrics } from '../../src/ops/metrics.js';
import { record } from './ops-helpers.js';

const promtool = spawnSync('promtool', ['--version']).status === 0;

function promtoolCheck(file: string): void {
  // promtool check metrics reads the exposition on stdin; lint problems make it exit 1.
  const r = spawnSync('promtool', ['check', 'metrics'], { input: readFileSync(file), encoding: 'utf8' });
  assert.equal(r.status, 0, `promtool check metrics: ${r.stdout}${r.stderr}`);
}

function value(text: string, name: string, labels: Record<string, string>): number | undefined {
  return parse(text).find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;
}

test('a good run, then a failed run, then a second job: valid for promtool, values right, series kept', { skip: !promtool && 'promtool is not installed' }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'kt-metrics-'));
  const file = join(dir, 'kopiatomic.prom');

  await writeMetrics(file, record());
  promtoolCheck(file);
  let text = readFileSync(file, 'utf8');
  assert.equal(statSync(file).mode & 0o777, 0o644);
  assert.equal(value(text, 'kopiatomic_last_run_exit_code', { job: 'home', host: 'nas' }), 0);
  assert.equal(value(text, 'kopiatomic_last_success_timestamp_seconds', { job: 'home' }), Date.parse('2026-11-27T02:04:12.500Z') / 1000);
  assert.equal(value(text, 'kopiatomic_last_run_phase_duration_seconds', { job: 'home', phase: 'backup' }), 248);
  assert.equal(value(text, 'kopiatomic_last_run_engine_added_bytes', { job: 'home' }), 4096);
  assert.equal(value(text, 'kopiatomic_last_run_status', { job: 'home', status: 'ok' }), 1);
  assert.match(text, /^# HELP kopiatomic_last_run_exit_code .+\n# TYPE kopiatomic_last_run_exit_code gauge$/m);

  // The next night fails: the last success stays that of the good run.
  await writeMetrics(file, record({ start: '2026-11-28T02:00:00Z', end: '2026-11-28T02:00:05Z', status: 'backup-failed', exitCode: 1, engine: undefined, leftovers: 0 }));
  promtoolCheck(file);
  text = readFileSync(file, 'utf8');
  assert.equal(value(text, 'kopiatomic_last_run_exit_code', { job: 'home' }), 1);
  assert.equal(value(text, 'kopiatomic_last_run_success', { job: 'home' }), 0);
  assert.equal(value(text, 'kopiatomic_last_success_timestamp_seconds', { job: 'home' }), Date.parse('2026-11-27T02:04:12.500Z') / 1000);
  assert.equal(value(text, 'kopiatomic_last_run_status', { job: 'home', status: 'ok' }), undefined, 'the old status series is gone');
  assert.equal(value(text, 'kopiatomic_last_run_status', { job: 'home', status: 'backup-failed' }), 1);
  assert.equal(value(text, 'kopiatomic_last_run_engine_added_bytes', { job: 'home' }), undefined, 'no stale engine figures');

  // A second job in the same file: both jobs' series coexist.
  await writeMetrics(file, record({ job: 'srv', datasets: ['tank/srv'], leftovers: 2, status: 'cleanup-incomplete', exitCode: 5, verify: { filesCompared: 10, bytesCompared: 2048, differences: 0 } }));
  promtoolCheck(file);
  text = readFileSync(file, 'utf8');
  assert.equal(value(text, 'kopiatomic_last_run_exit_code', { job: 'home' }), 1);
  assert.equal(value(text, 'kopiatomic_last_run_exit_code', { job: 'srv' }), 5);
  assert.equal(value(text, 'kopiatomic_last_run_leftovers', { job: 'srv' }), 2);
  assert.equal(value(text, 'kopiatomic_last_run_verify_files', { job: 'srv' }), 10);
  assert.equal(value(text, 'kopiatomic_last_success_timestamp_seconds', { job: 'srv' }), undefined, 'srv never succeeded');
  // One HELP/TYPE per metric, whatever the number of jobs.
  assert.equal(text.match(/^# TYPE kopiatomic_last_run_exit_code /gm)?.length, 1);
  // No temp file or lock left in the folder (the textfile collector reads it).
  assert.deepEqual(readdirSync(dir), ['kopiatomic.prom']);
  execFileSync('promtool', ['check', 'metrics'], { input: readFileSync(file) });
});

test('label values with quotes, backslashes and newlines survive a round trip', () => {
  const r = record({ job: 'we"ird\\job\nx', host: 'h' });
  const text = render(samplesFor(r));
  const back = parse(text).filter((s) => s.name === 'kopiatomic_last_run_exit_code');
  assert.deepEqual(back[0]!.labels, { job: 'we"ird\\job\nx', host: 'h' });
  // And merging keeps it apart from another job.
  const both = merge(text, record({ job: 'other' }));
  assert.equal(parse(both).filter((s) => s.name === 'kopiatomic_last_run_exit_code').length, 2);
});

test('a success sets the last success time to its end even without a status file', () => {
  const text = merge('', record({ lastSuccess: undefined }));
  assert.equal(value(text, 'kopiatomic_last_success_timestamp_seconds', { job: 'home' }), Date.parse('2026-11-27T02:04:12.500Z') / 1000);
});
