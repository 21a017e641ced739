// --layout paths at argv level (issue 5): the kopia calls against the flags
// kopia defines (cli/command_snapshot_create.go: --override-source,
// --start-time in Go layout "2006-01-02 15:04:05 MST", --tags KEY:VALUE,
// --json), the version gate, the restic namespace call and the FreeBSD refusal.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { EngineContext, Source } from '../../src/engine/engine.js';
import { kopiaEngine, kopiaOutcome, kopiaSourcesProblem, parseKopiaVersion } from '../../src/engine/kopia.js';
import { resticEngine, resticWritablePaths as writablePaths } from '../../src/engine/restic.js';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { engineArgv, namespaceJob, namespaceJobPath, readNamespaceJob, resolveProgram, writeNamespaceJob } from '../../src/execute/namespace.js';
import { runFilesDir } from '../../src/execute/run-files.js';
import { FakeRunner, quietReporter } from './helpers.js';
import { freebsd } from '../../src/platform/freebsd.js';
import { linux } from '../../src/platform/linux.js';

const SNAP = 'kopiatomic-20261126T070000Z-42-abcdef';
// 07:00:00 UTC, 26 Nov 2026
const TIME = new Date(Date.UTC(2026, 10, 26, 7, 0, 0));

const sources: Source[] = [
  { path: '/home', readFrom: '/kopia/home', dataset: 'tank/home' },
  { path: '/home/alice', readFrom: '/kopia/home/alice', dataset: 'tank/home/alice' },
  { path: '/srv', readFrom: '/kopia/srv', dataset: 'data/srv' },
];

function ctx(over: Partial<EngineContext> = {}): EngineContext {
  return {
    command: ['kopia', 'snapshot', 'create'],
    options: [],
    root: '/kopia',
    snapshot: SNAP,
    runId: '20261126T070000Z-42-abcdef',
    layout: 'paths',
    platform: 'linux',
    sources,
    time: TIME,
    probe: { version: '0.17.0 build: 1234abcd from: kopia/kopia' },
    ...over,
  };
}

/** Go's time.Parse("2006-01-02 15:04:05 MST", s) for the zone kopiatomic writes (UTC). */
function parseGoKopiaTime(s: string): Date {
  const m = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2}) UTC$/.exec(s);
  assert.ok(m, `${s} does not match kopia's layout "2006-01-02 15:04:05 MST"`);
  return new Date(Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!));
}

/** kingpin flag value: --name=value or --name value. */
function flagValues(argv: string[], name: string): string[] {
  const out: string[] = [];
  argv.forEach((a, i) => {
    if (a === `--${name}`) out.push(argv[i + 1]!);
    else if (a.startsWith(`--${name}=`)) out.push(a.slice(name.length + 3));
  });
  return out;
}

