// The plan's actions shown as shell commands.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { display } from '../../src/plan/display.js';

test('display: actions as shell commands', () => {
  assert.equal(display({ kind: 'mkdir', path: '/k/a b', mode: 0o700 }), `mkdir -m 0700 '/k/a b'`);
  assert.equal(display({ kind: 'rmdir', path: '/k' }), 'rmdir /k');
  assert.equal(display({ kind: 'exec', argv: ['umount', '/k'], mutates: true }), 'umount /k');
});
