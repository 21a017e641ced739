import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CommandError } from '../../src/core/errors.js';
import type { EngineContext } from '../../src/engine/engine.js';
import { kopiaEngine, kopiaOutcome, parseKopiaVersion } from '../../src/engine/kopia.js';
import { freebsd } from '../../src/platform/freebsd.js';
import { linux } from '../../src/platform/linux.js';
import { FakeRunner } from './helpers.js';

const TIME = new Date(Date.UTC(2026, 10, 26, 7, 0, 5, 123));

function ctx(o: Partial<EngineContext> = {}): EngineContext {
  return {
    command: ['kopia', 'snapshot', 'create'],
    options: ['--parallel', '4'],
    root: '/kopia',
    snapshot: 'kopiatomic-R',
    runId: 'R',
    layout: 'tree',
    platform: 'linux',
    sources: [
      { path: '/', readFrom: '/kopia', dataset: 'rpool/ROOT' },
      { path: '/home', readFrom: '/kopia/home', dataset: 'rpool/home' },
    ],
    time: TIME,
    ...o,
  };
}

test('kopia tree: one call of the root with start time in UTC, tag and --json before the options', () => {
  assert.deepEqual(kopiaEngine.calls(ctx()), [
    {
      argv: ['kopia', 'snapshot', 'create', '--start-time', '2026-11-26 07:00:05 UTC', '--tags', 'kopiatomic:kopiatomic-R', '--tags', 'kopiatomic-job:default', '--json', '--parallel', '4', '/kopia'],
      env: {},
    },
  ]);
});

test('kopia paths: one call per top-level source, each with --override-source, reading from the tree', () => {
  const calls = kopiaEngine.calls(
    ctx({
      layout: 'paths',
      options: ['--description', 'a b'],
      sources: [
        { path: '/srv', readFrom: '/kopia/srv', dataset: 'tank/srv' },
        { path: '/srv/sub', readFrom: '/kopia/srv/sub', dataset: 'tank/srv/sub' },
        { path: '/home/my data', readFrom: '/kopia/home/my data', dataset: 'tank/data' },
        { path: '/srvx', readFrom: '/kopia/srvx', dataset: 'tank/srvx' },
      ],
    }),
  );
  const flags = ['--start-time', '2026-11-26 07:00:05 UTC', '--tags', 'kopiatomic:kopiatomic-R', '--tags', 'kopiatomic-job:default', '--json'];
  assert.deepEqual(calls.map((c) => c.argv), [
    ['kopia', 'snapshot', 'create', ...flags, '--override-source=/srv', '--description', 'a b', '/kopia/srv'],
    ['kopia', 'snapshot', 'create', ...flags, '--override-source=/home/my data', '--description', 'a b', '/kopia/home/my data'],
    ['kopia', 'snapshot', 'create', ...flags, '--override-source=/srvx', '--description', 'a b', '/kopia/srvx'],
  ]);
  assert.ok(calls.every((c) => c.namespace === undefined));
});

test('kopia paths with / selected: only / is a top-level source', () => {
  const calls = kopiaEngine.calls(ctx({ layout: 'paths' }));
  assert.equal(calls.length, 1);
  assert.ok(calls[0]!.argv.includes('--override-source=/'));
  assert.equal(calls[0]!.argv.at(-1), '/kopia');
});

test('kopiaOutcome: 0 ok; 1 with a saved manifest with failed entries is partial; everything else failed', () => {
  assert.equal(kopiaOutcome(0, ''), 'ok');
  const partial = 'some progress line\n' + JSON.stringify({ id: 'abc', rootEntry: { summ: { numFailed: 2 } } }) + '\n';
  assert.equal(kopiaOutcome(1, partial), 'partial');
  // several manifests (paths layout is one call each, but a call could print more): any failures count
  const two = [JSON.stringify({ id: 'a', rootEntry: { summ: { numFailed: 0 } } }), JSON.stringify({ id: 'b', rootEntry: { summ: { numFailed: 1 } } })].join('\n');
  assert.equal(kopiaOutcome(1, two), 'partial');
  assert.equal(kopiaOutcome(1, JSON.stringify({ id: 'abc', rootEntry: { summ: { numFailed: 0 } } })), 'failed');
  assert.equal(kopiaOutcome(1, JSON.stringify({ rootEntry: { summ: { numFailed: 3 } } })), 'failed', 'no id: nothing was saved');
  assert.equal(kopiaOutcome(1, '{not json'), 'failed');
  assert.equal(kopiaOutcome(1, ''), 'failed');
  assert.equal(kopiaOutcome(2, partial), 'failed');
  assert.equal(kopiaOutcome(null, partial), 'failed');
});

test('parseKopiaVersion', () => {
  assert.deepEqual(parseKopiaVersion('0.17.0 build: 4a5b6c from: kopia/kopia'), [0, 17, 0]);
  assert.deepEqual(parseKopiaVersion('v0.13.2'), [0, 13, 2]);
  assert.equal(parseKopiaVersion('kopia: command not found'), null);
  assert.equal(parseKopiaVersion(''), null);
});

test('kopia layoutProblem: tree always fine; paths needs 0.14 or newer', () => {
  assert.equal(kopiaEngine.layoutProblem('tree', linux, {}), null);
  assert.equal(kopiaEngine.layoutProblem('paths', linux, { version: '0.14.0 build: x' }), null);
  assert.equal(kopiaEngine.layoutProblem('paths', freebsd, { version: '1.0.0 build: x' }), null);
  assert.match(kopiaEngine.layoutProblem('paths', linux, { version: '0.13.9 build: x' }) ?? '', /kopia 0\.13\.9 is too old for the paths layout/);
  assert.match(kopiaEngine.layoutProblem('paths', linux, {}) ?? '', /could not read the kopia version/);
  assert.equal(kopiaEngine.needsTree('paths', linux), true);
  assert.equal(kopiaEngine.needsTree('tree', freebsd), true);
  assert.equal(kopiaEngine.captureStdout, true);
});

test('kopia probe: runs PROGRAM --version, read-only, and keeps the first line', async () => {
  const r = new FakeRunner(() => ({ code: 0, stdout: '0.18.1 build: 1234 from: kopia/kopia\nmore\n', stderr: '' }));
  const probe = await kopiaEngine.probe(r, ['/opt/kopia', 'snapshot', 'create']);
  assert.deepEqual(probe, { version: '0.18.1 build: 1234 from: kopia/kopia' });
  assert.equal(r.calls.length, 1);
  assert.deepEqual(r.calls[0]!.argv, ['/opt/kopia', '--version']);
  assert.ok(!r.calls[0]!.opts?.mutates);
});

test('kopia probe: a failing kopia gives no version (and the paths layout is then refused)', async () => {
  const r = new FakeRunner((argv) => new CommandError(argv, 127, null, 'not found'));
  const probe = await kopiaEngine.probe(r, ['kopia']);
  assert.equal(probe.version, undefined);
  assert.notEqual(kopiaEngine.layoutProblem('paths', linux, probe), null);
});

test(
  'kopia probe: a command with an env prefix probes the kopia program, not env',
  async () => {
    const r = new FakeRunner((argv) => (argv.includes('kopia') ? { code: 0, stdout: '0.17.0 build: x\n', stderr: '' } : new CommandError(argv, 127, null, 'no')));
    const probe = await kopiaEngine.probe(r, ['env', 'KOPIA_PASSWORD=x', 'kopia', 'snapshot', 'create']);
    assert.equal(probe.version, '0.17.0 build: x');
  },
);
