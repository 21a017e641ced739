// User hooks are the one place a shell runs, on purpose: -p and -q are shell
// command lines, run with /bin/sh -c and the KOPIATOMIC_* variables.
import type { Runner } from '../core/exec.js';
import type { Reporter } from '../core/report.js';
import type { Interrupt } from './interrupt.js';

export function hookArgv(command: string): string[] {
  return ['/bin/sh', '-c', command];
}

export async function runHook(
  which: 'pre' | 'post',
  command: string,
  env: Record<string, string>,
  runner: Runner,
  reporter: Reporter,
  interrupt: Interrupt,
): Promise<number> {
  reporter.info(`running ${which} hook: ${command}`);
  reporter.event('hook-start', { hook: which, command });
  const p = runner.live(hookArgv(command), { env: { ...process.env, ...env }, stdoutToStderr: reporter.json });
  interrupt.setChild(p.child);
  const { code, signal } = await p.done;
  interrupt.setChild(null);
  const exit = code ?? 128;
  reporter.event('hook-end', { hook: which, exitCode: exit, signal });
  if (exit !== 0) reporter.error(`${which} hook failed with exit code ${exit}${signal ? ` (${signal})` : ''}`);
  return exit;
}
