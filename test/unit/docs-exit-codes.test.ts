// The exit-code table of docs/reference.md and its order for `run` with
// several jobs cannot rot: every status has its row with the code the
// program exits with, and the order is the one worstOf uses.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { EXIT, EXIT_VERIFY_ERROR, EXIT_VERIFY_FAILED, interruptedCode, PRECEDENCE, type Status } from '../../src/core/exit-status.js';
import { ROOT_DIR } from './paths.js';

const REFERENCE = readFileSync(join(ROOT_DIR, 'docs/reference.md'), 'utf8');
const SECTION = REFERENCE.slice(REFERENCE.indexOf('## Exit codes'), REFERENCE.indexOf('\n## ', REFERENCE.indexOf('## Exit codes') + 1));

/** The codes each status exits with. */
const CODES: Record<Status, number[]> = {
  ok: [EXIT.ok],
  'backup-failed': [EXIT.backupFailed],
  usage: [EXIT.usage],
  partial: [EXIT.partial],
  'setup-failed': [EXIT.setupFailed],
  'cleanup-incomplete': [EXIT.cleanupIncomplete],
  locked: [EXIT.locked],
  'post-hook-failed': [EXIT.postHookFailed],
  'verify-failed': [EXIT_VERIFY_FAILED],
  'verify-error': [EXIT_VERIFY_ERROR],
  'timed-out': [EXIT.timedOut],
  'retention-failed': [EXIT.retentionFailed],
  interrupted: ['SIGHUP', 'SIGINT', 'SIGTERM'].map(interruptedCode),
  'internal-error': [EXIT.internal],
};

test('the exit-code table has one row per status, with its codes', () => {
  assert.ok(SECTION.startsWith('## Exit codes'), 'docs/reference.md has "## Exit codes"');
  const rows = [...SECTION.matchAll(/^\| ([\d, ]+) \| `([a-z-]+)` \|/gm)].map((m) => ({ status: m[2]!, codes: m[1]!.split(',').map((c) => Number(c.trim())) }));
  assert.deepEqual(rows.map((r) => r.status).sort(), Object.keys(CODES).sort(), 'every status once, and no other');
  for (const r of rows) assert.deepEqual(r.codes, CODES[r.status as Status], `the codes of ${r.status}`);
  assert.deepEqual([...PRECEDENCE].sort(), Object.keys(CODES).sort(), 'the precedence orders every status');
});

test("the order for several jobs is worstOf's, each status with its codes", () => {
  const para = /`run` with several jobs exits with the worst job's code, in this order:([\s\S]*?)\n\n/.exec(SECTION);
  assert.ok(para, 'the section says the order for several jobs');
  const named = [...para[1]!.matchAll(/`([a-z-]+)` \(([\d, \n]+)\)/g)].map((m) => ({ status: m[1]!, codes: m[2]!.split(',').map((c) => Number(c.trim())) }));
  assert.deepEqual(named.map((n) => n.status), PRECEDENCE);
  for (const n of named) assert.deepEqual(n.codes, CODES[n.status as Status], `the codes of ${n.status}`);
});
