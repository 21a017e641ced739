// The mount(2) and umount2(2) carriers of the batches (platform/syscall-batch.ts),
// run for real with this machine's perl: on paths that are not mount points
// (what they pass to the kernel is seen in the errno that comes back), and in
// a private mount namespace of their own (unshare -m), where a tmpfs is
// mounted and unmounted without touching the machine's mount table. Snapshot
// mounts are proven in the guest (test/e2e/threats/unmount-carrier.test.ts
// and every e2e run).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CARRIER_REFUSED, mount2Argv, MOUNT2_SCRIPT, SPLIT_MOUNT_MIN, umount2Argv, umountVerboseArgv, UMOUNT2_SCRIPT } from '../../src/platform/syscall-batch.js';
import { quoteArgv } from '../../src/core/errors.js';
import { linux } from '../../src/platform/linux.js';
import { freebsd } from '../../src/platform/freebsd.js';

const run = (argv: string[], env: NodeJS.ProcessEnv = process.env) => spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', env });

test('umount2Argv: the syscall number and perl build per architecture; none for one not listed', () => {
  const words = (arch: string) => umount2Argv(['/k/a'], arch)?.slice(4);
  assert.deepEqual(words('x64'), ['--', '166', '62', '8', '/k/a']);
  assert.deepEqual(words('arm64'), ['--', '39', '183', '8', '/k/a']);
  assert.deepEqual(words('riscv64'), ['--', '39', '243', '8', '/k/a']);
  assert.deepEqual(words('ppc64'), ['--', '52', '21', '8', '/k/a']);
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

test('the umount2 one-liner refuses to run under a perl built for another machine than its syscall numbers are for (its own ELF header says): nothing is called', { skip: run(['perl', '-e', '1']).status !== 0 ? 'no perl' : false }, () => {
  const r = run(['perl', '-T', '-e', UMOUNT2_SCRIPT, '--', '39', '9999', '8', '/']);
  assert.equal(r.status, CARRIER_REFUSED, 'the exit that sends the executor to umount(8)');
  assert.equal(r.stdout, '');
  assert.match(r.stderr, /^umount2: perl is built for ELF machine \d+, class 2, not machine 9999, class 2\n$/);
});

test('both one-liners run under taint mode: a module named by PERL5LIB, PERLLIB or PERL5OPT in their environment is never loaded (they run as root)', { skip: !umount2Argv([]) || run(['perl', '-e', '1']).status !== 0 ? 'no perl, or not a listed architecture' : false }, (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kopiatomic-umount2-env-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  // A module that leaves a mark when loaded, named by -M in PERL5OPT and found through PERL5LIB.
  writeFileSync(join(dir, 'Planted.pm'), `package Planted; open(my $f, '>', '${dir}/planted-loaded'); 1;\n`);
  for (const argv of [umount2Argv([join(dir, 'missing')])!, mount2Argv('kopiatomic-nofs', [['x', join(dir, 'missing')]])!]) {
    // Without -T the same program does load it: the test can tell.
    run(argv.filter((w) => w !== '-T'), { ...process.env, PERL5LIB: dir, PERL5OPT: '-MPlanted' });
    assert.ok(existsSync(join(dir, 'planted-loaded')), 'without taint mode PERL5OPT is obeyed');
    rmSync(join(dir, 'planted-loaded'));
    const r = run(argv, { ...process.env, PERL5LIB: dir, PERLLIB: dir, PERL5OPT: '-MPlanted' });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /errno 2\)/, 'it still did its work');
    assert.equal(existsSync(join(dir, 'planted-loaded')), false, 'no module from PERL5OPT');
  }
});

