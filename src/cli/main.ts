// The entry: parse the command line and hand it to its command. Each command
// lives in its own file; those that change state share cli/lifecycle.ts.
import { readFileSync } from 'node:fs';
import { SystemRunner } from '../core/exec.js';
import { EXIT } from '../core/exit-status.js';
import { Reporter } from '../core/report.js';
import { maskText } from '../core/secrets.js';
import { Interrupt } from '../execute/interrupt.js';
import { platformFor } from '../platform/detect.js';
import { parseCommandLine, type Options } from './args.js';
import type { Flavour } from '../config/job.js';
import { failBeforeLifecycle, type CommandContext } from './lifecycle.js';
import { helpText, usageLine } from './usage.js';

export function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

type Command = (o: Options, ctx: CommandContext) => Promise<number>;

// Each command's module is loaded when it is asked for: a backup given by
// flags never loads the configuration's schema library, which would be most
// of its start-up time.
const COMMANDS: Record<Exclude<Options['mode'], 'help' | 'version'>, () => Promise<Command>> = {
  backup: async () => (await import('./backup.js')).backupCommand,
  cleanup: async () => (await import('./cleanup.js')).cleanupCommand,
  run: async () => (await import('./run.js')).runCommand,
  'config-check': async () => (await import('./config.js')).configCheckCommand,
  'config-show': async () => (await import('./config.js')).configShowCommand,
  jobs: async () => (await import('./jobs.js')).jobsCommand,
  status: async () => (await import('./status.js')).statusFromOptions,
  schedule: async () => (await import('./schedule.js')).scheduleFromOptions,
};

export async function main(argv: string[], flavour: Flavour): Promise<number> {
  let opts: Options;
  try {
    opts = parseCommandLine(argv, flavour);
  } catch (e) {
    process.stderr.write(`${flavour.name}: ${maskText((e as Error).message)}\n${usageLine(flavour)}\nTry '${flavour.name} -h' for help.\n`);
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
  runner.zfsTimeoutMs = opts.zfsTimeout * 1000; // each job of `run` sets its own (backupJob)
  const ctx: CommandContext = { flavour, reporter, runner, platform: null!, interrupt };
  try {
    ctx.platform = platformFor();
    const command = await COMMANDS[opts.mode]();
    const code = await command(opts, ctx);
    // For the benchmark: processes started per program, and our peak RSS.
    if (process.env['KOPIATOMIC_COUNT_PROCESSES']) reporter.event('process-counts', { counts: runner.counts, maxRssKiB: process.resourceUsage().maxRSS });
    return code;
  } catch (e) {
    return failBeforeLifecycle(ctx, opts.job, e).code;
  } finally {
    interrupt.uninstall();
  }
}
