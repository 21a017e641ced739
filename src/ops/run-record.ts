// What one run did, as the status file, the metrics and the pings report it.
// Built by the lifecycle from the run's result; the engine figures are read
// from the engine's own machine output (restic --json summary, kopia --json
// manifests); the verification counts are filled by the verify step.
import { hostname } from 'node:os';
import type { Status } from '../core/exit-status.js';

export type Phase = 'setup' | 'backup' | 'verify' | 'teardown';

/** Figures the engine reported about the backup; any may be missing. */
export interface EngineFigures {
  engine: 'kopia' | 'restic' | 'command';
  /** restic: the summary's snapshot_id; kopia: the manifest id(s), comma separated. */
  snapshotId?: string;
  filesNew?: number;
  filesChanged?: number;
  filesUnmodified?: number;
  /** Files in the snapshot (kopia stats.fileCount; restic total_files_processed). */
  files?: number;
  /** Bytes read from the source (restic total_bytes_processed; kopia stats.totalSize). */
  bytesProcessed?: number;
  /** Bytes added to the repository (restic data_added). */
  bytesAdded?: number;
  /** Entries the engine could not read (kopia stats.errorCount / rootEntry.summ.numFailed). */
  errors?: number;
}

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

const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

/**
 * restic backup --json: one JSON object per line; the last has
 * message_type "summary" (files_new, files_changed, files_unmodified,
 * total_files_processed, total_bytes_processed, data_added, snapshot_id).
 */
export function resticFigures(stdout: string): EngineFigures | undefined {
  let found: EngineFigures | undefined;
  for (const line of stdout.split('\n')) {
    const t = line.trim();
    if (!t.startsWith('{')) continue;
    let m: Record<string, unknown>;
    try {
      m = JSON.parse(t) as Record<string, unknown>;
    } catch {
      continue;
    }
    if (m['message_type'] !== 'summary') continue;
    found = {
      engine: 'restic',
      snapshotId: typeof m['snapshot_id'] === 'string' ? m['snapshot_id'] : undefined,
      filesNew: num(m['files_new']),
      filesChanged: num(m['files_changed']),
      filesUnmodified: num(m['files_unmodified']),
      files: num(m['total_files_processed']),
      bytesProcessed: num(m['total_bytes_processed']),
      bytesAdded: num(m['data_added']),
    };
  }
  return found;
}

/**
 * kopia snapshot create --json: one manifest per source, one per line; its
 * stats hold fileCount, totalSize, errorCount; rootEntry.summ.numFailed counts
 * failed entries. Several manifests (the paths layout) are summed.
 */
export function kopiaFigures(stdout: string): EngineFigures | undefined {
  const ids: string[] = [];
  let files: number | undefined;
  let bytes: number | undefined;
  let errors: number | undefined;
  const add = (a: number | undefined, b: number | undefined) => (b === undefined ? a : (a ?? 0) + b);
  for (const line of stdout.split('\n')) {
    const t = line.trim();
    if (!t.startsWith('{')) continue;
    let m: { id?: unknown; stats?: Record<string, unknown>; rootEntry?: { summ?: Record<string, unknown> } };
    try {
      m = JSON.parse(t) as typeof m;
    } catch {
      continue;
    }
    if (typeof m.id !== 'string') continue;
    ids.push(m.id);
    files = add(files, num(m.stats?.['fileCount']) ?? num(m.rootEntry?.summ?.['files']));
    bytes = add(bytes, num(m.stats?.['totalSize']) ?? num(m.rootEntry?.summ?.['size']));
    const e = Math.max(num(m.stats?.['errorCount']) ?? 0, num(m.rootEntry?.summ?.['numFailed']) ?? 0);
    errors = add(errors, e);
  }
  return ids.length ? { engine: 'kopia', snapshotId: ids.join(','), files, bytesProcessed: bytes, errors } : undefined;
}

/** The engine's figures from its captured stdout, by engine; undefined when it reported none. */
export function engineFigures(engine: 'kopia' | 'restic' | 'command', stdout: string): EngineFigures | undefined {
  return engine === 'restic' ? resticFigures(stdout) : engine === 'kopia' ? kopiaFigures(stdout) : undefined;
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
