// Where programs are found. kopiatomic runs unattended: cron on Debian gives
// PATH=/usr/bin:/bin (no /usr/sbin, where zfs lives), FreeBSD's cron leaves
// out /usr/local/*. So the caller's PATH comes first (a user's choice of
// program wins) and the system's own folders are appended where missing.
//
// It is done ONCE, at startup, on process.env.PATH rather than per spawn:
// the engine, the hooks (shell lines that may call zfs themselves) and
// ns-exec inherit the environment, so they all find what we find, and
// which() (the "is it installed?" checks) and spawn() can never disagree.

const SYSTEM_DIRS: Record<string, readonly string[]> = {
  linux: ['/usr/sbin', '/sbin', '/usr/bin', '/bin'],
  freebsd: ['/usr/sbin', '/sbin', '/usr/bin', '/bin', '/usr/local/sbin', '/usr/local/bin'],
};

/** The caller's PATH with the platform's system folders appended where missing. */
export function systemPath(path: string | undefined, platform: string = process.platform): string {
  const dirs = (path ?? '').split(':').filter(Boolean);
  const have = new Set(dirs.map((d) => d.replace(/(.)\/+$/, '$1')));
  for (const d of SYSTEM_DIRS[platform] ?? SYSTEM_DIRS['linux']!) if (!have.has(d)) dirs.push(d);
  return dirs.join(':');
}

/** Extends process.env.PATH once; harmless to call again. */
export function useSystemPath(): void {
  process.env['PATH'] = systemPath(process.env['PATH']);
}
