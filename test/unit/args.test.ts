import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseCommandLine } from '../../src/cli/args.js';
import { KOPIATOMIC, RESTOMIC } from '../../src/config/job.js';
import { UsageError } from '../../src/core/errors.js';

const k = (...argv: string[]) => parseCommandLine(argv, KOPIATOMIC);
const usage = (argv: string[], re: RegExp) =>
  assert.throws(() => parseCommandLine(argv, KOPIATOMIC), (e: unknown) => e instanceof UsageError && re.test(e.message), `expected UsageError ${re} for ${JSON.stringify(argv)}`);

test('defaults for kopiatomic', () => {
  const o = k('tank/home');
  assert.equal(o.mode, 'backup');
  assert.deepEqual(o.targets, ['tank/home']);
  assert.equal(o.all, false);
  assert.equal(o.recursive, false);
  assert.equal(o.dryRun, false);
  assert.equal(o.engine.name, 'kopia');
  assert.deepEqual(o.command, ['kopia', 'snapshot', 'create']);
  assert.deepEqual(o.options, []);
  assert.equal(o.pre, null);
  assert.equal(o.post, null);
  assert.equal(o.mountRoot, '/kopia');
  assert.deepEqual(o.excludes, []);
  assert.equal(o.json, false);
  assert.equal(o.verbosity, 1);
  assert.equal(o.layout, 'tree');
  assert.equal(o.wait, 0);
});

test('defaults for restomic', () => {
  const o = parseCommandLine(['-a'], RESTOMIC);
  assert.equal(o.engine.name, 'restic');
  assert.deepEqual(o.command, ['restic', 'backup']);
  assert.equal(o.mountRoot, '/restic');
  assert.equal(o.all, true);
});

test('grouped short flags: -rn and -arn', () => {
  const o = k('-rn', 'tank');
  assert.equal(o.recursive, true);
  assert.equal(o.dryRun, true);
  assert.equal(o.all, false);
  const p = k('-arn');
  assert.deepEqual([p.all, p.recursive, p.dryRun], [true, true, true]);
});

test('long forms', () => {
  const o = k('--all', '--recursive', '--dry-run', '--json', '--quiet', '--exclude', 'tank/a', '--exclude=/srv/b', '--layout', 'paths', '--mount-root=/srv/kopia/', '--pre', 'echo pre', '--post=echo post');
  assert.deepEqual([o.all, o.recursive, o.dryRun, o.json], [true, true, true, true]);
  assert.equal(o.verbosity, 0);
  assert.deepEqual(o.excludes, ['tank/a', '/srv/b']);
  assert.equal(o.layout, 'paths');
  assert.equal(o.mountRoot, '/srv/kopia');
  assert.equal(o.pre, 'echo pre');
  assert.equal(o.post, 'echo post');
  assert.equal(k('--verbose', 'x').verbosity, 2);
  assert.equal(k('-p', 'a', '-q', 'b', 'x').post, 'b');
});

test('-o is repeatable and each value is split into words', () => {
  const o = k('-o', `'a b'`, '-o', `x "y z"`, '--options=w', 'tank');
  assert.deepEqual(o.options, ['a b', 'x', 'y z', 'w']);
});

test(
  '-o takes engine options that start with a dash',
  () => {
    assert.deepEqual(k('-o', '--parallel 4', '-o', '--tag x', 'tank').options, ['--parallel', '4', '--tag', 'x']);
    assert.deepEqual(k('--options', '--exclude-caches', 'tank').options, ['--exclude-caches']);
  },
);

test('-c sets the command and implies the engine', () => {
  const r = k('-c', `restic -r /repo backup`, 'tank');
  assert.equal(r.engine.name, 'restic');
  assert.deepEqual(r.command, ['restic', '-r', '/repo', 'backup']);
  const c = k('-c', `tar -cf "/backup/my file.tar"`, 'tank');
  assert.equal(c.engine.name, 'command');
  assert.deepEqual(c.command, ['tar', '-cf', '/backup/my file.tar']);
  const kk = parseCommandLine(['-c', '/opt/kopia snapshot create', '-a'], RESTOMIC);
  assert.equal(kk.engine.name, 'kopia');
});

test('--engine overrides the implied engine; unknown engine is an error', () => {
  const o = k('--engine', 'restic', '-c', 'my-restic-wrapper backup', 'tank');
  assert.equal(o.engine.name, 'restic');
  assert.deepEqual(o.command, ['my-restic-wrapper', 'backup']);
  const r = k('--engine=restic', 'tank');
  assert.deepEqual(r.command, ['restic', 'backup']);
  usage(['--engine', 'borg', 'x'], /unknown engine "borg"/);
});

