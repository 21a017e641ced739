// `kopiatomic help [COMMAND]`, `COMMAND --help`: the usage and help texts,
// made from each command's declaration and the flag table.
import { ENGINES } from '../engine/index.js';
import { defaultConfigPath } from '../config/problems.js';
import { statusFileDefault, type Flavour } from '../config/job.js';
import type { CommandSpec } from './command.js';
import { FLAG, fillHelp, flagSyntax, GENERAL_FLAGS, GROUPS, type Flag, type HelpWords } from './flags.js';

export const helpSpec: CommandSpec = {
  words: ['help'],
  mode: 'help',
  operands: '[COMMAND]',
  summary: "this help, or a command's",
  about: `Prints the help of COMMAND (run, config, config show, schedule...), or
of the whole program.`,
  flags: [],
  check: (operands) => operands,
};

export const EXIT_CODES_TEXT = `Exit codes: 0 ok, 1 backup failed, 2 bad usage, 3 partial backup, 4 setup
failed, 5 cleanup incomplete, 6 another run holds the lock, 7 post hook failed,
8 verification could not run, 9 a zfs command timed out, 128+N interrupted by
signal N (129 HUP, 130 INT, 143 TERM). A verification that finds a difference
exits 1. status has its own (0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN).`;

export function helpWords(f: Flavour): HelpWords {
  return {
    name: f.name,
    mountRoot: f.mountRoot,
    engine: f.engine,
    command: ENGINES[f.engine]!.defaultCommand.join(' '),
    config: defaultConfigPath(),
    statusFile: statusFileDefault(),
  };
}

/** A command's usage line, after "usage: ". */
export function synopsis(spec: CommandSpec, program: string): string {
  if (!spec.words.length) return `${program} [-ahnrv] [-c CMD] [-o OPTS]... [-p CMD] [-q CMD] [options] ${spec.operands}`;
  const flags = spec.flags.length ? ' [options]' : '';
  return `${program} ${spec.words.join(' ')}${flags}${spec.operands ? ` ${spec.operands}` : ''}`;
}

export function usageLines(commands: readonly CommandSpec[], program: string): string {
  return commands.map((c, i) => `${i ? '       ' : 'usage: '}${synopsis(c, program)}`).join('\n');
}

/** Words filled into lines of at most `width` characters. */
export function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(line);
  return lines;
}

const COLUMN = 25;

function flagLines(f: Flag, w: HelpWords): string[] {
  const head = `  ${flagSyntax(f)}`;
  const body = wrap(fillHelp(f.help, w), 78 - COLUMN);
  const pad = ' '.repeat(COLUMN);
  if (head.length < COLUMN - 1) return [head.padEnd(COLUMN) + body[0], ...body.slice(1).map((l) => pad + l)];
  return [head, ...body.map((l) => pad + l)];
}

/** A command's flags under their groups' headings. */
export function flagsHelp(longs: readonly string[], w: HelpWords): string {
  const flags = [...longs, ...GENERAL_FLAGS].map((l) => FLAG.get(l)!);
  const out: string[] = [];
  for (const g of GROUPS) {
    const inGroup = flags.filter((f) => f.group === g);
    if (!inGroup.length) continue;
    out.push(`${g}:`);
    for (const f of inGroup) out.push(...flagLines(f, w));
  }
  return out.join('\n');
}

function commandHelp(spec: CommandSpec, w: HelpWords): string {
  return `usage: ${synopsis(spec, w.name)}\n\n${fillHelp(spec.about, w)}\n\n${flagsHelp(spec.flags, w)}`;
}

/** The whole program's help: every usage line, the flag form's flags, the commands. */
function programHelp(commands: readonly CommandSpec[], w: HelpWords): string {
  const flagForm = commands.find((c) => !c.words.length)!;
  const list = commands
    .filter((c) => c.words.length)
    .flatMap((c) => {
      const head = `  ${c.words.join(' ')}${c.operands ? ` ${c.operands}` : ''}`;
      const body = wrap(c.summary, 78 - COLUMN);
      return head.length < COLUMN - 1 ? [head.padEnd(COLUMN) + body[0], ...body.slice(1).map((l) => ' '.repeat(COLUMN) + l)] : [head, ...body.map((l) => ' '.repeat(COLUMN) + l)];
    });
  return [
    usageLines(commands, w.name),
    fillHelp(flagForm.about, w),
    flagsHelp(flagForm.flags, w),
    `Commands:\n${list.join('\n')}\n\n'${w.name} help COMMAND' or '${w.name} COMMAND --help' shows a command's own flags.`,
    EXIT_CODES_TEXT,
  ].join('\n\n');
}

/** The help of `topic` (its words, e.g. ['config'] or ['run']), or of the whole program. */
export function helpText(commands: readonly CommandSpec[], f: Flavour, topic: readonly string[] = []): string {
  const w = helpWords(f);
  if (!topic.length) return programHelp(commands, w);
  const specs = commands.filter((c) => topic.every((t, i) => c.words[i] === t));
  return specs.map((s) => commandHelp(s, w)).join('\n\n');
}

/** The usage lines a usage error ends with: the command's, or all of them. */
export function usageFor(commands: readonly CommandSpec[], program: string, topic: readonly string[] = []): string {
  const specs = topic.length ? commands.filter((c) => topic.every((t, i) => c.words[i] === t)) : commands;
  return usageLines(specs.length ? specs : commands, program);
}
