// The batch carriers that call mount(2) and umount2(2) themselves, on Linux.
// umount(8) reads the whole mount table before each ZFS unmount (libmount
// cannot tell a ZFS target's type from statfs), and the kernel looks up a
// dataset name for every ZFS line of it, so a teardown of N mounts costs N²
// (docs/scale.md): 3-8 a second with 2000 mounted, where umount2 does
// 60-160 a second whatever is mounted. mount(8) -a parses its table, checks
// each entry against the mount table and canonicalizes each target before
// its mount(2). Node cannot make either call, so a perl one-liner carries
// it (perl-base, with syscall(), is Essential on Debian and Ubuntu). Where
// perl is missing, or refuses to run (CARRIER_REFUSED), the executor runs
// mount(8) and umount(8) instead (execute/mount-phase.ts); on an
// architecture not listed here they are the batch.

/**
 * The syscall numbers, and the ELF machine perl's own binary must be built
 * for, per Node architecture (64-bit only: a 32-bit or x32 perl on a 64-bit
 * kernel has other numbers). Machines from include/uapi/linux/elf-em.h.
 */
const ARCH: Partial<Record<string, { mount: number; umount2: number; machine: number }>> = {
  x64: { mount: 165, umount2: 166, machine: 62 }, // arch/x86/entry/syscalls/syscall_64.tbl; EM_X86_64
  arm64: { mount: 40, umount2: 39, machine: 183 }, // include/uapi/asm-generic/unistd.h; EM_AARCH64
  riscv64: { mount: 40, umount2: 39, machine: 243 }, // EM_RISCV
  loong64: { mount: 40, umount2: 39, machine: 258 }, // EM_LOONGARCH
  ppc64: { mount: 21, umount2: 52, machine: 21 }, // arch/powerpc/kernel/syscalls/syscall.tbl (ppc64 and ppc64le); EM_PPC64
  s390x: { mount: 21, umount2: 52, machine: 22 }, // arch/s390/kernel/syscalls/syscall.tbl; EM_S390
};

/** UMOUNT_NOFOLLOW: a symlink put where a target was is not followed (include/linux/fs.h). */
const UMOUNT_NOFOLLOW = 8;
/** MS_RDONLY: the snapshot mounts read-only, as `mount -o ro` (include/uapi/linux/mount.h). */
const MS_RDONLY = 1;

/**
 * The exit code of a carrier that stopped before any call: it cannot run
 * here (another ABI's perl, no /proc) or was handed a bad word. The
 * executor then runs mount(8) or umount(8) instead, as when perl is missing.
 */
export const CARRIER_REFUSED = 3;

/**
 * The start both programs share. Its first words are the syscall's number,
 * the ELF machine perl must be built for, the flags (and for mount the
 * filesystem type); the rest of @ARGV are the paths. It runs as root under
 * taint mode (-T), so perl ignores PERL5LIB, PERLLIB and PERL5OPT: nothing
 * from the environment is loaded into it (it loads no module at all: Config
 * alone cost 150 ms a process in the emulated guest). Every word is
 * therefore untainted by a match: the first ones must be plain words, the
 * paths are taken whole. The numbers are made numbers: syscall() passes a
 * string as a pointer (and a path, always a string, as one). perl running in
 * another ABI stops before any call, as its own ELF header tells: a 32-bit
 * or x32 build (class 1), or one for another machine (under binfmt
 * emulation); the same number means another syscall there. Output is
 * unbuffered: each line is the watchdog's progress.
 */
function head(name: string, words: string[]): string {
  return (
    String.raw`sub refuse{print STDERR "${name}: $_[0]\n";exit ${CARRIER_REFUSED}}$|=1;` +
    String.raw`my(${words.join(',')})=map{/\A([\w.-]+)\z/?$1:refuse("bad word $_")}splice(@ARGV,0,${words.length});$n+=0;$m+=0;$f+=0;` +
    String.raw`open(my$e,'<','/proc/self/exe')or refuse("cannot open perl's ELF header: $!");sysread($e,my$h,20)==20 or refuse("cannot read perl's ELF header");` +
    String.raw`my($c,$d)=unpack('x4CC',$h);my$x=unpack($d==2?'n':'v',substr($h,18,2));` +
    String.raw`refuse("perl is built for ELF machine $x, class $c, not machine $m, class 2") unless substr($h,0,4)eq"\177ELF"&&$c==2&&$x==$m;`
  );
}

