// One exit status for the whole run, computed once, after the post hook, by
// finalStatus(): the summary event, the post hook's variables and the exit
// code all come from it, so a status always travels with its own code.
// Leftovers outrank everything else: a run that left something behind must
// say so even if the backup worked.
import { CommandError, CommandTimeoutError, InterruptedError, LockedError, SetupError, UsageError } from '../core/errors.js';
import { EXIT, interruptedCode, type Status } from '../core/exit-status.js';
import type { ApplyResult } from './context.js';
import { withVerify } from '../verify/outcome.js';
import type { VerifyResult } from '../verify/result.js';

export interface StatusCode {
  status: Status;
  code: number;
}

export function runStatus(r: ApplyResult, signal: string | null): StatusCode {
  if (r.cleanupFailures.length) return { status: 'cleanup-incomplete', code: EXIT.cleanupIncomplete };
  if (signal) return { status: 'interrupted', code: interruptedCode(signal) };
  if (r.setupError instanceof CommandTimeoutError) return { status: 'timed-out', code: EXIT.timedOut };
  if (r.setupError) return { status: 'setup-failed', code: EXIT.setupFailed };
  if (!r.backup || r.backup.outcome === 'failed') return { status: 'backup-failed', code: EXIT.backupFailed };
  if (r.backup.outcome === 'partial') return { status: 'partial', code: EXIT.partial };
  return { status: 'ok', code: EXIT.ok };
}

/** The status an error thrown outside the executor stands for: always a pair. */
export function errorStatus(e: unknown): StatusCode {
  if (e instanceof UsageError) return { status: 'usage', code: EXIT.usage };
  if (e instanceof InterruptedError) return { status: 'interrupted', code: e.exitCode };
  // A program that is not installed (zfs on a machine without ZFS) is bad input, like a missing engine.
  if (e instanceof CommandError && e.reason === 'program-missing') return { status: 'usage', code: EXIT.usage };
  if (e instanceof LockedError) return { status: 'locked', code: EXIT.locked };
  if (e instanceof CommandTimeoutError) return { status: 'timed-out', code: EXIT.timedOut };
  if (e instanceof SetupError || e instanceof CommandError) return { status: 'setup-failed', code: EXIT.setupFailed };
  return { status: 'internal-error', code: EXIT.internal };
}

/** Everything that decides a command's status. */
export interface RunFacts {
  /** What the executor did, when it ran. */
  result?: ApplyResult | null;
  /** Thrown outside the executor (bad input, the pre hook, a bug). */
  error?: unknown;
  signal: string | null;
  /** Things a cleanup-only command (kopiatomic cleanup) could not undo. */
  leftovers?: string[];
  /** The verification of the backup (--verify), when it was asked for. */
  verify?: VerifyResult | null;
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
  else if (f.result) s = withVerify(runStatus(f.result, null), f.verify ?? null);
  else s = { status: 'ok', code: EXIT.ok };
  if (f.postHook !== null && f.postHook !== undefined && f.postHook !== 0 && s.code === EXIT.ok) s = { status: 'post-hook-failed', code: EXIT.postHookFailed };
  return s;
}
