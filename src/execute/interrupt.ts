// SIGINT, SIGTERM and SIGHUP never kill kopiatomic outright: they are
// forwarded to the engine, setup stops at the next step, and cleanup runs.
//
// Only the engine and the hooks get our signals, on purpose: they run in our
// process group (a terminal's Ctrl-C reaches them anyway) and we forward the
// signal to them. Cleanup's own commands (zfs, umount) run in their own
// session (core/exec.ts run()), so a second Ctrl-C cannot kill them halfway.
import type { ChildProcess } from 'node:child_process';
import type { Reporter } from '../core/report.js';
import { KILL_AFTER_DEFAULT } from '../config/job.js';

export const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

/** How long a child that got our signal may take to exit before SIGKILL, unless set (--kill-after). */
export const DEFAULT_KILL_AFTER_MS = KILL_AFTER_DEFAULT * 1000;

const ignore = () => {};

let currentKillAfterMs = DEFAULT_KILL_AFTER_MS;

/** The grace period of this process's Interrupt (ns-exec applies it to the engine it starts). */
export function killAfterMs(): number {
  return currentKillAfterMs;
}

export class Interrupt {
  signal: NodeJS.Signals | null = null;
  private child: ChildProcess | null = null;
  private killTimer: NodeJS.Timeout | null = null;
  private readonly handlers = new Map<NodeJS.Signals, () => void>();
  private readonly waiters = new Set<(sig: NodeJS.Signals) => void>();

  constructor(
    private readonly reporter: Reporter,
    private killAfterMs: number = DEFAULT_KILL_AFTER_MS,
  ) {
    currentKillAfterMs = killAfterMs;
  }

  /** Each job may set its own grace period (config kill_after). */
  setKillAfter(seconds: number): void {
    this.killAfterMs = seconds * 1000;
    currentKillAfterMs = this.killAfterMs;
  }

  install(): void {
    for (const sig of SIGNALS) {
      const h = () => this.receive(sig);
      this.handlers.set(sig, h);
      process.on(sig, h);
    }
  }

  uninstall(): void {
    for (const [sig, h] of this.handlers) process.off(sig, h);
    this.handlers.clear();
    this.clearKillTimer();
    // After a signal the run is over and is exiting with 128 + N: a late
    // Ctrl-C of the same burst must not kill it by default action now and
    // change that exit status.
    if (this.signal) for (const sig of SIGNALS) process.on(sig, ignore);
  }

  /** Called once with the first signal (at once if one already came): e.g. to stop waiting for a lock. */
  onSignal(f: (sig: NodeJS.Signals) => void): () => void {
    if (this.signal) {
      f(this.signal);
      return () => {};
    }
    this.waiters.add(f);
    return () => this.waiters.delete(f);
  }

  /** For tests, and for code that must act as if the signal had arrived. */
  receive(sig: NodeJS.Signals): void {
    if (!this.signal) {
      this.signal = sig;
      this.reporter.warn(`${sig} received: stopping, then cleaning up`);
      for (const f of [...this.waiters]) f(sig);
      this.waiters.clear();
    } else {
      this.reporter.warn(`${sig} received again: still cleaning up, so nothing is left behind`);
    }
    this.forward(sig);
  }

  private running(c: ChildProcess | null): c is ChildProcess {
    return Boolean(c && c.pid !== undefined && c.exitCode === null && c.signalCode === null);
  }

  private forward(sig: NodeJS.Signals): void {
    const c = this.child;
    if (!this.running(c)) return;
    try {
      c.kill(sig);
    } catch {
      /* already gone */
    }
    // A child that ignores the signal must not hold the run (and its
    // snapshots) forever: SIGKILL after the grace period.
    if (!this.killTimer && this.killAfterMs > 0) {
      this.killTimer = setTimeout(() => {
        this.killTimer = null;
        if (this.child === c && this.running(c)) {
          this.reporter.warn(`${c.spawnfile} did not exit ${Math.round(this.killAfterMs / 1000)} s after ${sig}: killing it (SIGKILL)`);
          try {
            c.kill('SIGKILL');
          } catch {
            /* gone meanwhile */
          }
        }
      }, this.killAfterMs);
      this.killTimer.unref();
    }
  }

  private clearKillTimer(): void {
    if (this.killTimer) clearTimeout(this.killTimer);
    this.killTimer = null;
  }

  /**
   * The engine or hook now running: signals go to it. `stopIfSignalled`:
   * a signal that came before it started is passed on at once (the engine,
   * the pre hook). The post hook passes false: it must run to completion and
   * report an interrupted run; only a signal that arrives while it runs
   * reaches it.
   */
  setChild(child: ChildProcess | null, stopIfSignalled = true): void {
    this.clearKillTimer();
    this.child = child;
    if (child && this.signal && stopIfSignalled) this.forward(this.signal);
  }
}