describe('kopia, paths layout', () => {
  test('one `kopia snapshot create` per top-level dataset, reading the tree, recorded under the real path', () => {
    const calls = kopiaEngine.calls(ctx());
    assert.deepEqual(
      calls.map((c) => c.argv),
      [
        ['kopia', 'snapshot', 'create', '--start-time', '2026-11-26 07:00:00 UTC', '--tags', `kopiatomic:${SNAP}`, '--tags', 'kopiatomic-job:default', '--json', '--override-source=/home', '/kopia/home'],
        ['kopia', 'snapshot', 'create', '--start-time', '2026-11-26 07:00:00 UTC', '--tags', `kopiatomic:${SNAP}`, '--tags', 'kopiatomic-job:default', '--json', '--override-source=/srv', '/kopia/srv'],
      ],
    );
    // /home/alice is inside /home's tree: kopia reads it as part of /home.
    assert.ok(calls.every((c) => !c.namespace && Object.keys(c.env).length === 0), 'kopia reads the tree: no namespace');
  });

  test('each call names exactly one source and one --override-source (kopia applies the override to every source of a call)', () => {
    for (const c of kopiaEngine.calls(ctx())) {
      const override = flagValues(c.argv, 'override-source');
      assert.equal(override.length, 1);
      const positionals = c.argv.slice(3).filter((a, i, all) => !a.startsWith('--') && !['--start-time', '--tags'].includes(all[i - 1]!));
      assert.equal(positionals.length, 1, `one source in ${c.argv.join(' ')}`);
      assert.equal(positionals[0], `/kopia${override[0]}`);
    }
  });

  test('--start-time parses with kopia\'s Go layout and is the snapshot\'s creation time', () => {
    for (const c of kopiaEngine.calls(ctx())) {
      const [v] = flagValues(c.argv, 'start-time');
      assert.equal(parseGoKopiaTime(v!).getTime(), TIME.getTime());
    }
    // Not local time: a non-UTC zone name would make Go read it differently.
    const odd = new Date(Date.UTC(2027, 0, 2, 23, 59, 58, 999));
    const [v] = flagValues(kopiaEngine.calls(ctx({ time: odd }))[0]!.argv, 'start-time');
    assert.equal(v, '2027-01-02 23:59:58 UTC');
  });

  test('--tags is KEY:VALUE (kopia stores it as tag:KEY)', () => {
    for (const c of kopiaEngine.calls(ctx())) {
      const tags = flagValues(c.argv, 'tags');
      assert.deepEqual(tags, [`kopiatomic:${SNAP}`, 'kopiatomic-job:default']);
      const [key, value] = [tags[0]!.slice(0, tags[0]!.indexOf(':')), tags[0]!.slice(tags[0]!.indexOf(':') + 1)];
      assert.equal(key, 'kopiatomic');
      assert.equal(value, SNAP);
    }
  });

  test('user options come after ours and before the source; a / dataset is read from the root itself', () => {
    const calls = kopiaEngine.calls(
      ctx({ options: ['--description', 'nightly', '--parallel=4'], sources: [{ path: '/', readFrom: '/kopia', dataset: 'rpool/ROOT' }, { path: '/var', readFrom: '/kopia/var', dataset: 'rpool/var' }] }),
    );
    assert.equal(calls.length, 1);
    assert.deepEqual(calls[0]!.argv.slice(-5), ['--override-source=/', '--description', 'nightly', '--parallel=4', '/kopia']);
  });

  test('tree layout: one call of the whole tree, no --override-source', () => {
    const calls = kopiaEngine.calls(ctx({ layout: 'tree' }));
    assert.deepEqual(calls.map((c) => c.argv), [['kopia', 'snapshot', 'create', '--start-time', '2026-11-26 07:00:00 UTC', '--tags', `kopiatomic:${SNAP}`, '--tags', 'kopiatomic-job:default', '--json', '/kopia']]);
  });

  test('kopia --version: 0.14 or newer is needed for the paths layout, and the message says so', () => {
    assert.deepEqual(parseKopiaVersion('0.17.0 build: 1234abcd from: kopia/kopia'), [0, 17, 0]);
    assert.deepEqual(parseKopiaVersion('v0.14.1 build: x from: y'), [0, 14, 1]);
    assert.equal(parseKopiaVersion('v0-unofficial build: x'), null);
    const problem = (version: string | undefined) => kopiaEngine.layoutProblem('paths', linux, { version });
    assert.equal(problem('0.14.0 build: a from: kopia/kopia'), null);
    assert.equal(problem('0.22.3 build: a from: kopia/kopia'), null);
    assert.equal(problem('1.0.0 build: a from: kopia/kopia'), null);
    assert.match(problem('0.13.0 build: a from: kopia/kopia')!, /kopia 0\.13\.0 is too old.*0\.14 or newer/);
    assert.match(problem(undefined)!, /could not read the kopia version.*0\.14 or newer/);
    assert.equal(kopiaEngine.layoutProblem('tree', linux, {}), null, 'the tree layout works with any kopia');
    assert.equal(kopiaEngine.layoutProblem('paths', freebsd, { version: '0.17.0 build: a' }), null, 'kopia needs no namespace: FreeBSD is fine');
  });

  test('the probe runs `kopia --version` and reads the version from stdout (or stderr)', async () => {
    const fake = (stdout: string, stderr = '') => new FakeRunner(() => ({ code: 0, stdout, stderr }));
    // main passes the program without its subcommand (programPrefix).
    const first = fake('0.17.0 build: abc from: kopia/kopia\n');
    assert.deepEqual(await kopiaEngine.probe(first, ['/usr/bin/kopia']), { version: '0.17.0 build: abc from: kopia/kopia' });
    assert.deepEqual(first.argvs[0], ['/usr/bin/kopia', '--version']);
    assert.deepEqual(await kopiaEngine.probe(fake('', '0.14.0 build: abc from: kopia/kopia\n'), ['kopia']), { version: '0.14.0 build: abc from: kopia/kopia' });
  });

  test('a mount point with "@" is refused: kopia would read it as user@host', () => {
    assert.equal(kopiaSourcesProblem('paths', ['/home', '/srv']), null);
    assert.equal(kopiaSourcesProblem('tree', ['/srv/a@b']), null);
    assert.match(kopiaSourcesProblem('paths', ['/home', '/srv/a@b'])!, /\/srv\/a@b.*--layout tree/);
    assert.equal(kopiaEngine.sourcesProblem, kopiaSourcesProblem);
  });

  test('outcome: a saved manifest with failed entries is partial; exit 1 without one is a failure', () => {
    const manifest = JSON.stringify({ id: 'k1', source: { path: '/home' }, rootEntry: { summ: { numFailed: 2 } } });
    assert.equal(kopiaOutcome(0, ''), 'ok');
    assert.equal(kopiaOutcome(1, `${manifest}\n`), 'partial');
    assert.equal(kopiaOutcome(1, 'ERROR unable to open repository\n'), 'failed');
    assert.equal(kopiaOutcome(2, `${manifest}\n`), 'failed');
  });
});