test('mount2Argv: the syscall number, perl build, MS_RDONLY and the type, then source and target pairs; none for an architecture not listed', () => {
  const words = (arch: string) => mount2Argv('zfs', [['t/a@s', '/k/a'], ['t/b@s', '/k/b']], arch)?.slice(4);
  assert.deepEqual(words('x64'), ['--', '165', '62', '1', 'zfs', 't/a@s', '/k/a', 't/b@s', '/k/b']);
  assert.deepEqual(words('arm64'), ['--', '40', '183', '1', 'zfs', 't/a@s', '/k/a', 't/b@s', '/k/b']);
  assert.deepEqual(words('ppc64')?.slice(0, 5), ['--', '21', '21', '1', 'zfs']);
  assert.deepEqual(words('s390x')?.slice(0, 5), ['--', '21', '22', '1', 'zfs']);
  assert.equal(mount2Argv('zfs', [], 'ia32'), null, '32-bit: mount(8)');
  const table = '/run/kopiatomic/k.mounts';
  assert.deepEqual(linux.mountBatchFallbackArgv(table), ['mount', '--all', '--internal-only', '--verbose', '--fstab', table]);
  assert.deepEqual(freebsd.mountBatchArgv(table, []), ['mount', '-a', '-v', '-F', table], 'FreeBSD: mount(8) over the table');
});

const namespaces = run(['unshare', '--mount', '--propagation', 'private', 'true']).status === 0;
/** Why the tests that mount for real cannot run here, or false. */
const mountSkip = !mount2Argv('tmpfs', []) || run(['perl', '-e', '1']).status !== 0 || !namespaces ? 'no perl, not a listed architecture, or no mount namespaces here' : false;

test('the mount2 one-liner mounts for real, in order, read-only, the source and the type as given, and stops at the first failure with its errno; umount2 takes it away again (in a private mount namespace)', { skip: mountSkip }, (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kopiatomic-mount2-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  for (const d of ['a', 'b', 'c']) mkdirSync(join(dir, d));
  // The source '123' could pass for a number: it must reach the kernel as a string.
  const mount = mount2Argv('tmpfs', [['kopiatomic-src', join(dir, 'a')], ['123', join(dir, 'b')], ['x', join(dir, 'missing')], ['y', join(dir, 'c')]])!;
  const table = `grep -F ' ${dir}/' /proc/self/mountinfo | awk '{ print $5, $6, $(NF - 2), $(NF - 1) }'`;
  const script = `${quoteArgv(mount)}; echo "exit $?"; ${table}; ${quoteArgv(umount2Argv([join(dir, 'b'), join(dir, 'a')])!)}; echo "exit $?"; ${table}`;
  const r = run(['unshare', '--mount', '--propagation', 'private', 'sh', '-c', script]);
  assert.deepEqual(r.stdout.split('\n').slice(0, 3), [join(dir, 'a'), join(dir, 'b'), 'exit 1'], 'each target reported as it is mounted; the failure ends the batch with 1');
  assert.match(r.stderr, new RegExp(`^mount2 x at ${dir}/missing: [^\n]*\\(errno 2\\)\n$`), 'one line with its errno; the fourth pair never tried');
  const lines = r.stdout.split('\n');
  const shown = lines.slice(3, 5);
  assert.deepEqual(shown.map((l) => l.replace(/,relatime/, '')), [`${dir}/a ro tmpfs kopiatomic-src`, `${dir}/b ro tmpfs 123`], 'read-only (MS_RDONLY as a number), the type and the source as strings');
  assert.deepEqual(lines.slice(5), [`${dir}/b`, `${dir}/a`, 'exit 0', ''], 'umount2 in the same namespace: both gone, nothing left');
});

/**
 * `count` tmpfs pairs (source s<i>, target <dir>/<i>) mounted by the one-liner
 * in a private mount namespace, the target of pair `missing` not made: its
 * exit, its stdout and stderr lines, and the pairs the mount table then shows.
 */
