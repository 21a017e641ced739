// The batch unmount's two carriers. umount(8) -v, the portable one, and on
// Linux one that calls umount2(2) itself. umount(8) reads the whole
// mount table before each ZFS unmount (libmount cannot tell a ZFS target's
// type from statfs), and the kernel looks up a dataset name for every ZFS
// line of it, so a teardown of N mounts costs N² (docs/scale.md): 3-8 a
// second with 2000 mounted, where umount2 does 60-160 a second whatever
// is mounted. Node cannot make the call, so a perl one-liner carries it
// (perl-base, with syscall() and Config, is Essential on Debian and
// Ubuntu). Where perl is missing the executor falls back to umount(8)
// (execute/mount-phase.ts); on an architecture not listed here umount(8) is
// the batch.

/** umount2's number, and what perl's own build must say, per Node architecture (64-bit only: a 32-bit perl on a 64-bit kernel has other numbers). */
const UMOUNT2: Partial<Record<string, { nr: number; archname: string }>> = {
  x64: { nr: 166, archname: 'x86_64-linux' }, // arch/x86/entry/syscalls/syscall_64.tbl
  arm64: { nr: 39, archname: 'aarch64-linux' }, // include/uapi/asm-generic/unistd.h
  riscv64: { nr: 39, archname: 'riscv64-linux' },
  loong64: { nr: 39, archname: 'loongarch64-linux' },
  ppc64: { nr: 52, archname: 'powerpc64' }, // arch/powerpc/kernel/syscalls/syscall.tbl (ppc64 and ppc64le)
  s390x: { nr: 52, archname: 's390x-linux' },
};

/** UMOUNT_NOFOLLOW: a symlink put where a target was is not followed (include/linux/fs.h). */
const UMOUNT_NOFOLLOW = 8;

/**
 * The program: first words the syscall's number, the archname perl's build
 * must start with and the flags, then the targets, unmounted in order.
 * Each target done is one line on stdout, unbuffered (the watchdog's
 * progress); a failure is one line on stderr with its errno, and the rest
 * are still tried (a busy child leaves its parents busy; the executor then
 * unmounts what the mount table still shows one by one, which names it).
 * It runs as root under taint mode (-T), so perl ignores PERL5LIB, PERLLIB
 * and PERL5OPT: nothing from the environment is loaded into it. Every word
 * is therefore untainted by a match: the first three must be plain words,
 * the targets are taken whole. The number and the flags are made numbers:
 * syscall() passes a string as a pointer (and a target, always a string, as
 * one). perl running in another ABI (a 32-bit perl, x32) stops before any
 * call: the same number means another syscall there.
 */
export const UMOUNT2_SCRIPT =
  String.raw`use Config;$|=1;my($n,$a,$f)=map{/\A([\w.-]+)\z/?$1:die "umount2: bad word $_\n"}splice(@ARGV,0,3);$n+=0;$f+=0;` +
  String.raw`die "umount2: perl is built for $Config{archname} ($Config{ptrsize}-byte pointers), not $a\n" unless index($Config{archname},$a)==0&&$Config{ptrsize}==8&&$Config{archname}!~/x32/;` +
  String.raw`my$r=0;for(@ARGV){($_)=/\A(.*)\z/s;if(syscall($n,$_,$f)==0){print "$_\n"}else{printf STDERR "umount2 %s: %s (errno %d)\n",$_,$!,$!;$r=1}}exit $r`;

/** The argv that unmounts `targets` with umount2(2), or null where this architecture has no entry. */
export function umount2Argv(targets: readonly string[], arch: string = process.arch): string[] | null {
  const a = UMOUNT2[arch];
  if (!a) return null;
  return ['perl', '-T', '-e', UMOUNT2_SCRIPT, '--', String(a.nr), a.archname, String(UMOUNT_NOFOLLOW), ...targets];
}

/** umount(8) over every target; -v reports each as it is unmounted, one line each (Linux and FreeBSD). */
export function umountVerboseArgv(targets: readonly string[]): string[] {
  return ['umount', '-v', ...targets];
}
