// What one run did, as the status file, the metrics and the pings report it.
// Built by the lifecycle from the run's result; the engine figures are read
// by each engine from its own machine output (Engine.figures); the
// verification counts are filled by the verify step.
import { hostname } from 'node:os';
import { runStatus, withRetention, type Status } from '../core/exit-status.js';
import type { Engine, EngineFigures } from '../engine/engine.js';
import type { RepositoryOutcome } from '../execute/context.js';

export type Phase = 'setup' | 'backup' | 'verify' | 'teardown';

/** What comparing the backup with the frozen tree found (filled by verify). */
export interface VerifyFigures {
  filesCompared: number;
  bytesCompared: number;
  differences: number;
}

/** How the backup to one repository went (its status as a run's would be), and its retention. */
export interface RepositoryRecord {
  name: string;
  /** Named by the configuration; false for a job's one implicit repository ("default"). */
  configured: boolean;
  status: Status;
  exitCodes: (number | null)[];
  engine?: EngineFigures;
  /** The retention after the backup: none when the job has no retention. */
  retention?: 'ok' | 'failed' | 'skipped';
  /** Why it failed, when the engine's exit code does not say (not started, the retention's error). */
  error?: string;
}

/** Each repository's record, in the plan's order, from the executor's outcomes. */
export function repositoryRecords(repos: { repositories: { name: string; configured: boolean }[] }, outcomes: RepositoryOutcome[], engine: Pick<Engine, 'figures'>): RepositoryRecord[] {
  return outcomes.map((o, k) => {
    const figures = engine.figures(o.stdouts.join('\n'));
    const status = withRetention(runStatus({ setupError: null, backup: { outcome: o.outcome }, cleanupFailures: [] }, null), {
      retentionFailures: o.retention?.status === 'failed' ? [o.retention.message ?? ''] : [],
    }).status;
    const error = o.error ?? (o.retention?.status === 'failed' ? o.retention.message : undefined);
    return {
      name: o.name,
      configured: repos.repositories[k]?.configured ?? false,
      status,
      exitCodes: o.exitCodes,
      ...(figures ? { engine: figures } : {}),
      ...(o.retention ? { retention: o.retention.status } : {}),
      ...(error ? { error } : {}),
    };
  });
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
  /** Each repository's backup (the first one's figures are also `engine`). */
  repositories?: RepositoryRecord[];
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
  repositories?: RepositoryRecord[];
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
    ...(i.repositories ? { repositories: i.repositories } : {}),
    verify: i.verify,
    error: i.error,
    ...(i.maxAgeSeconds !== undefined ? { maxAgeSeconds: i.maxAgeSeconds } : {}),
  };
}
