// How a verification changes the run's exit status. A mismatch makes the
// backup a failed one (exit 1, verify-failed). A verification that could not
// run keeps the backup's own outcome visible (the summary's backupStatus is
// "ok") but exits 8, verify-error: the backup was asked to be proven and was
// not. Leftovers, an interruption, setup and the backup's own failure keep
// their codes (runStatus decides those first); verification ran only after a
// backup that succeeded.
import { EXIT_VERIFY_FAILED, EXIT_VERIFY_ERROR, type Status } from '../core/exit-status.js';
import type { VerifyResult } from './result.js';

export function withVerify(s: { status: Status; code: number }, v: VerifyResult | null): { status: Status; code: number } {
  if (!v || s.status !== 'ok') return s;
  if (v.status === 'failed') return { status: 'verify-failed', code: EXIT_VERIFY_FAILED };
  if (v.status === 'error') return { status: 'verify-error', code: EXIT_VERIFY_ERROR };
  return s;
}
