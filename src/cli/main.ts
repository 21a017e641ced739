// The entry: parse the command line and hand it to its command. Each command
// lives in its own file (its flags, help and entry point); those that change
// state share cli/lifecycle.ts. The configuration's modules are loaded only by
// the commands that read one (cli/config-modules.ts).
import { readFileSync } from 'node:fs';
import { SystemRunner } from '../core/exec.js';
import { EXIT } from '../core/exit-status.js';
import { Reporter } from '../core/report.js';
import { maskText } from '../core/secrets.js';
import { Interrupt } from '../execute/interrupt.js';
import { platformFor } from '../platform/detect.js';
import { normaliseArgv, parseCommandLine } from './args.js';
import type { Options } from './options.js';
import type { Flavour } from '../config/job.js';
import { failBeforeLifecycle, type CommandContext } from './lifecycle.js';
import { helpText, usageFor } from './help.js';
import { COMMAND_WORDS, COMMANDS } from './commands.js';
import { backupCommand } from './backup.js';
import { checkCommand } from './check.js';
import { cleanupCommand } from './cleanup.js';
import { configCheckCommand, configShowCommand } from './config.js';
import { execCommand } from './exec.js';
import { jobsCommand } from './jobs.js';
import { restoreCommand } from './restore.js';
import { runCommand } from './run.js';
import { scheduleCommand } from './schedule.js';
import { STATUS_EXIT, statusCommand } from './status.js';
import { forgetCommand } from './forget.js';

export function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

type Command = (o: Options, ctx: CommandContext) => Promise<number>;

const COMMAND_OF: Record<Exclude<Options['mode'], 'help' | 'version'>, Command> = {
  backup: backupCommand,
  cleanup: cleanupCommand,
  run: runCommand,
  'config-check': configCheckCommand,
  'config-show': configShowCommand,
  jobs: jobsCommand,
  status: statusCommand,
  schedule: scheduleCommand,
  forget: forgetCommand,
  check: checkCommand,
  exec: execCommand,
  restore: restoreCommand,
};

/** The command word the arguments seem to give, even when they do not parse (values joined to their flags first). */
function commandWord(argv: string[]): string | null {
  const args = normaliseArgv(argv);
  const end = args.indexOf('--');
  const word = (end < 0 ? args : args.slice(0, end)).find((a) => !a.startsWith('-'));
  return word !== undefined && COMMAND_WORDS.includes(word) ? word : null;
}

/** The usage lines of the command the words seem to name, for a usage error. */
function usageOf(word: string | null, program: string): string {
  return word ? usageFor(COMMANDS, program, [word]) : usageFor(COMMANDS.filter((c) => !c.words.length), program);
}

export async function main(argv: string[], flavour: Flavour): Promise<number> {
  let opts: Options;
  try {
    opts = parseCommandLine(argv, flavour);
  } catch (e) {
    const word = commandWord(argv);
    process.stderr.write(`${flavour.name}: ${maskText((e as Error).message)}\n${usageOf(word, flavour.name)}\nTry '${flavour.name} help' for help.\n`);
    // status is a monitoring check: its bad usage is UNKNOWN, never CRITICAL (2).
    return word === 'status' ? STATUS_EXIT.unknown : EXIT.usage;
  }
  if (opts.mode === 'help') {
    process.stdout.write(helpText(COMMANDS, flavour, opts.topic) + '\n');
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
  const ctx: CommandContext = { flavour, reporter, runner, platform: null!, interrupt, usage: () => usageOf(commandWord(argv), flavour.name) };
  try {
    ctx.platform = platformFor();
    const code = await COMMAND_OF[opts.mode](opts, ctx);
    // For the benchmark: processes started per program, and our peak RSS.
    if (process.env['KOPIATOMIC_COUNT_PROCESSES']) reporter.event('process-counts', { counts: runner.counts, maxRssKiB: process.resourceUsage().maxRSS });
    return code;
  } catch (e) {
    return failBeforeLifecycle(ctx, opts.job, e).code;
  } finally {
    interrupt.uninstall();
  }
}
