// The parsed command line, as every command receives it.
import type { JobFlags } from '../config/job.js';

export type Mode = 'backup' | 'cleanup' | 'help' | 'version' | 'run' | 'config-check' | 'config-show' | 'jobs' | 'status' | 'schedule' | 'forget' | 'check' | 'exec' | 'restore';

export interface Options extends JobFlags {
  mode: Mode;
  /** Job names: `run [JOB...]`, `config show [JOB]`, `jobs [JOB...]`; `schedule ACTION [JOB]`. */
  names: string[];
  /** --config FILE, or null for the default path. */
  configFile: string | null;
  dryRun: boolean;
  json: boolean;
  verbosity: 0 | 1 | 2;
  /** Seconds to wait for another run's lock: 0 = do not wait. */
  wait: number;
  /** schedule show --cron. */
  cron: boolean;
  /** status --max-age DURATION: overrides every job's max_age. */
  maxAge: string | null;
  /** jobs --names: only the job names. */
  listNames: boolean;
  /** check --read-data[=PERCENT]: the share of the data read back; null: the structure only. */
  readData: number | null;
  /** exec, restore --repository NAME; null: the job's first. */
  repository: string | null;
  /** restore --snapshot ID; null: the job's newest. */
  snapshotId: string | null;
  /** restore --target DIR. */
  target: string | null;
  /** help: the command asked about (`help config show`, `run --help`); [] = the whole program. */
  topic: string[];
}
