// The entry: parse the command line and hand it to its command. Each command
// lives in its own file; those that change state share cli/lifecycle.ts.
import { readFileSync } from 'node:fs';
import { SystemRunner } from '../core/exec.js';
import { EXIT } from '../core/exit-codes.js';
import { Reporter } from '../core/report.js';
import { Interrupt } from '../execute/interrupt.js';
import { platformFor } from '../platform/detect.js';
import { parseCommandLine, type Flavour, type Options } from './args.js';
import { backupCommand } from './backup.js';
import { cleanupCommand } from './cleanup.js';
import { configCheckCommand, configShowCommand } from './config.js';
import { jobsCommand } from './jobs.js';
import { failBeforeLifecycle, type CommandContext } from './lifecycle.js';
import { runCommand } from './run.js';
import { scheduleFromOptions } from './schedule.js';
import { statusFromOptions } from './status.js';
import { helpText, usageLine } from './usage.js';

export function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

const COMMANDS: Record<Exclude<Options['mode'], 'help' | 'version'>, (o: Options, ctx: CommandContext) => Promise<number>> = {
  backup: backupCommand,
  cleanup: cleanupCommand,
  run: runCommand,
  'config-check': configCheckCommand,
  'config-show': configShowCommand,
  jobs: jobsCommand,
  status: statusFromOptions,
  schedule: scheduleFromOptions,
};

export async function main(argv: string[], flavour: Flavour): Promise<number> {
  let opts: Options;
  try {
    opts = parseCommandLine(argv, flavour);
  } catch (e) {
    process.stderr.write(`${flavour.name}: ${(e as Error).message}\n${usageLine(flavour)}\nTry '${flavour.name} -h' for help.\n`);
    return EXIT.usage;
  }
  if (opts.mode === 'help') {
    process.stdout.write(helpText(flavour) + '\n');
    return EXIT.ok;
  }
  if (opts.mode === 'version') {
    process.stdout.write(`${flavour.name} ${version()}\n`);
    return EXIT.ok;
  }
  const reporter = new Reporter({ json: opts.json, verbosity: opts.verbosity, name: flavour.name });
  const interrupt = new Interrupt(reporter, opts.killAfter * 1000);
  interrupt.install();
  const runner = new SystemRunner(reporter, opts.dryRun);
  const ctx: CommandContext = { flavour, reporter, runner, platform: null!, interrupt };
  try {
    ctx.platform = platformFor();
    const code = await COMMANDS[opts.mode](opts, ctx);
    // For the benchmark: processes started per program, and our peak RSS.
    if (process.env['KOPIATOMIC_COUNT_PROCESSES']) reporter.event('process-counts', { counts: runner.counts, maxRssKiB: process.resourceUsage().maxRSS });
    return code;
  } catch (e) {
    return failBeforeLifecycle(ctx, opts.job, e).code;
  } finally {
    interrupt.uninstall();
  }
}
