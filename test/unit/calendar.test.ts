// One `schedule` grammar: what `config check` accepts, systemd's OnCalendar
// accepts too (systemd-analyze calendar, where the host has it) and the cron
// translation turns into the same times; what it refuses is refused at the
// line that sets it, also when [defaults] sets it.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadConfig } from '../../src/config/load.js';
import { ConfigError } from '../../src/config/problems.js';
import { calendarFields } from '../../src/core/calendar.js';

const GOOD: [string, string][] = [
  ['daily', '0 0 * * *'],
  ['hourly', '0 * * * *'],
  ['weekly', '0 0 * * 1'],
  ['monthly', '0 0 1 * *'],
  ['yearly', '0 0 1 1 *'],
  ['*-*-* 02:30', '30 2 * * *'],
  ['02:30', '30 2 * * *'],
  ['*-*-* 02:30:00', '30 2 * * *'],
  ['Mon..Fri 02:30', '30 2 * * 1-5'],
  ['Sat,Sun *-*-* 04:00', '0 4 * * 6,7'],
  ['Sunday 04:00', '0 4 * * 7'],
  ['*-*-01 03:00', '0 3 1 * *'],
  ['*-01,07-01 03:15', '15 3 1 1,7 *'],
  ['*-*-* 00..23:00', '0 0-23 * * *'],
  ['*-*-* 02,14:05', '5 2,14 * * *'],
  ['Mon', '0 0 * * 1'],
];
const BAD = ['nightly', '', '25:00', '02:60', '*-13-01 00:00', 'Mon *-*-01 02:00', '02:30:15', 'Fri..Mon 01:00', '2026-*-* 01:00', '*-*-* 02:30 UTC', 'Mon..Fri..Sun 01:00'];

test('the schedules of the grammar and their cron fields; the rest refused', () => {
  for (const [s, cron] of GOOD) assert.equal(calendarFields(s), cron, s);
  for (const s of BAD) assert.equal(calendarFields(s), null, s);
});

test('systemd accepts every schedule of the grammar, at the same times', (t) => {
  if (spawnSync('sh', ['-c', 'command -v systemd-analyze']).status !== 0) return t.skip('no systemd-analyze here');
  for (const [s] of GOOD) {
    const r = spawnSync('systemd-analyze', ['calendar', s], { encoding: 'utf8' });
    assert.equal(r.status, 0, `systemd refuses ${s}: ${r.stderr}`);
  }
});

test('config check refuses a schedule outside the grammar at the line that sets it, in [defaults] too', (t) => {
  const d = mkdtempSync(join(tmpdir(), 'kt-calendar-'));
  t.after(() => rmSync(d, { recursive: true, force: true }));
  const f = join(d, 'kopiatomic.toml');
  writeFileSync(f, '[defaults]\nschedule = "nightly"\n\n[jobs.a]\ndatasets = ["tank/a"]\nschedule = "Mon..Fri 02:30"\n[jobs.b]\ndatasets = ["tank/b"]\nschedule = "25:00"\n');
  chmodSync(f, 0o600);
  try {
    loadConfig(f);
    assert.fail('accepted');
  } catch (e) {
    assert.ok(e instanceof ConfigError, (e as Error).message);
    assert.deepEqual(e.problems.map((p) => p.line), [2, 9]);
    assert.match(e.problems[0]!.message, /OnCalendar time that cron can run too/);
  }
});
