// One exit status for the whole run. Leftovers outrank everything else: a
// run that left something behind must say so even if the backup worked.
import { EXIT, interruptedCode, type Status } from '../core/exit-codes.js';
import type { ApplyResult } from './apply.js';

export function runStatus(r: ApplyResult, signal: string | null): { status: Status; code: number } {
  if (r.cleanupFailures.length) return { status: 'cleanup-incomplete', code: EXIT.cleanupIncomplete };
  if (signal) return { status: 'interrupted', code: interruptedCode(signal) };
  if (r.setupError) return { status: 'setup-failed', code: EXIT.setupFailed };
  if (!r.backup || r.backup.outcome === 'failed') return { status: 'backup-failed', code: EXIT.backupFailed };
  if (r.backup.outcome === 'partial') return { status: 'partial', code: EXIT.partial };
  return { status: 'ok', code: EXIT.ok };
}
