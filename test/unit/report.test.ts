// What the reporter prints at each verbosity, and --json events on stdout only.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Reporter } from '../../src/core/report.js';

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
