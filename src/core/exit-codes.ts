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
  // verify (issue 13)
  | 'verify-failed'
  | 'verify-error';

// ---- verify (issue 13): a mismatch fails the backup (1); a verification
// that could not run exits 8 (the backup itself succeeded).
export const EXIT_VERIFY_FAILED = 1;
export const EXIT_VERIFY_ERROR = 8;
// ---- end verify

const SIGNAL_NUMBERS: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGTERM: 15 };

/** 128 + signal number, as shells report a process ended by a signal. */
export function interruptedCode(signal: string): number {
  return 128 + (SIGNAL_NUMBERS[signal] ?? 15);
}
