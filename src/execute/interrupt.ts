// SIGINT, SIGTERM and SIGHUP never kill kopiatomic outright: they are
// forwarded to the engine, setup stops at the next step, and cleanup runs.
import type { ChildProcess } from 'node:child_process';
import type { Reporter } from '../core/report.js';

export const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

export class Interrupt {
  signal: NodeJS.Signals | null = null;
  private child: ChildProcess | null = null;
  private readonly handlers = new Map<NodeJS.Signals, () => void>();

  constructor(private readonly reporter: Reporter) {}

  install(): void {
    for (const sig of SIGNALS) {
      const h = () => this.receive(sig);
      this.handlers.set(sig, h);
      process.on(sig, h);
    }
  }

  uninstall(): void {
    for (const [sig, h] of this.handlers) process.off(sig, h);
  }

  private receive(sig: NodeJS.Signals): void {
    if (!this.signal) {
      this.signal = sig;
      this.reporter.warn(`${sig} received: stopping, then cleaning up`);
    } else {
      this.reporter.warn(`${sig} received again: still cleaning up, so nothing is left behind`);
    }
    if (this.child && this.child.exitCode === null) this.child.kill(sig);
  }

  /** The engine (or hook) now running: signals go to it first. */
  setChild(child: ChildProcess | null): void {
    this.child = child;
    if (child && this.signal) child.kill(this.signal);
  }
}
