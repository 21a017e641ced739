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
  | 'internal-error';

const SIGNAL_NUMBERS: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGTERM: 15 };

/** 128 + signal number, as shells report a process ended by a signal. */
export function interruptedCode(signal: string): number {
  return 128 + (SIGNAL_NUMBERS[signal] ?? 15);
}

/**
 * The worst of several statuses (`run` with several jobs), by this order:
 * internal error, cleanup incomplete, interrupted, usage, locked, setup
 * failed, backup failed, partial, post hook failed, ok.
 */
export const PRECEDENCE: Status[] = [
  'internal-error',
  'cleanup-incomplete',
  'interrupted',
  'usage',
  'locked',
  'setup-failed',
  'backup-failed',
  'partial',
  'post-hook-failed',
  'ok',
];

export function worstOf<T extends { status: Status }>(list: T[]): T | undefined {
  return [...list].sort((a, b) => PRECEDENCE.indexOf(a.status) - PRECEDENCE.indexOf(b.status))[0];
}
