// The command line. Every flag of the original script keeps its meaning
// (-a -r -n -c -o -p -q -v -h); the rest are long options. The flags are
// those of cli/flags.ts; which command takes which is said by its own file.
import { parseArgs } from 'node:util';
import { meantHint } from '../core/did-you-mean.js';
import { isDuration, parseDuration } from '../core/duration.js';
import { UsageError } from '../core/errors.js';
import { ZFS_TIMEOUT_DEFAULT } from '../core/exec.js';
import { splitWords } from '../core/words.js';
import { checkMountRootPath, implicitRepository, KILL_AFTER_DEFAULT, resolveEngine, statusFileDefault, type Flavour, type JobOptions } from '../config/job.js';
import { parseVerifyPercent, verifyProblem } from '../verify/options.js';
import type { CommandSpec, FlagValues } from './command.js';
import { COMMAND_WORDS, COMMANDS, commandsOf, takersOf } from './commands.js';
import { FLAGS, GENERAL_FLAGS } from './flags.js';
import type { Mode, Options } from './options.js';

export type { Mode, Options };

type ParseOption = { type: 'string' | 'boolean'; short?: string; multiple?: boolean };
const SPEC: Record<string, ParseOption> = Object.fromEntries(
  FLAGS.map((f) => [f.long, { type: f.value ? 'string' : 'boolean', ...(f.short ? { short: f.short } : {}), ...(f.multiple ? { multiple: true } : {}) }]),
);

const SHORT_VALUE: Record<string, string> = Object.fromEntries(FLAGS.filter((f) => f.short && f.value).map((f) => [f.short!, f.long]));
const LONG_VALUE = new Set(FLAGS.filter((f) => f.value && f.bare === undefined).map((f) => f.long));
const BARE = new Map(FLAGS.filter((f) => f.bare !== undefined).map((f) => [f.long, f.bare!]));

/**
 * parseArgs refuses a separate value that starts with '-' (`-o --tag x`),
 * yet engine options nearly always do: join each value-taking flag with its
 * value first. --wait and --verify take an optional value, which parseArgs
 * cannot express: bare, they get their flag's `bare` value.
 */
export function normaliseArgv(argv: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') {
      out.push(...argv.slice(i));
      break;
    }
    if (a.startsWith('--') && BARE.has(a.slice(2))) out.push(`${a}=${BARE.get(a.slice(2))}`);
    else if (a.startsWith('--') && LONG_VALUE.has(a.slice(2)) && i + 1 < argv.length) out.push(`${a}=${argv[++i]}`);
    else if (/^-[A-Za-z]+$/.test(a) && SHORT_VALUE[a.at(-1)!] && [...a.slice(1, -1)].every((c) => !SHORT_VALUE[c]) && i + 1 < argv.length) {
      if (a.length > 2) out.push(a.slice(0, -1));
      out.push(`--${SHORT_VALUE[a.at(-1)!]}=${argv[++i]}`);
    } else out.push(a);
  }
  return out;
}

const LONG_NAMES = FLAGS.map((f) => `--${f.long}`);

function parseError(e: Error): UsageError {
  const message = e.message.split('\n')[0]!.replace(/^Unknown option/, 'unknown option').replace(/\. To specify a positional.*/, '');
  const unknown = /^unknown option '(--[^'=]+)/.exec(message)?.[1];
  return new UsageError(message + (unknown ? meantHint(unknown, LONG_NAMES) : ''));
}

/** "a, b or c" */
const either = (words: readonly string[]) => (words.length > 1 ? `${words.slice(0, -1).join(', ')} or ${words.at(-1)!}` : (words[0] ?? ''));
const and = (words: readonly string[]) => (words.length > 1 ? `${words.slice(0, -1).join(', ')} and ${words.at(-1)!}` : (words[0] ?? ''));

/** The commands that take a flag, a group named once when all of it does: "run, config, jobs". */
function flagGoesWith(long: string): string {
  const takers = takersOf(long);
  const named: string[] = [];
  for (const t of takers) {
    const word = t.split(' ')[0]!;
    const group = commandsOf(word).map((c) => c.words.join(' '));
    const label = group.length > 1 && group.every((g) => takers.includes(g)) ? word : t;
    if (!named.includes(label)) named.push(label);
  }
  const note = long === 'config' ? ' (the flag form reads no configuration file)' : '';
  return `${and(named)}${note}`;
}

/** A mistyped command, not a dataset: a word with no '/' one letter (two in a long word) from a command's. */
function mistypedCommand(word: string): string {
  if (word.includes('/') || word.startsWith('.') || word.length < 4) return '';
  return meantHint(word, COMMAND_WORDS, word.length >= 7 ? 2 : 1);
}

interface Found {
  spec: CommandSpec;
  operands: string[];
  /** The help asked for, when the command's words are not all there (`config --help`). */
  topic: string[] | null;
}