describe('restic, paths layout', () => {
  const rctx = (over: Partial<EngineContext> = {}) =>
    ctx({ command: ['restic', 'backup'], root: '/restic', probe: { version: '0.14.0', env: {} }, sources: sources.map((s) => ({ ...s, readFrom: s.readFrom.replace('/kopia', '/restic') })), ...over });

  test('Linux: one restic call with the real top-level paths, run in a namespace that mounts every snapshot, parents first', () => {
    const calls = resticEngine.calls(rctx({ options: ['--exclude', '*.tmp'] }));
    assert.equal(calls.length, 1);
    assert.deepEqual(calls[0]!.argv, ['restic', 'backup', '--time', localTime(TIME), '--tag', SNAP, '--tag', 'kopiatomic-job:default', '--exclude', '*.tmp', '/home', '/srv']);
    assert.deepEqual(calls[0]!.namespace!.mounts, [
      { dataset: 'tank/home', snapshot: SNAP, target: '/home' },
      { dataset: 'data/srv', snapshot: SNAP, target: '/srv' },
      { dataset: 'tank/home/alice', snapshot: SNAP, target: '/home/alice' },
    ]);
    assert.equal(resticEngine.needsTree('paths', linux), false, 'no tree is assembled');
  });

  test('FreeBSD has no mount namespaces: the paths layout is refused with a clear message, the tree layout stays', () => {
    const problem = resticEngine.layoutProblem('paths', freebsd, {});
    assert.match(problem!, /paths layout for restic needs private mount namespaces, which freebsd does not have; use --layout tree/);
    assert.equal(resticEngine.layoutProblem('tree', freebsd, {}), null);
    assert.equal(resticEngine.needsTree('paths', freebsd), true);
    assert.equal(resticEngine.layoutProblem('paths', linux, {}), null, 'Linux with unshare(1) in PATH');
    const call = resticEngine.calls(rctx({ platform: 'freebsd' }))[0]!;
    assert.equal(call.namespace, undefined);
    assert.equal(call.argv.at(-1), '/restic');
  });

  test('the engine command is wrapped in unshare and ns-exec; the job (mounts, writable folders) travels in a 0600 file', () => {
    const raw = resticEngine.calls(rctx())[0]!;
    const env = { HOME: '/home/root', RESTIC_REPOSITORY: '/srv/restic-repo' };
    const call = { ...raw, writable: writablePaths(raw.argv, env) };
    const stateDir = mkdtempSync(`${tmpdir()}/kt-ns-`);
    const files = { stateDir, runId: 'RUN' };
    const argv = engineArgv(call, files);
    assert.deepEqual(argv.slice(0, 5), ['unshare', '--mount', '--propagation', 'private', '--']);
    assert.equal(argv[5], process.execPath);
    assert.match(argv[6]!, /\/dist\/src\/bin\/ns-exec\.js$/);
    assert.equal(argv[7], namespaceJobPath(files));
    assert.equal(existsSync(argv[7]!), false, 'engineArgv is pure: the dry run prints it');
    const drop = writeNamespaceJob(call, files, quietReporter().reporter, { PATH: fakeBin() });
    assert.equal(statSync(argv[7]!).mode & 0o777, 0o600);
    const job = readNamespaceJob(argv[7], (p) => readFileSync(p, 'utf8'), (p) => rmSync(p));
    assert.equal(existsSync(argv[7]!), false, 'ns-exec removes the job once read');
    drop();
    assert.deepEqual({ ...job, argv: [] }, { ...namespaceJob(call, files), argv: [] });
    assert.deepEqual(job.keepWritable, ['/home/root/.cache/restic', '/srv/restic-repo', '/tmp']);
    assert.equal(job.staging, `${runFilesDir(stateDir)}/stage-RUN`, 'the staging tmpfs hides only its own directory, not the run files beside it');
    assert.ok(job.argv[0]!.startsWith('/'), 'the engine is resolved before any mount');
    assert.deepEqual(job.argv.slice(1), call.argv.slice(1));
    assert.equal(statSync(runFilesDir(stateDir)).mode & 0o777, 0o700);
    assert.equal(job.parent, process.pid, 'ns-exec knows whose child it must be, even if that process dies before ns-exec starts');
    const tree = resticEngine.calls(rctx({ layout: 'tree' }))[0]!;
    assert.deepEqual(engineArgv(tree, files), tree.argv, 'no namespace for the tree layout');
    rmSync(stateDir, { recursive: true });
  });

  test('a namespace job far over 128 KiB (3000 mounts) never becomes an argv word', () => {
    const many = Array.from({ length: 3000 }, (_, i) => ({ path: `/srv/dataset-number-${i}`, readFrom: `/restic/srv/dataset-number-${i}`, dataset: `tank/srv/dataset-number-${i}` }));
    const call = resticEngine.calls(rctx({ sources: many }))[0]!;
    const stateDir = mkdtempSync(`${tmpdir()}/kt-ns-`);
    const files = { stateDir, runId: 'RUN' };
    const argv = engineArgv(call, files);
    assert.ok(argv.every((w) => w.length < 4096), 'every argv word is small');
    const drop = writeNamespaceJob(call, files, quietReporter().reporter, { PATH: fakeBin() });
    assert.ok(statSync(argv[7]!).size > 128 * 1024);
    drop();
    assert.equal(existsSync(argv[7]!), false, 'removed after the engine');
    rmSync(stateDir, { recursive: true });
  });

  test('the engine is resolved to an absolute path through the PATH it gets (env and NAME=value words too); a missing one is an error', () => {
    const bin = fakeBin();
    assert.deepEqual(resolveProgram(['restic', 'backup', '-v'], bin), [`${bin}/restic`, 'backup', '-v']);
    const env = resolveProgram(['env', 'A=1', 'restic', 'backup'], `${bin}:/usr/bin:/bin`);
    assert.ok(env[0]!.startsWith('/') && env[0]!.endsWith('/env'));
    assert.deepEqual(env.slice(1), ['A=1', `${bin}/restic`, 'backup']);
    assert.throws(() => resolveProgram(['no-such-engine-here', 'backup'], bin), /no-such-engine-here was not found in PATH/);
    assert.throws(() => readNamespaceJob('{"argv":["restic"]}', () => '', () => {}), /absolute path of its file/, 'a job is never taken from argv');
    assert.throws(() => readNamespaceJob('/job', () => '{"argv":["restic"]}', () => {}), /must be an absolute path/, 'ns-exec refuses a program by name');
  });

  test('writable folders: cache (flag, RESTIC_CACHE_DIR, XDG_CACHE_HOME, HOME), local repository, TMPDIR', () => {
    const w = (argv: string[], env: NodeJS.ProcessEnv) => writablePaths(argv, env);
    assert.deepEqual(w(['restic', 'backup', '--cache-dir', '/c1', '-r', '/r1'], { HOME: '/h' }), [
      { path: '/c1', create: true },
      { path: '/r1', create: false },
      { path: '/tmp', create: false },
    ]);
    assert.deepEqual(w(['restic', 'backup', '--cache-dir=/c2/'], { RESTIC_CACHE_DIR: '/c3', RESTIC_REPOSITORY: 'local:/r2', TMPDIR: '/scratch' }), [
      { path: '/c2', create: true },
      { path: '/r2', create: false },
      { path: '/scratch', create: false },
    ]);
    assert.deepEqual(w(['restic', 'backup'], { RESTIC_CACHE_DIR: '', XDG_CACHE_HOME: '/x', HOME: '/h' })[0], { path: '/x/restic', create: true });
    assert.deepEqual(w(['restic', 'backup'], { HOME: '/h' })[0], { path: '/h/.cache/restic', create: true });
    assert.deepEqual(w(['restic', 'backup', '--no-cache', '-r', 'sftp:host:/r'], { HOME: '/h' }), [{ path: '/tmp', create: false }], 'no cache, remote repository');
  });
});

/** A directory holding an executable `restic`. */
function fakeBin(): string {
  const dir = mkdtempSync(`${tmpdir()}/kt-bin-`);
  writeFileSync(`${dir}/restic`, '#!/bin/sh\n', { mode: 0o755 });
  return dir;
}

/** restic reads --time as local time, "2006-01-02 15:04:05". */
function localTime(d: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}
