// The one status module. Every outcome has its own exit code (README.md
// documents the same table); every error of ours carries its status; and one
// status for the whole run is computed once, after the post hook, by
// finalStatus(): the summary event, the post hook's variables and the exit
// code all come from it, so a status always travels with its own code.
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
  /** A zfs, zpool, mount or umount command did not finish (or a batch made no progress) within --zfs-timeout and was killed. */
  timedOut: 9,
  /** Every backup succeeded, but a repository's retention (forget, kopia's policy) failed: old snapshots stay. */
  retentionFailed: 10,
  internal: 70,
  /** 128 + SIGINT: `run` stopped by a signal before any job started (a signal's own code is interruptedCode). */
  interrupted: 130,
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
  | 'timed-out'
  | 'retention-failed';

// A verification mismatch fails the backup (1); a verification that could
// not run exits 8 (the backup itself succeeded, but is not proven).
export const EXIT_VERIFY_FAILED = EXIT.backupFailed;
export const EXIT_VERIFY_ERROR = EXIT.verifyError;

export interface StatusCode {
  status: Status;
  code: number;
}

const SIGNAL_NUMBERS: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGTERM: 15 };

/** 128 + signal number, as shells report a process ended by a signal. */
export function interruptedCode(signal: string): number {
  return 128 + (SIGNAL_NUMBERS[signal] ?? 15);
}

/**
 * The worst of several statuses (`run` with several jobs), by this order:
 * internal error, cleanup incomplete, interrupted, usage, locked, setup
 * failed, backup failed (a verification mismatch too), partial, verify error,
 * retention failed, post hook failed, ok; a zfs command that timed out ranks just after locked.
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
  'retention-failed',
  'post-hook-failed',
  'ok',
];

export function worstOf<T extends { status: Status }>(list: T[]): T | undefined {
  return [...list].sort((a, b) => PRECEDENCE.indexOf(a.status) - PRECEDENCE.indexOf(b.status))[0];
}

/**
 * What every error of ours is: it carries the status it stands for and its
 * exit code (core/errors.ts), so errorStatus() reads them instead of asking
 * which class the error is.
 */
export abstract class StatusError extends Error {
  abstract readonly status: Status;
  abstract readonly exitCode: number;
}

/** The status an error thrown outside the executor stands for: its own, or internal-error for anything not ours (a bug). */
export function errorStatus(e: unknown): StatusCode {
  if (e instanceof StatusError) return { status: e.status, code: e.exitCode };
  return { status: 'internal-error', code: EXIT.internal };
}

/** What the executor did, as far as the status is concerned (execute/context.ts ApplyResult). */
export interface ExecutorFacts {
  setupError: Error | null;
  /** null when the engine never ran. */
  backup: { outcome: 'ok' | 'partial' | 'failed' } | null;
  cleanupFailures: string[];
  /** Repositories whose retention failed after their backup succeeded. */
  retentionFailures?: string[];
}

// Leftovers outrank everything else: a run that left something behind must
// say so even if the backup worked.
export function runStatus(r: ExecutorFacts, signal: string | null): StatusCode {
  if (r.cleanupFailures.length) return { status: 'cleanup-incomplete', code: EXIT.cleanupIncomplete };
  if (signal) return { status: 'interrupted', code: interruptedCode(signal) };
  if (r.setupError && errorStatus(r.setupError).status === 'timed-out') return { status: 'timed-out', code: EXIT.timedOut };
  if (r.setupError) return { status: 'setup-failed', code: EXIT.setupFailed };
  if (!r.backup || r.backup.outcome === 'failed') return { status: 'backup-failed', code: EXIT.backupFailed };
  if (r.backup.outcome === 'partial') return { status: 'partial', code: EXIT.partial };
  return { status: 'ok', code: EXIT.ok };
}

/** What a verification found, as far as the status is concerned (verify/result.ts VerifyResult). */
export interface VerifyFacts {
  status: 'ok' | 'failed' | 'error' | 'skipped';
}

/**
 * How a verification changes the run's exit status. A mismatch makes the
 * backup a failed one (exit 1, verify-failed). A verification that could not
 * run keeps the backup's own outcome visible (the summary's backupStatus is
 * "ok") but exits 8, verify-error: the backup was asked to be proven and was
 * not. Leftovers, an interruption, setup and the backup's own failure keep
 * their codes (runStatus decides those first); verification ran only after a
 * backup that succeeded.
 */
export function withVerify(s: StatusCode, v: VerifyFacts | null): StatusCode {
  if (!v || s.status !== 'ok') return s;
  if (v.status === 'failed') return { status: 'verify-failed', code: EXIT_VERIFY_FAILED };
  if (v.status === 'error') return { status: 'verify-error', code: EXIT_VERIFY_ERROR };
  return s;
}

/**
 * A retention that failed after backups that all succeeded: the backups are
 * saved, but old snapshots pile up, which an operator must hear about, so the
 * run exits 10 (retention-failed). Any worse status stays.
 */
export function withRetention(s: StatusCode, r: Pick<ExecutorFacts, 'retentionFailures'>): StatusCode {
  return s.status === 'ok' && r.retentionFailures?.length ? { status: 'retention-failed', code: EXIT.retentionFailed } : s;
}

/** Everything that decides a command's status. */
export interface RunFacts {
  /** What the executor did, when it ran. */
  result?: ExecutorFacts | null;
  /** Thrown outside the executor (bad input, the pre hook, a bug). */
  error?: unknown;
  signal: string | null;
  /** Things a cleanup-only command (kopiatomic cleanup) could not undo. */
  leftovers?: string[];
  /** The verification of the backup (--verify), when it was asked for. */
  verify?: VerifyFacts | null;
  /** The post hook's exit code; null when it did not run (or has not yet). */
  postHook?: number | null;
}

/**
 * The one status function. Precedence: an internal error, then leftovers
 * (cleanup-incomplete), an interruption, an error's own status, the
 * executor's result; a failing post hook turns only an otherwise `ok` run
 * into post-hook-failed (7) and keeps any other status.
 */
export function finalStatus(f: RunFacts): StatusCode {
  let s: StatusCode;
  const err = f.error !== undefined && f.error !== null ? errorStatus(f.error) : null;
  if (err?.status === 'internal-error') s = err;
  else if (f.result?.cleanupFailures.length || f.leftovers?.length) s = { status: 'cleanup-incomplete', code: EXIT.cleanupIncomplete };
  else if (f.signal) s = { status: 'interrupted', code: interruptedCode(f.signal) };
  else if (err) s = err;
  else if (f.result) s = withRetention(withVerify(runStatus(f.result, null), f.verify ?? null), f.result);
  else s = { status: 'ok', code: EXIT.ok };
  if (f.postHook !== null && f.postHook !== undefined && f.postHook !== 0 && s.code === EXIT.ok) s = { status: 'post-hook-failed', code: EXIT.postHookFailed };
  return s;
}