/** The command the words name: the first word before `--` that is a command's; else the flag form. */
function findCommand(positionals: string[], first: 'verb' | 'word' | 'dataset', helpAsked: boolean): Found {
  const flagForm = COMMANDS.find((c) => !c.words.length)!;
  if (first !== 'verb') {
    const word = positionals[0];
    const hint = word === undefined || first === 'dataset' ? '' : mistypedCommand(word);
    if (hint) throw new UsageError(`unknown command ${JSON.stringify(word)}${hint}; a dataset of that name goes after --: -- ${word}`);
    return { spec: flagForm, operands: positionals, topic: null };
  }
  const word = positionals[0]!;
  const group = commandsOf(word);
  if (group.length === 1 && group[0]!.words.length === 1) return { spec: group[0]!, operands: positionals.slice(1), topic: null };
  const what = positionals[1];
  const spec = group.find((c) => c.words[1] === what);
  if (spec) return { spec, operands: positionals.slice(2), topic: null };
  if (helpAsked) return { spec: group[0]!, operands: [], topic: [word] };
  const subs = group.map((c) => c.words[1]!);
  throw new UsageError(`${word} needs ${either(subs)}${what !== undefined ? `, not ${JSON.stringify(what)}${meantHint(what, subs)}` : ''}`);
}

/** `help [COMMAND [SUBCOMMAND]]`: the words must name commands. */
function helpTopic(words: string[]): string[] {
  if (!words.length) return [];
  const [word, sub] = words;
  if (words.length > 2 || !commandsOf(word!).length) throw new UsageError(`help: no command ${JSON.stringify(words.join(' '))}${meantHint(word!, COMMAND_WORDS)}`);
  if (sub !== undefined && !commandsOf(word!).some((c) => c.words[1] === sub)) throw new UsageError(`help: no command ${JSON.stringify(words.join(' '))}`);
  return words;
}

/** Each flag given must be one the command takes. */
function checkFlagsApply(spec: CommandSpec, given: { name: string; rawName: string }[]): void {
  for (const t of given) {
    if ((GENERAL_FLAGS as readonly string[]).includes(t.name) || spec.flags.includes(t.name)) continue;
    const where = spec.words.length ? spec.words.join(' ') : 'the flag form';
    throw new UsageError(`${t.rawName} goes with ${flagGoesWith(t.name)}, not with ${where}`);
  }
}

