// The plan's actions shown as shell commands.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { display, displayBrief } from '../../src/plan/display.js';

test('display: actions as shell commands', () => {
  assert.equal(display({ kind: 'mkdir', path: '/k/a b', mode: 0o700 }), `mkdir -m 0700 '/k/a b'`);
  assert.equal(display({ kind: 'rmdir', path: '/k' }), 'rmdir /k');
  assert.equal(display({ kind: 'exec', argv: ['umount', '/k'], mutates: true }), 'umount /k');
});

test('displayBrief: the first words, each cut to 40 characters, and how many more; a short command whole', () => {
  const script = `use Config;${'x'.repeat(400)}`;
  assert.equal(displayBrief({ kind: 'exec', mutates: true, argv: ['perl', '-e', script, '--', '166', '62', '8', '/k/a', '/k'] }), `perl -e 'use Config;${'x'.repeat(28)}…' … (+6 more)`);
  assert.equal(displayBrief({ kind: 'exec', mutates: true, argv: ['umount', '-v', '/k/a', '/k'] }), 'umount -v /k/a /k');
  assert.equal(displayBrief({ kind: 'exec', mutates: true, argv: ['umount', '-v', '/k/a', '/k/b', '/k/c', '/k'] }), 'umount -v /k/a … (+3 more)');
});
