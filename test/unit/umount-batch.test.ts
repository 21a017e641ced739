// The umount2(2) carrier of a batch unmount (platform/umount-batch.ts), run
// for real with this machine's perl on paths that are not mount points (a
// unit test mounts nothing): what it passes to the kernel is seen in the
// errno that comes back. The unmounts themselves are proven in the guest
// (test/e2e/threats/unmount-carrier.test.ts and every e2e run's teardown).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { umount2Argv, umountVerboseArgv, UMOUNT2_SCRIPT } from '../../src/platform/umount-batch.js';
import { linux } from '../../src/platform/linux.js';
import { freebsd } from '../../src/platform/freebsd.js';

const run = (argv: string[], env: NodeJS.ProcessEnv = process.env) => spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', env });

test('umount2Argv: the syscall number and perl build per architecture; none for one not listed', () => {
  const words = (arch: string) => umount2Argv(['/k/a'], arch)?.slice(4);
  assert.deepEqual(words('x64'), ['--', '166', 'x86_64-linux', '8', '/k/a']);
  assert.deepEqual(words('arm64'), ['--', '39', 'aarch64-linux', '8', '/k/a']);
  assert.deepEqual(words('riscv64'), ['--', '39', 'riscv64-linux', '8', '/k/a']);
  assert.deepEqual(words('ppc64'), ['--', '52', 'powerpc64', '8', '/k/a']);
  assert.equal(umount2Argv(['/k/a'], 'ia32'), null, '32-bit: umount(8)');
  assert.equal(umount2Argv(['/k/a'], 'mips'), null);
  assert.deepEqual(umountVerboseArgv(['/k/a', '/k']), ['umount', '-v', '/k/a', '/k']);
  assert.deepEqual(freebsd.umountBatchArgv(['/k/a']), ['umount', '-v', '/k/a'], 'FreeBSD: umount(8)');
  assert.deepEqual(linux.umountBatchFallbackArgv(['/k/a']), ['umount', '-v', '/k/a']);
});

test('the umount2 one-liner: each target tried in order, the flags passed as a number (ENOENT for a missing path: flags passed as the address of a string would be EINVAL), a failure reported with its errno and the rest still tried, exit 1', { skip: !umount2Argv([]) || run(['perl', '-e', '1']).status !== 0 ? 'no perl, or not a listed architecture' : false }, (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kopiatomic-umount2-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, 'plain'));
  symlinkSync(join(dir, 'plain'), join(dir, 'link'));
  // '123' is a word perl could take for a number: it must still reach the kernel as a path (relative: ENOENT here)
  const r = run(umount2Argv([join(dir, 'missing'), join(dir, 'plain'), join(dir, 'link'), '123'])!);
  assert.equal(r.status, 1);
  assert.equal(r.stdout, '', 'nothing reported as done');
  const lines = r.stderr.trim().split('\n');
  assert.deepEqual(
    lines.map((l) => l.replace(/: [^:]*\(errno/, ': (errno')),
    [`umount2 ${join(dir, 'missing')}: (errno 2)`, `umount2 ${join(dir, 'plain')}: (errno 22)`, `umount2 ${join(dir, 'link')}: (errno 22)`, 'umount2 123: (errno 2)'],
  );
});

test('the umount2 one-liner refuses to run under a perl built for another architecture: nothing is called', { skip: run(['perl', '-e', '1']).status !== 0 ? 'no perl' : false }, () => {
  const r = run(['perl', '-T', '-e', UMOUNT2_SCRIPT, '--', '39', 'no-such-arch-linux', '8', '/']);
  assert.notEqual(r.status, 0);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, /^umount2: perl is built for \S+ \(\d-byte pointers\), not no-such-arch-linux\n$/);
});

test('the umount2 one-liner runs under taint mode: a Config.pm or module named by PERL5LIB, PERLLIB or PERL5OPT in its environment is never loaded (it runs as root)', { skip: !umount2Argv([]) || run(['perl', '-e', '1']).status !== 0 ? 'no perl, or not a listed architecture' : false }, (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kopiatomic-umount2-env-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  // Modules that leave a mark when loaded: one shadowing Config, one named by -M in PERL5OPT.
  writeFileSync(join(dir, 'Config.pm'), `open(my $f, '>', '${dir}/config-loaded'); 1;\n`);
  writeFileSync(join(dir, 'Planted.pm'), `package Planted; open(my $f, '>', '${dir}/planted-loaded'); 1;\n`);
  // Without -T the same program does load them: the test can tell.
  const plain = umount2Argv([join(dir, 'missing')])!.filter((w) => w !== '-T');
  run(plain, { ...process.env, PERL5LIB: dir, PERL5OPT: '-MPlanted' });
  assert.ok(existsSync(join(dir, 'planted-loaded')), 'without taint mode PERL5OPT is obeyed');
  rmSync(join(dir, 'planted-loaded'));
  rmSync(join(dir, 'config-loaded'), { force: true });
  const r = run(umount2Argv([join(dir, 'missing')])!, { ...process.env, PERL5LIB: dir, PERLLIB: dir, PERL5OPT: '-MPlanted' });
  assert.equal(r.status, 1);
  assert.match(r.stderr, /errno 2\)/, 'it still did its work');
  assert.equal(existsSync(join(dir, 'config-loaded')), false, 'no Config.pm from PERL5LIB');
  assert.equal(existsSync(join(dir, 'planted-loaded')), false, 'no module from PERL5OPT');
});