export function parseCommandLine(argv: string[], flavour: Flavour): Options {
  const args = normaliseArgv(argv);
  let parsed;
  try {
    parsed = parseArgs({ args, options: SPEC, allowPositionals: true, strict: true, tokens: true });
  } catch (e) {
    throw parseError(e as Error);
  }
  const v = parsed.values as FlagValues & Record<string, never>;
  const str = (name: string) => v[name] as string | undefined;
  const list = (name: string) => v[name] as string[] | undefined;
  // A word after `--` is always a dataset or path, so a pool called "run" can still be named.
  const terminator = parsed.tokens.find((t) => t.kind === 'option-terminator')?.index ?? Infinity;
  const first = parsed.tokens.find((t) => t.kind === 'positional');
  const kind = first === undefined || first.index > terminator ? 'dataset' : COMMAND_WORDS.includes(first.value) ? 'verb' : 'word';
  const found = findCommand(parsed.positionals, kind, Boolean(v['help']));
  const { spec } = found;

  // -h asks for the help of the command it is given to, whatever else is there.
  if (v['help']) return { ...defaults(flavour), mode: 'help', topic: spec.mode === 'help' ? helpTopic(found.operands) : (found.topic ?? [...spec.words]) };
  if (v['version']) return { ...defaults(flavour), mode: 'version' };
  checkFlagsApply(spec, parsed.tokens.flatMap((t) => (t.kind === 'option' ? [{ name: t.name, rawName: t.rawName }] : [])));
  if (spec.mode === 'help') return { ...defaults(flavour), mode: 'help', topic: helpTopic(found.operands) };
  const mode = spec.mode;
  // Words after `--` (exec passes them to the engine).
  const afterDash = parsed.tokens.filter((t) => t.kind === 'positional' && t.index > terminator).length;
  const operands = spec.check(found.operands, v, afterDash);
  const jobMode = mode !== 'backup' && mode !== 'cleanup';
  if (v['all'] && v['property']) throw new UsageError('-a and --property cannot be used together');

  const commandFlag = str('command');
  const command = commandFlag !== undefined ? splitWords(commandFlag) : null;
  if (command !== null && command.length === 0) throw new UsageError('-c needs a command');
  const engine = resolveEngine(str('engine'), command, flavour);

  const layout = str('layout') ?? 'tree';
  if (layout !== 'tree' && layout !== 'paths') throw new UsageError(`unknown layout ${JSON.stringify(layout)}: use tree or paths`);

  const root = checkMountRootPath(str('mount-root') ?? flavour.mountRoot);

  let wait = 0;
  const waitFlag = str('wait');
  if (waitFlag !== undefined) {
    if (waitFlag === 'forever') wait = Infinity;
    else if (isDuration(waitFlag)) wait = parseDuration(waitFlag);
    else throw new UsageError(`--wait takes a number of seconds or a duration (90s, 10m, 1h30m): ${waitFlag}`);
  }
  const seconds = (name: string, fallback: number) => {
    const s = str(name);
    if (s === undefined) return fallback;
    if (!isDuration(s)) throw new UsageError(`--${name} takes a number of seconds or a duration (90s, 10m, 1h30m): ${s}`);
    return parseDuration(s);
  };
  const killAfter = seconds('kill-after', KILL_AFTER_DEFAULT);
  const zfsTimeout = seconds('zfs-timeout', ZFS_TIMEOUT_DEFAULT);
  if (v['verbose'] && v['quiet']) throw new UsageError('--verbose and --quiet cannot be used together');

  // --verify[=PERCENT] (bare: every file) and the command engine's --verify-command.
  const verifyPercent = str('verify') === undefined ? null : parseVerifyPercent(str('verify')!);
  const verifyCommandFlag = str('verify-command');
  const verifyCommand = verifyCommandFlag !== undefined ? splitWords(verifyCommandFlag) : null;
  if (verifyCommand !== null && verifyCommand.length === 0) throw new UsageError('--verify-command needs a command');
  if (mode === 'backup') verifyProblem(engine, verifyPercent, verifyCommand);

  // Which of the job's settings the command line gave: those override a configured job's.
  const given = new Set<keyof JobOptions>();
  const mark = (flag: unknown, ...keys: (keyof JobOptions)[]) => flag !== undefined && keys.forEach((k) => given.add(k));
  mark(v['all'], 'all');
  mark(v['property'], 'property');
  mark(v['recursive'], 'recursive');
  mark(v['command'] ?? v['engine'], 'engine', 'command');
  mark(v['options'], 'options');
  mark(v['pre'], 'pre');
  mark(v['post'], 'post');
  mark(v['mount-root'], 'mountRoot');
  mark(v['exclude'], 'excludes');
  mark(v['layout'], 'layout');
  mark(v['kill-after'], 'killAfter');
  mark(v['zfs-timeout'], 'zfsTimeout');
  mark(v['verify'], 'verifyPercent');
  mark(v['metrics-file'], 'metricsFile');
  mark(v['ping-url'], 'pingUrl');
  mark(v['status-file'], 'statusFile');
  mark(v['verify-command'], 'verifyCommand');

  return {
    ...defaults(flavour),
    mode,
    names: jobMode ? operands : [],
    configFile: str('config') ?? null,
    targets: jobMode ? [] : operands,
    all: Boolean(v['all']),
    recursive: Boolean(v['recursive']),
    property: Boolean(v['property']),
    dryRun: Boolean(v['dry-run']),
    engine,
    command: command ?? engine.defaultCommand,
    options: (list('options') ?? []).flatMap(splitWords),
    pre: str('pre') ?? null,
    post: str('post') ?? null,
    mountRoot: root,
    excludes: list('exclude') ?? [],
    json: Boolean(v['json']),
    verbosity: v['quiet'] ? 0 : v['verbose'] ? 2 : 1,
    layout,
    wait,
    metricsFile: str('metrics-file') ?? null,
    pingUrl: str('ping-url') ?? null,
    verifyPercent,
    verifyCommand,
    killAfter,
    zfsTimeout,
    statusFile: str('status-file') ?? statusFileDefault(),
    given,
    cron: Boolean(v['cron']),
    maxAge: str('max-age') ?? null,
    listNames: Boolean(v['names']),
    readData: str('read-data') === undefined ? null : parseVerifyPercent(str('read-data')!, '--read-data'),
    repository: str('repository') ?? null,
    snapshotId: str('snapshot') ?? null,
    target: str('target') ?? null,
  };
}

/** Options with every default: what help and version carry, and what the others start from. */
function defaults(flavour: Flavour): Options {
  const engine = resolveEngine(undefined, null, flavour);
  return {
    mode: 'backup',
    job: 'default',
    names: [],
    configFile: null,
    targets: [],
    all: false,
    recursive: false,
    property: false,
    dryRun: false,
    engine,
    command: engine.defaultCommand,
    options: [],
    pre: null,
    post: null,
    mountRoot: flavour.mountRoot,
    excludes: [],
    json: false,
    verbosity: 1,
    layout: 'tree',
    wait: 0,
    env: {},
    metricsFile: null,
    pingUrl: null,
    maxAgeSeconds: null,
    schedule: 'daily',
    verifyPercent: null,
    verifyCommand: null,
    killAfter: KILL_AFTER_DEFAULT,
    zfsTimeout: ZFS_TIMEOUT_DEFAULT,
    statusFile: statusFileDefault(),
    repositories: [implicitRepository({})],
    retention: null,
    checkSchedule: null,
    nice: null,
    ioClass: null,
    given: new Set(),
    cron: false,
    maxAge: null,
    listNames: false,
    readData: null,
    repository: null,
    snapshotId: null,
    target: null,
    topic: [],
  };
}
