import { test } from 'node:test';
import assert from 'node:assert/strict';
import { which } from '../../src/core/which.js';
import { CommandError } from '../../src/core/errors.js';
import type { EngineContext } from '../../src/engine/engine.js';
import { atLeast, parseResticVersion, resticEngine } from '../../src/engine/restic.js';
import { freebsd } from '../../src/platform/freebsd.js';
import { linux } from '../../src/platform/linux.js';
import { FakeRunner } from './helpers.js';

// Local time on purpose: restic reads --time as local time.
const TIME = new Date(2026, 0, 2, 3, 4, 5);
const LOCAL = '2026-01-02 03:04:05';

function ctx(o: Partial<EngineContext> = {}): EngineContext {
  return {
    command: ['restic', 'backup'],
    options: ['--exclude-caches', '-r', '/repo'],
    root: '/restic',
    snapshot: 'kopiatomic-R',
    runId: 'R',
    layout: 'tree',
    platform: 'linux',
    sources: [
      { path: '/srv/a/b', readFrom: '/restic/srv/a/b', dataset: 'tank/srv/a/b' },
      { path: '/srv/a', readFrom: '/restic/srv/a', dataset: 'tank/srv/a' },
      { path: '/home', readFrom: '/restic/home', dataset: 'tank/home' },
    ],
    time: TIME,
    ...o,
  };
}

test('parseResticVersion and atLeast', () => {
  assert.deepEqual(parseResticVersion('restic 0.17.3 compiled with go1.22.5 on linux/amd64'), [0, 17, 3]);
  assert.deepEqual(parseResticVersion('restic v0.9.6 (devel)'), [0, 9, 6]);
  assert.equal(parseResticVersion('0.17.3'), null);
  assert.equal(parseResticVersion('restic: not found'), null);
  assert.equal(atLeast([0, 17, 0], [0, 17, 0]), true);
  assert.equal(atLeast([0, 16, 9], [0, 17, 0]), false);
  assert.equal(atLeast([0, 18, 0], [0, 17, 5]), true);
  assert.equal(atLeast([1, 0, 0], [0, 99, 99]), true);
  assert.equal(atLeast([0, 17], [0, 17, 1]), false);
});

test('restic tree: one call of the root with local --time and --tag, options before the root', () => {
  const calls = resticEngine.calls(ctx({ probe: { version: '0.17.3', env: { RESTIC_FEATURES: 'device-id-for-hardlinks' } } }));
  assert.deepEqual(calls, [
    {
      argv: ['restic', 'backup', '--time', LOCAL, '--tag', 'kopiatomic-R', '--tag', 'kopiatomic-job:default', '--exclude-caches', '-r', '/repo', '/restic'],
      env: { RESTIC_FEATURES: 'device-id-for-hardlinks' },
    },
  ]);
});

test('restic tree without a probe: no extra env', () => {
  assert.deepEqual(resticEngine.calls(ctx())[0]!.env, {});
});

test('restic paths on Linux: the real top-level paths, and a namespace mounting parents first', () => {
  const calls = resticEngine.calls(ctx({ layout: 'paths' }));
  assert.equal(calls.length, 1);
  assert.deepEqual(calls[0]!.argv, ['restic', 'backup', '--time', LOCAL, '--tag', 'kopiatomic-R', '--tag', 'kopiatomic-job:default', '--exclude-caches', '-r', '/repo', '/srv/a', '/home']);
  assert.deepEqual(calls[0]!.namespace, {
    mounts: [
      { dataset: 'tank/home', snapshot: 'kopiatomic-R', target: '/home' },
      { dataset: 'tank/srv/a', snapshot: 'kopiatomic-R', target: '/srv/a' },
      { dataset: 'tank/srv/a/b', snapshot: 'kopiatomic-R', target: '/srv/a/b' },
    ],
  });
});

test('restic paths on FreeBSD is refused, and falls back to the tree if called', () => {
  assert.match(resticEngine.layoutProblem('paths', freebsd, {}) ?? '', /needs private mount namespaces, which freebsd does not have/);
  // on Linux it also needs unshare(1) in PATH
  if (which('unshare')) assert.equal(resticEngine.layoutProblem('paths', linux, {}), null);
  assert.equal(resticEngine.layoutProblem('tree', freebsd, {}), null);
  assert.equal(resticEngine.needsTree('paths', linux), false);
  assert.equal(resticEngine.needsTree('paths', freebsd), true);
  assert.equal(resticEngine.needsTree('tree', linux), true);
  const calls = resticEngine.calls(ctx({ layout: 'paths', platform: 'freebsd' }));
  assert.equal(calls[0]!.argv.at(-1), '/restic');
  assert.equal(calls[0]!.namespace, undefined);
});

