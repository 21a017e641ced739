// The systemd guest itself: systemd is PID 1 and runs a oneshot unit of ours.
// Asserts on what systemctl and the journal show.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { test } from 'node:test';
import { sh, shOk } from '../e2e/lib.js';

test('systemd is PID 1 and the system is up', () => {
  assert.equal(readFileSync('/proc/1/comm', 'utf8').trim(), 'systemd');
  // Our own job unit is still running, so the state is "starting" or better;
  // a failed unit of the image would show as "degraded".
  // (is-system-running exits non-zero for all but "running": read its word.)
  const state = spawnSync('systemctl', ['is-system-running'], { encoding: 'utf8' }).stdout.trim();
  assert.ok(['running', 'degraded', 'starting'].includes(state), state);
});

test('a oneshot unit runs and its output reaches the journal', () => {
  const unit = '/run/systemd/system/kt-boot-check.service';
  const marker = `kt-boot-check-${process.pid}`;
  writeFileSync(unit, `[Service]\nType=oneshot\nExecStart=/bin/echo ${marker}\n`);
  try {
    sh('systemctl', 'daemon-reload');
    sh('systemctl', 'start', 'kt-boot-check.service');
    assert.equal(shOk('systemctl', 'is-failed', '--quiet', 'kt-boot-check.service'), false);
    sh('journalctl', '--sync');
    assert.match(sh('journalctl', '-u', 'kt-boot-check.service', '-o', 'cat', '--no-pager'), new RegExp(marker));
  } finally {
    rmSync(unit, { force: true });
    shOk('systemctl', 'daemon-reload');
  }
});
