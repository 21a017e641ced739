import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CommandError, quoteArgv, quoteWord } from '../../src/core/errors.js';
import { Reporter } from '../../src/core/report.js';
import { newRunId, ownerOf, snapshotNameFor } from '../../src/zfs/naming.js';
import { display } from '../../src/plan/display.js';

test('newRunId: UTC stamp, pid, random suffix; unique', () => {
  const id = newRunId(new Date(Date.UTC(2026, 10, 26, 7, 8, 9, 555)), 4242);
  assert.match(id, /^20261126T070809Z-4242-[0-9a-f]{6}$/);
  assert.notEqual(newRunId(), newRunId());
  assert.equal(snapshotNameFor('X'), 'kopiatomic-X');
  assert.equal(ownerOf('h1', 'b-1', 7), 'h1:b-1:7');
});

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

test('display: actions as shell commands', () => {
  assert.equal(display({ kind: 'mkdir', path: '/k/a b', mode: 0o700 }), `mkdir -m 0700 '/k/a b'`);
  assert.equal(display({ kind: 'rmdir', path: '/k' }), 'rmdir /k');
  assert.equal(display({ kind: 'exec', argv: ['umount', '/k'], mutates: true }), 'umount /k');
});

test('Reporter: levels by verbosity; --json puts events on stdout only', () => {
  const out: string[] = [];
  const err: string[] = [];
  const q = new Reporter({ json: false, verbosity: 0, name: 'k', out: (l) => out.push(l), err: (l) => err.push(l) });
  q.info('hidden');
  q.warn('careful');
  q.error('bad');
  q.event('x');
  assert.deepEqual(err, ['k: warning: careful', 'k: error: bad']);
  assert.deepEqual(out, []);
  const jout: string[] = [];
  const j = new Reporter({ json: true, verbosity: 1, name: 'k', out: (l) => jout.push(l), err: () => assert.fail('stderr used') });
  j.info('hello');
  j.verbose('not shown');
  j.event('step', { phase: 'mount' });
  assert.equal(jout.length, 2);
  const [a, b] = jout.map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.deepEqual([a!['event'], a!['level'], a!['message']], ['log', 'info', 'hello']);
  assert.deepEqual([b!['event'], b!['phase']], ['step', 'mount']);
});
