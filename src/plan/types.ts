// The plan's shapes: what the planner makes and the printer, the executor,
// the journal and recovery read. Apart from the planner, so the files that
// build parts of a plan (mounts, the destroy) need not import the planner.
import type { EngineCall, EngineContext, Engine, Layout, Probe, Retention, WritablePath } from '../engine/engine.js';
import type { Platform } from '../platform/platform.js';
import type { ExactDestroy } from '../zfs/destroy-program.js';
import type { Selection } from './select.js';
/** One change to the system, or a read between changes. */
export type Action =
  // input: written to its stdin (a channel program, plan/destroy-program.ts)
  | { kind: 'exec'; argv: string[]; mutates: boolean; input?: string }
  | { kind: 'mkdir'; path: string; mode: number }
  | { kind: 'rmdir'; path: string }
  // batch mounts: a mount table, written in-process (see plan/mounts.ts)
  | { kind: 'write'; path: string; mode: number; content: string };

export type Phase = 'snapshot' | 'hold' | 'inspect' | 'mkdir' | 'mount-table' | 'mount';

export interface Step {
  phase: Phase;
  do: Action;
  /** Pushed on the undo stack once `do` has succeeded (or, after a failure, when a check shows it partly happened). */
  undo?: { phase: 'umount' | 'rmdir' | 'release' | 'destroy'; action: Action; exact?: ExactDestroy };
  /** Journal detail: what this step creates. */
  detail?: Record<string, unknown>;
  /**
   * Runs beside the steps after it: started in turn, then the next step
   * starts at once; the executor waits for it before the backup. For steps
   * that nothing else in setup needs (the hold, the identity program).
   */
  beside?: true;
  /** A batch mount (plan/mounts.ts): its targets are checked, then each mount's undo journaled, before `do` runs. */
  batch?: {
    root: string;
    /** mount(8) over the level's table: run where `do`'s program is not installed. */
    fallback: string[];
    mounts: { target: string; dataset: string; source: string; undo: Action }[];
  };
}

export interface PoolSnapshots {
  pool: string;
  datasets: string[];
  /** The deepest dataset above all of them: `zfs hold -r`/`zfs release -r` of `${destroyRoot}@${snapshot}` reach them in one transaction. */
  destroyRoot: string;
}

export interface TreeMount {
  dataset: string;
  mountpoint: string;
  target: string;
}

/**
 * One engine call, computed once by the planner with its argv. The snapshot's
 * creation time is a slot in the argv (see engine.ts timeWord/fillTime) that
 * the executor fills once the snapshots exist.
 */
export interface BackupCall extends EngineCall {
  /** In a namespace: the folders the engine writes to, kept writable. */
  writable?: WritablePath[];
}

/** One repository's part of the run: its calls on the frozen tree, then its retention. */
export interface RepositoryRun {
  /** "default" for a job's one implicit repository. */
  name: string;
  /** Whether the configuration named it (else the job's env names the one repository). */
  configured: boolean;
  /** The engine's environment for it (the job's env with the repository's over it): secrets, never shown. */
  env: Record<string, string>;
  /** The backup to it: the engine's calls, in order. */
  calls: BackupCall[];
  /** After a successful backup to it: the retention's commands (none without a retention). */
  retention: string[][];
}

export interface Plan {
  runId: string;
  snapshot: string;
  owner: string;
  mountRoot: string;
  layout: Layout;
  engine: Engine;
  probe: Probe;
  stateDir: string;
  selection: Selection;
  pools: PoolSnapshots[];
  mounts: TreeMount[];
  steps: Step[];
  /** The backup, between setup and cleanup: each repository's calls, in order, on the same frozen tree with the same time. */
  repositories: RepositoryRun[];
  engineContext: Omit<EngineContext, 'time'>;
  /** Words before the engine's command that set its priority (nice, ionice; engine/priority.ts). */
  enginePrefix?: string[];
}

export interface PlanInput {
  selection: Selection;
  runId: string;
  snapshot: string;
  owner: string;
  mountRoot: string;
  mountRootExists: boolean;
  platform: Platform;
  engine: Engine;
  probe: Probe;
  stateDir: string;
  layout: Layout;
  command: string[];
  options: string[];
  /** The engine's environment (for the folders it writes to); none when omitted. */
  engineEnv?: NodeJS.ProcessEnv;
  /** The job's name: the job tag of every backup and the retention's scope; none: "default". */
  job?: string;
  /** Where the backup goes, in order, each with its environment; none: one implicit repository with engineEnv. */
  repositories?: { name: string; configured: boolean; env: Record<string, string> }[];
  /** The job's retention, applied to each repository after a successful backup to it. */
  retention?: Retention | null;
  /** This machine's host name (the retention's scope for engines that record it). */
  hostname?: string;
  /** This host's proof key (safety/proof.ts): each pool's snapshots carry the proof made with it. */
  proofKey?: Uint8Array | null;
  /** Words before the engine's command that set its priority (nice, ionice). */
  enginePrefix?: string[];
}
