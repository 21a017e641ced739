import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EXIT, interruptedCode, runStatus } from '../../src/core/exit-status.js';
import type { ApplyResult } from '../../src/execute/context.js';

const result = (o: Partial<ApplyResult>): ApplyResult => ({
  setupError: null,
  backup: { outcome: 'ok', exitCodes: [0] },
  cleanupFailures: [],
  createtxg: {},
  creation: null,
  ...o,
});

test('runStatus: ok', () => {
  assert.deepEqual(runStatus(result({}), null), { status: 'ok', code: 0 });
});

test('runStatus: partial and failed backups', () => {
  assert.deepEqual(runStatus(result({ backup: { outcome: 'partial', exitCodes: [3] } }), null), { status: 'partial', code: EXIT.partial });
  assert.deepEqual(runStatus(result({ backup: { outcome: 'failed', exitCodes: [1] } }), null), { status: 'backup-failed', code: EXIT.backupFailed });
  assert.deepEqual(runStatus(result({ backup: null }), null), { status: 'backup-failed', code: 1 });
});

test('runStatus: a setup error outranks the backup outcome', () => {
  assert.deepEqual(runStatus(result({ setupError: new Error('x'), backup: null }), null), { status: 'setup-failed', code: 4 });
});

test('runStatus: a signal outranks a setup error and the backup', () => {
  assert.deepEqual(runStatus(result({ setupError: new Error('x') }), 'SIGINT'), { status: 'interrupted', code: 130 });
  assert.deepEqual(runStatus(result({}), 'SIGTERM'), { status: 'interrupted', code: 143 });
  assert.deepEqual(runStatus(result({}), 'SIGHUP'), { status: 'interrupted', code: 129 });
});

test('runStatus: leftovers outrank everything', () => {
  const r = result({ cleanupFailures: ['umount: busy'], setupError: new Error('x'), backup: { outcome: 'failed', exitCodes: [1] } });
  assert.deepEqual(runStatus(r, 'SIGINT'), { status: 'cleanup-incomplete', code: EXIT.cleanupIncomplete });
  assert.deepEqual(runStatus(result({ cleanupFailures: ['x'] }), null), { status: 'cleanup-incomplete', code: 5 });
});

test('exit codes are distinct and interruptedCode is 128+N', () => {
  const codes = Object.values(EXIT);
  assert.equal(new Set(codes).size, codes.length);
  assert.equal(interruptedCode('SIGINT'), 130);
  assert.equal(interruptedCode('SIGUSR1'), 143, 'unknown signals count as TERM');
});

test('every error of ours carries its status; errorStatus reads it, anything else is internal', async () => {
  const { CommandError, CommandTimeoutError, InterruptedError, LockedError, SetupError, UsageError } = await import('../../src/core/errors.js');
  const { errorStatus } = await import('../../src/core/exit-status.js');
  assert.deepEqual(errorStatus(new UsageError('x')), { status: 'usage', code: EXIT.usage });
  assert.deepEqual(errorStatus(new SetupError('x')), { status: 'setup-failed', code: EXIT.setupFailed });
  assert.deepEqual(errorStatus(new LockedError('x')), { status: 'locked', code: EXIT.locked });
  assert.deepEqual(errorStatus(new InterruptedError('SIGTERM', 'x')), { status: 'interrupted', code: 143 });
  assert.deepEqual(errorStatus(new CommandError(['zfs'], 1, null, '')), { status: 'setup-failed', code: EXIT.setupFailed });
  assert.deepEqual(errorStatus(new CommandError(['zfs'], null, null, '', 'program-missing')), { status: 'usage', code: EXIT.usage });
  assert.deepEqual(errorStatus(new CommandTimeoutError(['zfs'], 1)), { status: 'timed-out', code: EXIT.timedOut });
  assert.deepEqual(errorStatus(new Error('bug')), { status: 'internal-error', code: EXIT.internal });
  assert.deepEqual(errorStatus('thrown string'), { status: 'internal-error', code: EXIT.internal });
});
