// User hooks are the one place a shell runs, on purpose: -p and -q are shell
// command lines, run with /bin/sh -c and the KOPIATOMIC_* variables.
import { rmSync, writeFileSync } from 'node:fs';
import type { Runner } from '../core/exec.js';
import type { Reporter } from '../core/report.js';
import type { Interrupt } from './interrupt.js';

export function hookArgv(command: string): string[] {
  return ['/bin/sh', '-c', command];
}

/**
 * Runs a hook to its end and returns its exit code; never throws (a hook
 * that cannot even start is a failed hook, and the run goes on to clean up
 * and release its lock). The post hook is not stopped by a signal that came
 * before it: it exists to report that run (see Interrupt.setChild).
 */
export async function runHook(
  which: 'pre' | 'post',
  command: string,
  env: Record<string, string>,
  runner: Runner,
  reporter: Reporter,
  interrupt: Interrupt,
): Promise<number> {
  try {
    reporter.info(`running ${which} hook: ${command}`);
    reporter.event('hook-start', { hook: which, command });
    const p = runner.live(hookArgv(command), { env: { ...process.env, ...env }, stdoutToStderr: reporter.json });
    interrupt.setChild(p.child, which === 'pre');
    const { code, signal } = await p.done.finally(() => interrupt.setChild(null));
    const exit = code ?? 128;
    reporter.event('hook-end', { hook: which, exitCode: exit, signal });
    if (exit !== 0) reporter.error(`${which} hook failed with exit code ${exit}${signal ? ` (${signal})` : ''}`);
    return exit;
  } catch (e) {
    reporter.error(`${which} hook could not run: ${(e as Error).message}`);
    return 126;
  }
}

/**
 * Linux refuses one environment string over 128 KiB (MAX_ARG_STRLEN) and all
 * of argv + env over about 2 MiB: the engine or hook would not start at all.
 * KOPIATOMIC_DATASETS is kept while it is well below that.
 */
export const DATASETS_ENV_MAX = 64 * 1024;

export interface DatasetsVars {
  env: Record<string, string>;
  /** Removes the file; call once the post hook has run. */
  remove(): void;
}

/**
 * The datasets of a run for the engine and the hooks: always as
 * KOPIATOMIC_DATASETS_FILE (one per line, mode 0600, in the state folder,
 * removed at the end), and as KOPIATOMIC_DATASETS while that stays small.
 * `dir` null (a dry run): no file, the variable only.
 */
export function datasetsVars(datasets: readonly string[], dir: string | null, runId: string, reporter: Reporter): DatasetsVars {
  const text = datasets.join('\n');
  const env: Record<string, string> = {};
  let file: string | null = null;
  if (dir) {
    const path = `${dir}/${runId}.datasets`;
    try {
      writeFileSync(path, text + '\n', { mode: 0o600, flag: 'wx' });
      file = path;
      env['KOPIATOMIC_DATASETS_FILE'] = path;
    } catch (e) {
      reporter.warn(`could not write the list of datasets to ${path}: ${(e as Error).message}`);
    }
  }
  if (Buffer.byteLength(text) <= DATASETS_ENV_MAX) env['KOPIATOMIC_DATASETS'] = text;
  else reporter.warn(`KOPIATOMIC_DATASETS is not set: ${datasets.length} datasets are too many for one environment variable; read KOPIATOMIC_DATASETS_FILE`);
  return {
    env,
    remove: () => {
      if (file) rmSync(file, { force: true });
      file = null;
    },
  };
}
