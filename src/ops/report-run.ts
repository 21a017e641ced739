// The two calls the run's lifecycle makes: one at the start (ping start), one
// at the end (status file, metrics file, ping the result). Neither throws:
// monitoring must never change a backup's exit code; problems are warnings.
import { hostname } from 'node:os';
import { writeMetrics } from './metrics.js';
import { ping, type PingOptions } from './ping.js';
import { succeeded, type RunRecord } from './run-record.js';
import { defaultStatusFile, recordRun } from './status-file.js';

export interface OpsOptions {
  /** The job's name; "default" for the flag form. */
  job: string;
  pingUrl?: string | null;
  metricsFile?: string | null;
  /** Default: defaultStatusFile(); null turns the status file off (tests, dry runs). */
  statusFile?: string | null;
  warn: (message: string) => void;
  /** For tests: ping timing. */
  ping?: Partial<Omit<PingOptions, 'warn'>>;
}

export function thisHost(): string {
  return hostname();
}

/** At the start of a run, once the lock is held: the start ping. */
export async function reportRunStart(o: OpsOptions): Promise<void> {
  if (!o.pingUrl) return;
  await ping(o.pingUrl, 'start', { job: o.job }, { ...o.ping, warn: o.warn });
}

/**
 * At the end of a run (after cleanup and the post hook, with the final exit
 * code): records the run in the status file, rewrites the job's metrics, and
 * pings success or failure with the log's last lines. Returns the record as
 * stored (with the last success time carried over).
 */
export async function reportRunEnd(o: OpsOptions, record: RunRecord, logTail = ''): Promise<RunRecord> {
  let stored = record;
  const statusFile = o.statusFile === undefined ? defaultStatusFile() : o.statusFile;
  if (statusFile) {
    try {
      stored = await recordRun(statusFile, record);
    } catch (e) {
      o.warn(`could not write the status file ${statusFile}: ${(e as Error).message}`);
    }
  }
  if (o.metricsFile) {
    try {
      await writeMetrics(o.metricsFile, stored);
    } catch (e) {
      o.warn(`could not write the metrics file ${o.metricsFile}: ${(e as Error).message}`);
    }
  }
  if (o.pingUrl) {
    const ok = succeeded(record.status);
    const secs = Math.round((Date.parse(record.end) - Date.parse(record.start)) / 1000);
    await ping(
      o.pingUrl,
      ok ? 'success' : 'fail',
      {
        job: record.job,
        exitCode: record.exitCode,
        status: record.status,
        message: `kopiatomic ${record.job} on ${record.host}: ${record.status} (exit ${record.exitCode}) after ${secs}s`,
        log: logTail,
      },
      { ...o.ping, warn: o.warn },
    );
  }
  return stored;
}
