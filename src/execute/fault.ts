// TEST ONLY: fault injection for the crash-safety tests (test/e2e/crash.test.ts).
// KOPIATOMIC_TEST_FAULT=PHASE[:N] makes the process kill itself with SIGKILL
// right after the N-th (default first) step of PHASE (snapshot, hold, mkdir,
// mount, backup, umount, rmdir, release, destroy), so the tests can prove that
// recovery repairs a run that died at that point. "backup" fires right after
// the engine has started, while it runs. Unset, as in production, it does
// nothing; it is not an option and is not in --help.
import type { Reporter } from '../core/report.js';

// mount-batch / umount-batch: while the batch mount / unmount process runs (just after it started).
const PHASES = new Set(['snapshot', 'hold', 'mkdir', 'mount', 'mount-batch', 'backup', 'umount', 'umount-batch', 'rmdir', 'release', 'destroy']);
const spec = process.env['KOPIATOMIC_TEST_FAULT'];
const [phase, nth] = spec ? spec.split(':') : [];
const armed = Boolean(phase && PHASES.has(phase));
let seen = 0;

export function fault(at: string, reporter: Reporter): void {
  if (!armed || at !== phase) return;
  if (++seen < Number(nth || 1)) return;
  reporter.warn(`KOPIATOMIC_TEST_FAULT: SIGKILL after ${at} #${seen}`);
  process.kill(process.pid, 'SIGKILL');
}
