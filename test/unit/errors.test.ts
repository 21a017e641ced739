// How a command is quoted for a person (as /bin/sh reads it back) and what a failed one says.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CommandError, quoteArgv, quoteWord } from '../../src/core/errors.js';

test('quoteWord/quoteArgv: as /bin/sh reads it back', () => {
  assert.equal(quoteWord('tank/a@kopiatomic-1'), 'tank/a@kopiatomic-1');
  assert.equal(quoteWord(''), `''`);
  assert.equal(quoteWord('a b'), `'a b'`);
  assert.equal(quoteWord(`it's`), `'it'\\''s'`);
  assert.equal(quoteArgv(['mount', '-o', 'ro', '/my dir']), `mount -o ro '/my dir'`);
});

test('CommandError: message carries the program, code, last stderr lines and the command', () => {
  const e = new CommandError(['zfs', 'destroy', 'a b'], 1, null, 'l1\nl2\nl3\nl4\n');
  assert.equal(e.message, `zfs exited with 1: l2 | l3 | l4 (command: zfs destroy 'a b')`);
  assert.equal(new CommandError(['x'], null, 'SIGKILL', '').message, 'x was killed by SIGKILL (command: x)');
});
