// The command line. Every flag of the original script keeps its meaning
// (-a -r -n -c -o -p -q -v -h); the rest are long options.
import { parseArgs } from 'node:util';
import { UsageError } from '../core/errors.js';
import { ZFS_TIMEOUT_DEFAULT } from '../core/exec.js';
import { splitWords } from '../core/words.js';
import { checkMountRootPath, KILL_AFTER_DEFAULT, resolveEngine, statusFileDefault, type Flavour, type JobFlags, type JobOptions } from '../config/job.js';
import { parseVerifyPercent, verifyProblem } from '../verify/options.js';

export type Mode = 'backup' | 'cleanup' | 'help' | 'version' | 'run' | 'config-check' | 'config-show' | 'jobs' | 'status' | 'schedule';

export interface Options extends JobFlags {
  mode: Mode;
  /** Job names: `run [JOB...]`, `config show [JOB]`, `jobs [JOB...]`. */
  names: string[];
  /** --config FILE, or null for the default path. */
  configFile: string | null;
  dryRun: boolean;
  json: boolean;
  verbosity: 0 | 1 | 2;
  /** Seconds to wait for another run's lock: 0 = do not wait. */
  wait: number;
  /** schedule show --cron. */
  cron: boolean;
  /** status --max-age DURATION: overrides every job's max_age. */
  maxAge: string | null;
}

const SPEC = {
  all: { type: 'boolean', short: 'a' },
  recursive: { type: 'boolean', short: 'r' },
  'dry-run': { type: 'boolean', short: 'n' },
  command: { type: 'string', short: 'c' },
  options: { type: 'string', short: 'o', multiple: true },
  pre: { type: 'string', short: 'p' },
  post: { type: 'string', short: 'q' },
  version: { type: 'boolean', short: 'v' },
  help: { type: 'boolean', short: 'h' },
  engine: { type: 'string' },
  'mount-root': { type: 'string' },
  exclude: { type: 'string', multiple: true },
  json: { type: 'boolean' },
  verbose: { type: 'boolean' },
  quiet: { type: 'boolean' },
  layout: { type: 'string' },
  wait: { type: 'string' },
  'kill-after': { type: 'string' },
  'zfs-timeout': { type: 'string' },
  config: { type: 'string' },
  property: { type: 'boolean' },
  verify: { type: 'string' },
  'verify-command': { type: 'string' },
  'metrics-file': { type: 'string' },
  'ping-url': { type: 'string' },
  'status-file': { type: 'string' },
  'max-age': { type: 'string' },
  cron: { type: 'boolean' },
} as const;

const SHORT_VALUE: Record<string, string> = { c: 'command', o: 'options', p: 'pre', q: 'post' };
const LONG_VALUE = new Set(['command', 'options', 'pre', 'post', 'engine', 'mount-root', 'exclude', 'layout', 'kill-after', 'zfs-timeout', 'config', 'verify-command', 'metrics-file', 'ping-url', 'status-file', 'max-age']);

/**
 * parseArgs refuses a separate value that starts with '-' (`-o --tag x`),
 * yet engine options nearly always do: join each value-taking flag with its
 * value first. --wait takes an optional value, which parseArgs cannot express.
 */
export function normaliseArgv(argv: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') {
      out.push(...argv.slice(i));
      break;
    }
    if (a === '--wait') out.push('--wait=forever');
    else if (a === '--verify') out.push('--verify=100'); // a bare --verify compares every file
    else if (a.startsWith('--') && LONG_VALUE.has(a.slice(2)) && i + 1 < argv.length) out.push(`${a}=${argv[++i]}`);
    else if (/^-[A-Za-z]+$/.test(a) && SHORT_VALUE[a.at(-1)!] && [...a.slice(1, -1)].every((c) => !SHORT_VALUE[c]) && i + 1 < argv.length) {
      if (a.length > 2) out.push(a.slice(0, -1));
      out.push(`--${SHORT_VALUE[a.at(-1)!]}=${argv[++i]}`);
    } else out.push(a);
  }
  return out;
}

