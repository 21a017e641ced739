// The status file and `kopiatomic status` exit codes.
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { cannotRead, STATUS_EXIT, statusReport as statusCommand } from '../../src/cli/status.js';
import { parseDuration } from '../../src/core/duration.js';
import { readStatus, recordRun } from '../../src/ops/status-file.js';
import { record } from './ops-helpers.js';

const NOW = new Date('2026-11-27T12:00:00Z'); // 10 h after the records' end

async function statusFileWith(...records: ReturnType<typeof record>[]): Promise<string> {
  const file = join(mkdtempSync(join(tmpdir(), 'kt-status-')), 'status.json');
  for (const r of records) await recordRun(file, r);
  return file;
}

function status(file: string, argv: string[], jobs?: { name: string; maxAgeSeconds?: number }[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = statusCommand(argv, { statusFile: file, jobs, now: NOW, out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

test('all good: 0 (OK), and the output names the run', async () => {
  const file = await statusFileWith(record(), record({ job: 'srv' }));
  const r = status(file, [], [{ name: 'home', maxAgeSeconds: 26 * 3600 }, { name: 'srv', maxAgeSeconds: 26 * 3600 }]);
  assert.equal(r.code, STATUS_EXIT.ok);
  assert.match(r.out, /^KOPIATOMIC OK - 2 job\(s\) ok/);
  assert.match(r.out, /kopiatomic-20261127T020000Z-42-abcdef/);
  assert.match(r.out, /12 new, 3 changed/);
  assert.equal(statSync(file).mode & 0o777, 0o644);
});

test('last run failed: 2 (CRITICAL), and the last success is kept', async () => {
  const file = await statusFileWith(record(), record({ start: '2026-11-27T03:00:00Z', end: '2026-11-27T03:00:09Z', status: 'setup-failed', exitCode: 4 }));
  const r = status(file, ['home']);
  assert.equal(r.code, STATUS_EXIT.critical);
  assert.match(r.out, /CRITICAL.*setup-failed \(exit 4\)/);
  assert.equal(readStatus(file).jobs['home']!.lastSuccess, '2026-11-27T02:04:12.500Z');
});

test('too old: 1 (WARNING), by the config max_age or --max-age', async () => {
  const file = await statusFileWith(record());
  assert.equal(status(file, [], [{ name: 'home', maxAgeSeconds: 3600 }]).code, STATUS_EXIT.warning);
  assert.equal(status(file, ['--max-age', '9h']).code, STATUS_EXIT.warning);
  assert.equal(status(file, ['--max-age', '26h']).code, STATUS_EXIT.ok);
});

test('never ran: 3 (UNKNOWN), also with no status file at all', async () => {
  const file = await statusFileWith(record());
  assert.equal(status(file, [], [{ name: 'home' }, { name: 'srv' }]).code, STATUS_EXIT.unknown);
  const none = join(mkdtempSync(join(tmpdir(), 'kt-status-')), 'status.json');
  assert.equal(status(none, []).code, STATUS_EXIT.unknown);
  assert.equal(status(none, ['default']).code, STATUS_EXIT.unknown);
});

test('the worst job wins: CRITICAL over WARNING over UNKNOWN', async () => {
  const file = await statusFileWith(record(), record({ job: 'srv', status: 'backup-failed', exitCode: 1 }));
  assert.equal(status(file, [], [{ name: 'home', maxAgeSeconds: 60 }, { name: 'srv' }, { name: 'new' }]).code, STATUS_EXIT.critical);
  assert.equal(status(file, [], [{ name: 'home', maxAgeSeconds: 60 }, { name: 'new' }]).code, STATUS_EXIT.warning);
});

test('partial is a WARNING; --json carries the states; bad usage is UNKNOWN', async () => {
  const file = await statusFileWith(record({ status: 'partial', exitCode: 3 }));
  const r = status(file, ['--json']);
  assert.equal(r.code, STATUS_EXIT.warning);
  assert.equal(r.out.trim().split('\n').length, 1, 'one line, like every other --json');
  const j = JSON.parse(r.out) as { status: string; jobs: { job: string; state: string; last: { exitCode: number } }[] };
  assert.equal(j.status, 'warning');
  assert.equal(j.jobs[0]!.last.exitCode, 3);
  assert.equal(status(file, ['--bogus']).code, STATUS_EXIT.unknown);
  assert.equal(status(file, ['--max-age', 'soon']).code, STATUS_EXIT.unknown);
  assert.equal(status(file, ['nope'], [{ name: 'home' }]).code, STATUS_EXIT.unknown);
});

test('the flag form records under "default"', async () => {
  const file = await statusFileWith(record({ job: 'default' }));
  assert.equal(status(file, ['default']).code, STATUS_EXIT.ok);
});

test('durations', () => {
  assert.equal(parseDuration('26h'), 93600);
  assert.equal(parseDuration('1h30m'), 5400);
  assert.equal(parseDuration('2d'), 172800);
  assert.equal(parseDuration('3600'), 3600);
  assert.throws(() => parseDuration('tomorrow'));
});

test('readable without root: the file is 0644 whatever the umask, its directory searchable (not listable) by others', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'kt-status-'));
  chmodSync(dir, 0o700);
  const old = process.umask(0o077);
  try {
    await recordRun(join(dir, 'status.json'), record());
  } finally {
    process.umask(old);
  }
  assert.equal(statSync(join(dir, 'status.json')).mode & 0o777, 0o644);
  assert.equal(statSync(dir).mode & 0o777, 0o711);
});

test('without the configuration, the max_age the run recorded judges the age', async () => {
  const file = await statusFileWith(record({ maxAgeSeconds: 3600 }), record({ job: 'srv' }));
  const r = status(file, []);
  assert.equal(r.code, STATUS_EXIT.warning);
  assert.match(r.out, /home: last run is .* old, more than max_age 1h/);
  assert.equal(status(file, [], [{ name: 'home', maxAgeSeconds: 86400 }]).code, STATUS_EXIT.ok, "the configuration's max_age wins");
});

test('a permission problem is UNKNOWN with what to change, never a failed backup', () => {
  const e = Object.assign(new Error('EACCES: permission denied'), { code: 'EACCES' });
  assert.match(cannotRead('/var/lib/kopiatomic/status.json', e), /permission denied \(this says nothing about the backups\).*mode 0644.*chmod o\+x \/var\/lib\/kopiatomic/);
  assert.equal(cannotRead('/x', new Error('/x is not a kopiatomic status file')), '/x is not a kopiatomic status file');
});
