// The command line. Every flag of the original script keeps its meaning
// (-a -r -n -c -o -p -q -v -h); the rest are long options.
import { posix } from 'node:path';
import { parseArgs } from 'node:util';
import { UsageError } from '../core/errors.js';
import type { Engine, Layout } from '../engine/engine.js';
import { ENGINES, engineForCommand } from '../engine/index.js';
import { splitWords } from './words.js';
import { parseVerifyPercent, verifyProblem } from '../verify/options.js';

export interface Flavour {
  /** kopiatomic or restomic */
  name: string;
  engine: 'kopia' | 'restic';
  mountRoot: string;
}

export const KOPIATOMIC: Flavour = { name: 'kopiatomic', engine: 'kopia', mountRoot: '/kopia' };
export const RESTOMIC: Flavour = { name: 'restomic', engine: 'restic', mountRoot: '/restic' };

export interface Options {
  mode: 'backup' | 'cleanup' | 'help' | 'version';
  targets: string[];
  all: boolean;
  recursive: boolean;
  dryRun: boolean;
  engine: Engine;
  command: string[];
  options: string[];
  pre: string | null;
  post: string | null;
  mountRoot: string;
  excludes: string[];
  json: boolean;
  verbosity: 0 | 1 | 2;
  layout: Layout;
  /** Seconds to wait for another run's lock: 0 = do not wait. */
  wait: number;
  // ---- verify (issue 13)
  /** Restore and compare after the backup: percent of file contents compared (0 < p <= 100), null = off. */
  verifyPercent: number | null;
  /** The command engine's verify command (restores into its 2nd argument), or null. */
  verifyCommand: string[] | null;
  // ---- end verify
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
  verify: { type: 'string' }, // verify (issue 13)
  'verify-command': { type: 'string' }, // verify (issue 13)
} as const;

const SHORT_VALUE: Record<string, string> = { c: 'command', o: 'options', p: 'pre', q: 'post' };
const LONG_VALUE = new Set(['command', 'options', 'pre', 'post', 'engine', 'mount-root', 'exclude', 'layout', 'verify-command']);

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
    else if (a === '--verify') out.push('--verify=100'); // verify (issue 13): bare = every file
    else if (a.startsWith('--') && LONG_VALUE.has(a.slice(2)) && i + 1 < argv.length) out.push(`${a}=${argv[++i]}`);
    else if (/^-[A-Za-z]+$/.test(a) && SHORT_VALUE[a.at(-1)!] && [...a.slice(1, -1)].every((c) => !SHORT_VALUE[c]) && i + 1 < argv.length) {
      if (a.length > 2) out.push(a.slice(0, -1));
      out.push(`--${SHORT_VALUE[a.at(-1)!]}=${argv[++i]}`);
    } else out.push(a);
  }
  return out;
}

export function parseCommandLine(argv: string[], flavour: Flavour): Options {
  const args = normaliseArgv(argv);
  let parsed;
  try {
    parsed = parseArgs({ args, options: SPEC, allowPositionals: true, strict: true });
  } catch (e) {
    throw new UsageError((e as Error).message.split('\n')[0]!.replace(/^Unknown option/, 'unknown option').replace(/\. To specify a positional.*/, ''));
  }
  const v = parsed.values;
  let positionals = parsed.positionals;
  let mode: Options['mode'] = 'backup';
  if (v.help) mode = 'help';
  else if (v.version) mode = 'version';
  else if (positionals[0] === 'cleanup') {
    mode = 'cleanup';
    positionals = positionals.slice(1);
    if (positionals.length) throw new UsageError('cleanup takes no datasets');
  }

  if (mode === 'backup' && !v.all && positionals.length === 0) throw new UsageError('no datasets or paths given (use -a for all)');

  const command = v.command !== undefined ? splitWords(v.command) : null;
  if (command !== null && command.length === 0) throw new UsageError('-c needs a command');
  let engine: Engine;
  if (v.engine !== undefined) {
    const e = ENGINES[v.engine];
    if (!e) throw new UsageError(`unknown engine ${JSON.stringify(v.engine)}: use kopia, restic or command`);
    engine = e;
  } else {
    engine = command ? engineForCommand(command) : ENGINES[flavour.engine]!;
  }
  if (engine.name === 'command' && !command) throw new UsageError('--engine command needs -c COMMAND');

  const layout = v.layout ?? 'tree';
  if (layout !== 'tree' && layout !== 'paths') throw new UsageError(`unknown layout ${JSON.stringify(layout)}: use tree or paths`);

  const mountRoot = v['mount-root'] ?? flavour.mountRoot;
  if (!mountRoot.startsWith('/')) throw new UsageError(`--mount-root must be an absolute path: ${mountRoot}`);
  const root = posix.normalize(mountRoot).replace(/\/+$/, '');
  if (root === '') throw new UsageError('--mount-root cannot be /');
  if (root === '/tmp' || root.startsWith('/tmp/') || root === '/var/tmp' || root.startsWith('/var/tmp/')) {
    throw new UsageError(`--mount-root must not be under a world-writable folder: ${mountRoot}`);
  }

  let wait = 0;
  if (v.wait !== undefined) {
    if (v.wait === 'forever') wait = Infinity;
    else if (/^\d+$/.test(v.wait)) wait = Number(v.wait);
    else throw new UsageError(`--wait takes a number of seconds: ${v.wait}`);
  }
  if (v.verbose && v.quiet) throw new UsageError('--verbose and --quiet cannot be used together');

  // ---- verify (issue 13)
  const verifyPercent = v.verify === undefined ? null : parseVerifyPercent(v.verify);
  const verifyCommand = v['verify-command'] !== undefined ? splitWords(v['verify-command']) : null;
  if (verifyCommand !== null && verifyCommand.length === 0) throw new UsageError('--verify-command needs a command');
  verifyProblem(engine.name, verifyPercent, verifyCommand);
  // ---- end verify

  return {
    mode,
    targets: positionals,
    all: Boolean(v.all),
    recursive: Boolean(v.recursive),
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
    verifyPercent,
    verifyCommand,
  };
}
