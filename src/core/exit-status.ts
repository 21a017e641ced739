// Every outcome has its own exit code; README.md documents the same table.
export const EXIT = {
  ok: 0,
  backupFailed: 1,
  usage: 2,
  partial: 3,
  setupFailed: 4,
  cleanupIncomplete: 5,
  locked: 6,
  postHookFailed: 7,
  /** The backup succeeded, but --verify could not run (no space, engine error): it is not proven. */
  verifyError: 8,
  /** A zfs, zpool, mount or umount command did not finish within --zfs-timeout and was killed. */
  timedOut: 9,
  internal: 70,
} as const;

export type Status =
  | 'ok'
  | 'partial'
  | 'backup-failed'
  | 'setup-failed'
  | 'cleanup-incomplete'
  | 'interrupted'
  | 'locked'
  | 'usage'
  | 'post-hook-failed'
  | 'internal-error'
  | 'verify-failed'
  | 'verify-error'
  | 'timed-out';

// A verification mismatch fails the backup (1); a verification that could
// not run exits 8 (the backup itself succeeded, but is not proven).
export const EXIT_VERIFY_FAILED = EXIT.backupFailed;
export const EXIT_VERIFY_ERROR = EXIT.verifyError;

const SIGNAL_NUMBERS: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGTERM: 15 };

/** 128 + signal number, as shells report a process ended by a signal. */
export function interruptedCode(signal: string): number {
  return 128 + (SIGNAL_NUMBERS[signal] ?? 15);
}

/**
 * The worst of several statuses (`run` with several jobs), by this order:
 * internal error, cleanup incomplete, interrupted, usage, locked, setup
 * failed, backup failed (a verification mismatch too), partial, verify error,
 * post hook failed, ok; a zfs command that timed out ranks just after locked.
 */
export const PRECEDENCE: Status[] = [
  'internal-error',
  'cleanup-incomplete',
  'interrupted',
  'usage',
  'locked',
  'timed-out',
  'setup-failed',
  'backup-failed',
  'verify-failed',
  'partial',
  'verify-error',
  'post-hook-failed',
  'ok',
];

export function worstOf<T extends { status: Status }>(list: T[]): T | undefined {
  return [...list].sort((a, b) => PRECEDENCE.indexOf(a.status) - PRECEDENCE.indexOf(b.status))[0];
}