function mountMany(count: number, missing: number): { status: string; reported: number[]; errors: string[]; mounted: number[] } {
  const dir = mkdtempSync(join(tmpdir(), 'kopiatomic-mount2-many-'));
  try {
    for (let i = 0; i < count; i++) if (i !== missing) mkdirSync(join(dir, String(i)));
    const mount = mount2Argv('tmpfs', Array.from({ length: count }, (_, i) => [`s${i}`, join(dir, String(i))] as const))!;
    const r = run(['unshare', '--mount', '--propagation', 'private', 'sh', '-c', `${quoteArgv(mount)}; echo "exit $?"; grep -F ' ${dir}/' /proc/self/mountinfo | awk '{ print $5 }'`]);
    const lines = r.stdout.split('\n').filter(Boolean);
    const at = lines.findIndex((l) => l.startsWith('exit '));
    const index = (p: string) => Number(p.slice(dir.length + 1));
    return { status: lines[at]!, reported: lines.slice(0, at).map(index).sort((a, b) => a - b), errors: r.stderr.split('\n').filter(Boolean), mounted: lines.slice(at + 1).map(index).sort((a, b) => a - b) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const range = (from: number, to: number, step = 1) => Array.from({ length: Math.ceil((to - from) / step) }, (_, k) => from + k * step);

test(`the mount2 one-liner splits a level of ${SPLIT_MOUNT_MIN} pairs or more between two processes, every other pair each: all are mounted; a failure ends only its own half, the other half is done, exit 1 (a private mount namespace)`, { skip: mountSkip }, () => {
  const n = SPLIT_MOUNT_MIN + 8;
  const all = mountMany(n, -1);
  assert.equal(all.status, 'exit 0');
  assert.deepEqual(all.mounted, range(0, n), 'every pair mounted');
  assert.deepEqual(all.reported, range(0, n), 'each target reported once (two writers, one line each)');
  assert.deepEqual(all.errors, []);
  // Pair 10 is the parent's (even): it stops there; the child mounts every odd pair.
  const broken = mountMany(n, 10);
  assert.equal(broken.status, 'exit 1', 'a failure in one half fails the whole');
  assert.deepEqual(broken.mounted, [...range(0, 10, 2), ...range(1, n, 2)].sort((a, b) => a - b), 'the even pairs before 10, and every odd pair');
  assert.deepEqual(broken.reported, broken.mounted, 'what was reported is what the table shows');
  assert.equal(broken.errors.length, 1);
  assert.match(broken.errors[0]!, /^mount2 s10 at .*\/10: .*\(errno 2\)$/);
  // Pair 11 is the child's: the parent still finishes its half and reports the child's failure.
  const child = mountMany(n, 11);
  assert.equal(child.status, 'exit 1', "the child's failure is the parent's exit");
  assert.deepEqual(child.mounted, [...range(0, n, 2), ...range(1, 11, 2)].sort((a, b) => a - b));
});

test(`below ${SPLIT_MOUNT_MIN} pairs the mount2 one-liner is one process, in order: the first failure ends the whole level`, { skip: mountSkip }, () => {
  const r = mountMany(SPLIT_MOUNT_MIN - 1, 10);
  assert.equal(r.status, 'exit 1');
  assert.deepEqual(r.mounted, range(0, 10), 'pairs 0-9, nothing after the failure');
  assert.equal(r.errors.length, 1);
});

test('the mount2 one-liner refuses to run under a perl built for another machine, and refuses a source without a target: nothing is called', { skip: run(['perl', '-e', '1']).status !== 0 ? 'no perl' : false }, () => {
  const arch = run(['perl', '-T', '-e', MOUNT2_SCRIPT, '--', '40', '9999', '1', 'zfs', 'a', '/nonexistent']);
  assert.equal(arch.status, CARRIER_REFUSED);
  assert.equal(arch.stdout, '');
  assert.match(arch.stderr, /^mount2: perl is built for ELF machine \d+, class 2, not machine 9999, class 2\n$/);
  const odd = run([...mount2Argv('zfs', [['a', '/nonexistent']])!, 'b']);
  assert.equal(odd.status, CARRIER_REFUSED);
  assert.equal(odd.stdout, '');
  assert.equal(odd.stderr, 'mount2: a source without a target\n');
});
