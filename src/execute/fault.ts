// TEST ONLY. KOPIATOMIC_TEST_FAULT=PHASE[:N] makes the process kill itself
// with SIGKILL right after the N-th (default first) step of PHASE (snapshot,
// hold, mkdir, mount, backup, umount, rmdir, release, destroy), so the tests
// can prove that recovery repairs a run that died at that point. Unset in
// production, it does nothing.
import type { Reporter } from '../core/report.js';

const spec = process.env['KOPIATOMIC_TEST_FAULT'];
const [phase, nth] = spec ? spec.split(':') : [];
let seen = 0;

export function fault(at: string, reporter: Reporter): void {
  if (!spec || at !== phase) return;
  if (++seen < Number(nth ?? 1)) return;
  reporter.warn(`KOPIATOMIC_TEST_FAULT: SIGKILL after ${at} #${seen}`);
  process.kill(process.pid, 'SIGKILL');
}
