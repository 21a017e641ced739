// What the executor's parts share: the context a run's apply is given, what it
// returns, and the undo stack's entries. Apart from the executor, so the mount
// phase and the mount check need not import it (nor it them both ways).
import type { Runner } from '../core/exec.js';
import type { Reporter } from '../core/report.js';
import type { Outcome } from '../engine/engine.js';
import type { Step } from '../plan/types.js';
import type { Platform } from '../platform/platform.js';
import type { Journal } from '../safety/journal.js';
import type { SnapshotId } from '../zfs/destroy-program.js';
import type { Interrupt } from './interrupt.js';

export interface ApplyContext {
  runner: Runner;
  reporter: Reporter;
  interrupt: Interrupt;
  journal: Journal | null;
  /** KOPIATOMIC_* variables for the engine. */
  env: Record<string, string>;
  /** Reads the mount table after a failed mount (default: the plan's platform). */
  platform?: Platform;
  /** Runs after the engine and before cleanup, while the snapshots are still mounted and held (verification). */
  afterBackup?: (result: ApplyResult) => Promise<void>;
}

export interface ApplyResult {
  setupError: Error | null;
  /** Seconds each phase took (setup, backup, verify, teardown), for the phases that ran. */
  durations?: Partial<Record<'setup' | 'backup' | 'verify' | 'teardown', number>>;
  /** null when the engine never ran. `outcome` is the worst repository's; `stdouts` the first repository's (the verification reads it). */
  backup: { outcome: Outcome; exitCodes: (number | null)[]; /* for the verification: */ stdouts?: string[]; repositories?: RepositoryOutcome[] } | null;
  cleanupFailures: string[];
  /** Repositories whose retention failed after a successful backup (filled after cleanup: execute/retention-phase.ts). */
  retentionFailures?: string[];
  /** Mounts of this run that were gone when the engine finished ("TARGET (SOURCE)"): the backup failed. */
  lostMounts?: string[];
  createtxg: Record<string, string[]>;
  creation: Date | null;
  /** Each snapshot's identity, from the listing after the snapshot: the destroy follows it. */
  ids?: Record<string, SnapshotId>;
}

/** How the backup to one repository went, and its retention after it. */
export interface RepositoryOutcome {
  name: string;
  outcome: Outcome;
  exitCodes: (number | null)[];
  stdouts: string[];
  /** Why it failed without the engine's own exit code (not started). */
  error?: string;
  /** The retention after it: null = none to apply; skipped = not applied (the backup or its verification did not succeed). */
  retention?: { status: 'ok' | 'failed' | 'skipped'; message?: string } | null;
}

const OUTCOME_ORDER: Outcome[] = ['failed', 'partial', 'ok'];

/** The worse of two outcomes: failed, then partial, then ok. */
export function worseOutcome(a: Outcome, b: Outcome): Outcome {
  return OUTCOME_ORDER.indexOf(a) <= OUTCOME_ORDER.indexOf(b) ? a : b;
}

export interface UndoEntry {
  step: Step;
  seq: number;
  /** What undoes it: the step's own undo, or the part of it that happened. */
  undo: NonNullable<Step['undo']>;
}