const SUBCOMMANDS = new Set(['cleanup', 'run', 'config', 'jobs', 'status', 'schedule']);

export function parseCommandLine(argv: string[], flavour: Flavour): Options {
  const args = normaliseArgv(argv);
  let parsed;
  try {
    parsed = parseArgs({ args, options: SPEC, allowPositionals: true, strict: true, tokens: true });
  } catch (e) {
    throw new UsageError((e as Error).message.split('\n')[0]!.replace(/^Unknown option/, 'unknown option').replace(/\. To specify a positional.*/, ''));
  }
  const v = parsed.values;
  let positionals = parsed.positionals;
  // A word after `--` is always a dataset or path, so a pool called "run" can still be named.
  const terminator = parsed.tokens.find((t) => t.kind === 'option-terminator')?.index ?? Infinity;
  const first = parsed.tokens.find((t) => t.kind === 'positional');
  const sub = first && first.index < terminator && SUBCOMMANDS.has(first.value) ? first.value : null;
  let mode: Mode = 'backup';
  if (v.help) mode = 'help';
  else if (v.version) mode = 'version';
  else if (sub === 'cleanup') {
    mode = 'cleanup';
    positionals = positionals.slice(1);
    if (positionals.length) throw new UsageError('cleanup takes no datasets');
  } else if (sub === 'run' || sub === 'jobs') {
    mode = sub;
    positionals = positionals.slice(1);
  } else if (sub === 'status') {
    mode = 'status';
    positionals = positionals.slice(1);
    if (positionals.length > 1) throw new UsageError('status takes at most one job name');
  } else if (sub === 'schedule') {
    mode = 'schedule';
    const what = positionals[1];
    if (what !== 'install' && what !== 'remove' && what !== 'show') throw new UsageError(`schedule needs install, remove or show${what ? `, not ${JSON.stringify(what)}` : ''}`);
    positionals = positionals.slice(1); // [action, JOB?]
    if (positionals.length > 2) throw new UsageError('schedule takes at most one job name');
    if (v.cron && what !== 'show') throw new UsageError('--cron goes with schedule show');
  } else if (sub === 'config') {
    const what = positionals[1];
    if (what !== 'check' && what !== 'show') throw new UsageError(`config needs check or show${what ? `, not ${JSON.stringify(what)}` : ''}`);
    mode = what === 'check' ? 'config-check' : 'config-show';
    positionals = positionals.slice(2);
    if (mode === 'config-check' && positionals.length) throw new UsageError('config check takes no arguments');
    if (positionals.length > 1) throw new UsageError('config show takes at most one job name');
  }
  const jobMode = mode === 'run' || mode === 'config-check' || mode === 'config-show' || mode === 'jobs' || mode === 'status' || mode === 'schedule';
  if (v.cron && mode !== 'schedule') throw new UsageError('--cron goes with schedule show');
  if (v['max-age'] !== undefined && mode !== 'status') throw new UsageError('--max-age goes with status');

  if (mode === 'backup' && !v.all && !v.property && positionals.length === 0) throw new UsageError('no datasets or paths given (use -a for all)');
  if (v.config !== undefined && !jobMode) throw new UsageError('--config goes with run, jobs and config (the flag form reads no configuration file)');
  if (v.all && v.property) throw new UsageError('-a and --property cannot be used together');
  if (mode === 'backup' && v.property && positionals.length) throw new UsageError('--property selects by the kopiatomic:backup property: name no datasets with it');

  const command = v.command !== undefined ? splitWords(v.command) : null;
  if (command !== null && command.length === 0) throw new UsageError('-c needs a command');
  const engine = resolveEngine(v.engine, command, flavour);

  const layout = v.layout ?? 'tree';
  if (layout !== 'tree' && layout !== 'paths') throw new UsageError(`unknown layout ${JSON.stringify(layout)}: use tree or paths`);

  const root = checkMountRootPath(v['mount-root'] ?? flavour.mountRoot);

  let wait = 0;
  if (v.wait !== undefined) {
    if (v.wait === 'forever') wait = Infinity;
    else if (/^\d+$/.test(v.wait)) wait = Number(v.wait);
    else throw new UsageError(`--wait takes a number of seconds: ${v.wait}`);
  }
  let killAfter = KILL_AFTER_DEFAULT;
  if (v['kill-after'] !== undefined) {
    if (!/^\d+$/.test(v['kill-after'])) throw new UsageError(`--kill-after takes a number of seconds: ${v['kill-after']}`);
    killAfter = Number(v['kill-after']);
  }
  let zfsTimeout = ZFS_TIMEOUT_DEFAULT;
  if (v['zfs-timeout'] !== undefined) {
    if (!/^\d+$/.test(v['zfs-timeout'])) throw new UsageError(`--zfs-timeout takes a number of seconds: ${v['zfs-timeout']}`);
    zfsTimeout = Number(v['zfs-timeout']);
  }
  if (v.verbose && v.quiet) throw new UsageError('--verbose and --quiet cannot be used together');

  // --verify[=PERCENT] (bare: every file) and the command engine's --verify-command.
  const verifyPercent = v.verify === undefined ? null : parseVerifyPercent(v.verify);
  const verifyCommand = v['verify-command'] !== undefined ? splitWords(v['verify-command']) : null;
  if (verifyCommand !== null && verifyCommand.length === 0) throw new UsageError('--verify-command needs a command');
  if (mode === 'backup') verifyProblem(engine, verifyPercent, verifyCommand);

  const given = new Set<keyof JobOptions>();
  const mark = (flag: unknown, ...keys: (keyof JobOptions)[]) => flag !== undefined && keys.forEach((k) => given.add(k));
  mark(v.all, 'all');
  mark(v.property, 'property');
  mark(v.recursive, 'recursive');
  mark(v.command ?? v.engine, 'engine', 'command');
  mark(v.options, 'options');
  mark(v.pre, 'pre');
  mark(v.post, 'post');
  mark(v['mount-root'], 'mountRoot');
  mark(v.exclude, 'excludes');
  mark(v.layout, 'layout');
  mark(v['kill-after'], 'killAfter');
  mark(v['zfs-timeout'], 'zfsTimeout');
  mark(v.verify, 'verifyPercent');
  mark(v['metrics-file'], 'metricsFile');
  mark(v['ping-url'], 'pingUrl');
  mark(v['status-file'], 'statusFile');
  mark(v['verify-command'], 'verifyCommand');

  return {
    mode,
    job: 'default',
    names: jobMode ? positionals : [],
    configFile: v.config ?? null,
    targets: jobMode ? [] : positionals,
    all: Boolean(v.all),
    recursive: Boolean(v.recursive),
    property: Boolean(v.property),
    dryRun: Boolean(v['dry-run']),
    engine,
    command: command ?? engine.defaultCommand,
    options: (v.options ?? []).flatMap(splitWords),
    pre: v.pre ?? null,
    post: v.post ?? null,
    mountRoot: root,
    excludes: v.exclude ?? [],
    json: Boolean(v.json),
    verbosity: v.quiet ? 0 : v.verbose ? 2 : 1,
    layout,
    wait,
    env: {},
    metricsFile: v['metrics-file'] ?? null,
    pingUrl: v['ping-url'] ?? null,
    maxAgeSeconds: null,
    schedule: 'daily',
    verifyPercent,
    verifyCommand,
    killAfter,
    zfsTimeout,
    statusFile: v['status-file'] ?? statusFileDefault(),
    given,
    cron: Boolean(v.cron),
    maxAge: v['max-age'] ?? null,
  };
}
