// TEST ONLY: KOPIATOMIC_TEST_BEFORE_VERIFY=<shell command> runs just before a
// verification starts (after the backup, while the snapshots are mounted),
// with the run's KOPIATOMIC_* variables, so the end-to-end tests can damage the
// repository for real and prove that verification notices. Unset, as in
// production, it does nothing; it is not an option and is not in --help.
import type { Runner } from '../core/exec.js';
import type { Reporter } from '../core/report.js';

export async function beforeVerify(runner: Runner, reporter: Reporter, env: Record<string, string>): Promise<void> {
  const cmd = process.env['KOPIATOMIC_TEST_BEFORE_VERIFY'];
  if (!cmd) return;
  reporter.warn('KOPIATOMIC_TEST_BEFORE_VERIFY: running the test command before verification');
  await runner.run(['/bin/sh', '-c', cmd], { env: { ...process.env, ...env } });
}