test('--engine command without -c is an error; -c with no words is an error', () => {
  usage(['--engine', 'command', 'tank'], /--engine command needs -c COMMAND/);
  assert.equal(k('--engine', 'command', '-c', 'true', 'tank').engine.name, 'command');
  usage(['-c', '  ', 'tank'], /-c needs a command/);
  usage(['-c', `"unbalanced`, 'tank'], /unbalanced/);
});

test('--wait: bare means forever, =N means N seconds, anything else is an error', () => {
  assert.equal(k('--wait', 'tank').wait, Infinity);
  assert.deepEqual(k('--wait', 'tank').targets, ['tank']);
  assert.equal(k('--wait=5', 'tank').wait, 5);
  assert.equal(k('--wait=0', 'tank').wait, 0);
  usage(['--wait=soon', 'tank'], /--wait takes a number of seconds or a duration \(90s, 10m, 1h30m\): soon/);
  usage(['--wait=-1', 'tank'], /--wait takes a number of seconds/);
  usage(['--wait=1.5', 'tank'], /--wait takes a number of seconds/);
});

test('--mount-root: absolute, not /, not under /tmp or /var/tmp; trailing slashes dropped', () => {
  assert.equal(k('--mount-root', '/srv/snap//', 'x').mountRoot, '/srv/snap');
  usage(['--mount-root', 'relative', 'x'], /must be an absolute path/);
  usage(['--mount-root', '/', 'x'], /cannot be \//);
  usage(['--mount-root', '///', 'x'], /cannot be \//);
  usage(['--mount-root', '/tmp', 'x'], /world-writable/);
  usage(['--mount-root', '/tmp/kopia', 'x'], /world-writable/);
  usage(['--mount-root=/var/tmp/', 'x'], /world-writable/);
  usage(['--mount-root', '/var/tmp/k', 'x'], /world-writable/);
  assert.equal(k('--mount-root', '/tmpfoo', 'x').mountRoot, '/tmpfoo');
});

test(
  '--mount-root is normalised before it is checked',
  () => {
    usage(['--mount-root', '//tmp/x', 'tank'], /world-writable/);
    usage(['--mount-root', '/var/../tmp/x', 'tank'], /world-writable/);
    assert.equal(k('--mount-root', '/srv/./kopia', 'tank').mountRoot, '/srv/kopia');
    assert.equal(k('--mount-root', '/srv//kopia', 'tank').mountRoot, '/srv/kopia');
  },
);

test('unknown flags are usage errors', () => {
  usage(['-x', 'tank'], /unknown option '-x'/i);
  usage(['--frobnicate', 'tank'], /unknown option '--frobnicate'/i);
  usage(['--layout', 'flat', 'tank'], /unknown layout "flat"/);
  usage(['--verbose', '--quiet', 'tank'], /cannot be used together/);
});

test('cleanup subcommand; it takes no datasets', () => {
  const o = k('cleanup', '-n', '--mount-root', '/srv/k');
  assert.equal(o.mode, 'cleanup');
  assert.deepEqual(o.targets, []);
  assert.equal(o.dryRun, true);
  assert.equal(o.mountRoot, '/srv/k');
  usage(['cleanup', 'tank'], /cleanup takes no datasets/);
});

test('help and version modes', () => {
  assert.equal(k('-h').mode, 'help');
  assert.equal(k('--help', 'cleanup').mode, 'help');
  assert.equal(k('-v').mode, 'version');
  assert.equal(k('--version').mode, 'version');
});

test('-o values that start with a dash, in a group and before the command word', () => {
  assert.deepEqual(k('-ro', '--one-file-system', 'tank').options, ['--one-file-system']);
  assert.equal(k('-ro', '--one-file-system', 'tank').recursive, true);
  assert.deepEqual(k('-o', '-x', 'run').options, ['-x']);
  assert.equal(k('-o', '-x', 'run').mode, 'run');
  assert.deepEqual(k('-c', '-weird', 'tank').command, ['-weird']);
});

test('--wait: bare before the command word and after it', () => {
  assert.equal(k('--wait', 'cleanup').wait, Infinity);
  assert.equal(k('cleanup', '--wait').mode, 'cleanup');
  assert.equal(k('run', '--wait', 'home').wait, Infinity);
  assert.deepEqual(k('run', '--wait', 'home').names, ['home']);
});
