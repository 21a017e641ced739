import { test } from 'node:test';
import assert from 'node:assert/strict';
import { commandEngine } from '../../src/engine/command.js';
import { formatLocal, formatUtc, topSources, type EngineContext, type Source } from '../../src/engine/engine.js';
import { ENGINES, engineForCommand } from '../../src/engine/index.js';
import { linux } from '../../src/platform/linux.js';

const ctx: EngineContext = {
  command: ['tar', '-cf', '/backup/x.tar'],
  options: ['--one-file-system', '-v'],
  root: '/kopia',
  snapshot: 'kopiatomic-R',
  runId: 'R',
  layout: 'tree',
  platform: 'linux',
  sources: [{ path: '/a', readFrom: '/kopia/a', dataset: 'tank/a' }],
  time: new Date(0),
};

test('command engine: the command, its options, then the root', () => {
  assert.deepEqual(commandEngine.calls(ctx), [{ argv: ['tar', '-cf', '/backup/x.tar', '--one-file-system', '-v', '/kopia'], env: {} }]);
  assert.equal(commandEngine.outcome(0, ''), 'ok');
  assert.equal(commandEngine.outcome(3, ''), 'failed');
  assert.equal(commandEngine.outcome(null, ''), 'failed');
  assert.equal(commandEngine.needsTree('paths', linux), true);
  assert.match(commandEngine.layoutProblem('paths', linux, {}) ?? '', /paths layout needs --engine kopia or restic/);
  assert.equal(commandEngine.layoutProblem('tree', linux, {}), null);
  assert.deepEqual(commandEngine.defaultCommand, []);
});

test('engineForCommand: by the program name, past env and VAR=value words', () => {
  assert.equal(engineForCommand(['kopia', 'snapshot', 'create']).name, 'kopia');
  assert.equal(engineForCommand(['/usr/local/bin/kopia', 'snapshot', 'create']).name, 'kopia');
  assert.equal(engineForCommand(['restic', 'backup']).name, 'restic');
  assert.equal(engineForCommand(['/opt/restic/restic', '-r', '/repo', 'backup']).name, 'restic');
  assert.equal(engineForCommand(['env', 'RESTIC_PASSWORD_FILE=/p', 'restic', 'backup']).name, 'restic');
  assert.equal(engineForCommand(['KOPIA_PASSWORD=x', 'kopia', 'snapshot', 'create']).name, 'kopia');
  assert.equal(engineForCommand(['tar', 'restic']).name, 'command');
  assert.equal(engineForCommand(['restic-wrapper', 'backup']).name, 'command');
  assert.equal(engineForCommand([]).name, 'command');
  assert.deepEqual(Object.keys(ENGINES).sort(), ['command', 'kopia', 'restic']);
});

test('topSources: sources not inside another source', () => {
  const s = (path: string): Source => ({ path, readFrom: `/k${path}`, dataset: `t${path}` });
  assert.deepEqual(topSources([s('/a/b'), s('/a'), s('/ab'), s('/c/d')]).map((x) => x.path), ['/a', '/ab', '/c/d']);
  assert.deepEqual(topSources([s('/home'), s('/'), s('/var/log')]).map((x) => x.path), ['/']);
});

test('formatUtc and formatLocal', () => {
  assert.equal(formatUtc(new Date(Date.UTC(2026, 1, 3, 4, 5, 6, 789))), '2026-02-03 04:05:06 UTC');
  assert.equal(formatLocal(new Date(2026, 1, 3, 4, 5, 6, 789)), '2026-02-03 04:05:06');
  assert.equal(formatLocal(new Date(2026, 11, 31, 23, 59, 59)), '2026-12-31 23:59:59');
});