test('restic outcome: 0 ok, 3 partial, anything else failed', () => {
  assert.equal(resticEngine.outcome(0, ''), 'ok');
  assert.equal(resticEngine.outcome(3, ''), 'partial');
  assert.equal(resticEngine.outcome(1, ''), 'failed');
  assert.equal(resticEngine.outcome(130, ''), 'failed');
  assert.equal(resticEngine.outcome(null, ''), 'failed');
  assert.equal(resticEngine.captureStdout, false);
});

test('restic probe >= 0.17: RESTIC_FEATURES=device-id-for-hardlinks', async () => {
  const r = new FakeRunner(() => ({ code: 0, stdout: 'restic 0.17.0 compiled with go1.22 on linux/amd64\n', stderr: '' }));
  assert.deepEqual(await resticEngine.probe(r, ['/usr/bin/restic', 'backup']), { version: '0.17.0', env: { RESTIC_FEATURES: 'device-id-for-hardlinks' } });
  assert.deepEqual(r.calls.map((c) => c.argv), [['/usr/bin/restic', 'version']]);
  assert.ok(!r.calls[0]!.opts?.mutates);
  const newer = new FakeRunner(() => ({ code: 0, stdout: 'restic 1.2.3 compiled with go\n', stderr: '' }));
  assert.deepEqual((await resticEngine.probe(newer, ['restic'])).env, { RESTIC_FEATURES: 'device-id-for-hardlinks' });
});

test('restic probe < 0.17: no RESTIC_FEATURES', async () => {
  const r = new FakeRunner(() => ({ code: 0, stdout: 'restic 0.16.5 compiled with go1.21 on linux/amd64\n', stderr: '' }));
  assert.deepEqual(await resticEngine.probe(r, ['restic', 'backup']), { version: '0.16.5', env: {} });
});

test('restic probe: a failing or unreadable restic gives no version and no env', async () => {
  const failing = new FakeRunner((argv) => new CommandError(argv, 127, null, 'restic: not found'));
  assert.deepEqual(await resticEngine.probe(failing, ['restic', 'backup']), { version: undefined, env: {} });
  const odd = new FakeRunner(() => ({ code: 0, stdout: 'something else\n', stderr: '' }));
  assert.deepEqual(await resticEngine.probe(odd, ['restic']), { version: undefined, env: {} });
});

test(
  'restic probe: a command with an env prefix probes the restic program, not env',
  async () => {
    const r = new FakeRunner((argv) => (argv.includes('restic') ? { code: 0, stdout: 'restic 0.17.3 compiled with go\n', stderr: '' } : new CommandError(argv, 127, null, 'no')));
    const probe = await resticEngine.probe(r, ['env', 'RESTIC_PASSWORD_FILE=/x', 'restic', 'backup']);
    assert.equal(probe.version, '0.17.3');
    assert.deepEqual(probe.env, { RESTIC_FEATURES: 'device-id-for-hardlinks' });
  },
);

test(
  "restic: the user's own RESTIC_FEATURES are kept, not replaced",
  async () => {
    const saved = process.env['RESTIC_FEATURES'];
    process.env['RESTIC_FEATURES'] = 'safe-forget-keep-tags';
    try {
      const r = new FakeRunner(() => ({ code: 0, stdout: 'restic 0.17.3 compiled with go\n', stderr: '' }));
      const probe = await resticEngine.probe(r, ['restic', 'backup']);
      const env = resticEngine.calls(ctx({ probe }))[0]!.env;
      const features = (env['RESTIC_FEATURES'] ?? process.env['RESTIC_FEATURES'] ?? '').split(',');
      assert.ok(features.includes('safe-forget-keep-tags'), `user feature lost: ${env['RESTIC_FEATURES']}`);
      assert.ok(features.includes('device-id-for-hardlinks'));
    } finally {
      if (saved === undefined) delete process.env['RESTIC_FEATURES'];
      else process.env['RESTIC_FEATURES'] = saved;
    }
  },
);