/**
 * umount2(2) per target, in order. Each target done is one line on stdout;
 * a failure is one line on stderr with its errno, and the rest are still
 * tried (a busy child leaves its parents busy; the executor then unmounts
 * what the mount table still shows one by one, which names it); exit 1.
 */
export const UMOUNT2_SCRIPT =
  head('umount2', ['$n', '$m', '$f']) +
  String.raw`my$r=0;for(@ARGV){($_)=/\A(.*)\z/s;if(syscall($n,$_,$f)==0){print "$_\n"}else{printf STDERR "umount2 %s: %s (errno %d)\n",$_,$!,$!;$r=1}}exit $r`;

/**
 * From this many pairs on, the mount2 one-liner forks once and the two
 * processes mount every other pair each, side by side: a snapshot mount is
 * mostly the kernel's CPU, and most machines have two cores or more. In the
 * emulated guest one level of 100 mounted 13% faster so, 2000 (beside 2000
 * mounted filesystems) 1.16-1.56 times as fast (docs/scale.md). Below it, one
 * process: a fork is not worth a handful of mounts.
 */
export const SPLIT_MOUNT_MIN = 32;

/**
 * mount(2) per source and target pair, without mount options (the data
 * pointer is NULL, as mount(8) passes for `-o ro`). Each target mounted is
 * one line on stdout. A level's pairs are independent (none lies inside
 * another's snapshot: that would be a later level), so from SPLIT_MOUNT_MIN
 * pairs on the process forks and parent and child mount every other pair
 * each, in order; both write to the same pipe, one line at a time, so the
 * watchdog sees each target, and a kill of the process group takes both. The
 * first failure in either half is one line on stderr with its errno and ends
 * that half; the parent waits for the child and exits 1 if either failed:
 * the run fails, and what was mounted is found in the mount table and
 * undone. If fork fails, the parent mounts every pair itself.
 */
export const MOUNT2_SCRIPT =
  head('mount2', ['$n', '$m', '$f', '$t']) +
  String.raw`refuse("a source without a target") if @ARGV%2;` +
  String.raw`my@q;push@q,[map{/\A(.*)\z/s;$1}splice(@ARGV,0,2)]while@ARGV;` +
  String.raw`my$k=@q>=${SPLIT_MOUNT_MIN}?fork:undef;my$w=defined$k?($k?0:1):2;my$r=0;` +
  String.raw`for my$i(0..$#q){next if$w<2&&$i%2!=$w;my($s,$p)=@{$q[$i]};if(syscall($n,$s,$p,$t,$f,0)==0){print "$p\n"}else{printf STDERR "mount2 %s at %s: %s (errno %d)\n",$s,$p,$!,$!;$r=1;last}}` +
  String.raw`exit $r unless$k;waitpid($k,0);exit(($r||$?)?1:0)`;

/** The argv that unmounts `targets` with umount2(2), or null where this architecture has no entry. */
export function umount2Argv(targets: readonly string[], arch: string = process.arch): string[] | null {
  const a = ARCH[arch];
  if (!a) return null;
  return ['perl', '-T', '-e', UMOUNT2_SCRIPT, '--', String(a.umount2), String(a.machine), String(UMOUNT_NOFOLLOW), ...targets];
}

/** The argv that mounts each `[source, target]` read-only as `fstype` with mount(2), or null where this architecture has no entry. */
export function mount2Argv(fstype: string, mounts: readonly (readonly [source: string, target: string])[], arch: string = process.arch): string[] | null {
  const a = ARCH[arch];
  if (!a) return null;
  return ['perl', '-T', '-e', MOUNT2_SCRIPT, '--', String(a.mount), String(a.machine), String(MS_RDONLY), fstype, ...mounts.flat()];
}

/** umount(8) over every target; -v reports each as it is unmounted, one line each (Linux and FreeBSD). */
export function umountVerboseArgv(targets: readonly string[]): string[] {
  return ['umount', '-v', ...targets];
}
