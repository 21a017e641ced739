// What one run did, as the status file, the metrics and the pings report it.
// Built by the lifecycle from the run's result; the engine figures are read
// by each engine from its own machine output (Engine.figures); the
// verification counts are filled by the verify step.
import { hostname } from 'node:os';
import type { Status } from '../core/exit-status.js';
import type { EngineFigures } from '../engine/engine.js';

export type Phase = 'setup' | 'backup' | 'verify' | 'teardown';

/** What comparing the backup with the frozen tree found (filled by verify). */
export interface VerifyFigures {
  filesCompared: number;
  bytesCompared: number;
  differences: number;
}

export interface RunRecord {
  /** The job's name; "default" for the flag form. */
  job: string;
  host: string;
  runId?: string;
  /** ISO 8601 times. */
  start: string;
  end: string;
  status: Status;
  exitCode: number;
  /** Seconds per phase, for the phases that ran. */
  durations: Partial<Record<Phase, number>>;
  datasets: string[];
  pools: string[];
  snapshot?: string;
  /** Things left behind (cleanup failures); 0 on a clean run. */
  leftovers: number;
  engine?: EngineFigures;
  verify?: VerifyFigures;
  /** The last successful run's end (ISO), carried from run to run. */
  lastSuccess?: string;
  /** A short reason when the run failed. */
  error?: string;
  /** The job's max_age when it ran, so `status` can judge the age without reading the configuration. */
  maxAgeSeconds?: number;
}

/** Statuses where the backup was saved and complete. */
export function succeeded(status: Status): boolean {
  return status === 'ok';
}

export interface RecordInput {
  job: string;
  start: Date;
  end: Date;
  status: Status;
  exitCode: number;
  runId?: string;
  snapshot?: string;
  datasets?: string[];
  pools?: string[];
  leftovers?: number;
  durations?: Partial<Record<Phase, number>>;
  engine?: EngineFigures;
  verify?: VerifyFigures;
  error?: string;
  maxAgeSeconds?: number;
}

/** A RunRecord from what the lifecycle knows at the end of a run. */
export function buildRunRecord(i: RecordInput): RunRecord {
  return {
    job: i.job,
    host: hostname(),
    runId: i.runId,
    start: i.start.toISOString(),
    end: i.end.toISOString(),
    status: i.status,
    exitCode: i.exitCode,
    durations: i.durations ?? {},
    datasets: i.datasets ?? [],
    pools: i.pools ?? [],
    snapshot: i.snapshot,
    leftovers: i.leftovers ?? 0,
    engine: i.engine,
    verify: i.verify,
    error: i.error,
    ...(i.maxAgeSeconds !== undefined ? { maxAgeSeconds: i.maxAgeSeconds } : {}),
  };
}
