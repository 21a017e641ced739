// What each command's file declares about its command line: its words, its
// operands, the flags it takes and its help. cli/commands.ts gathers them into
// the one table the parser, the help, the man pages and the completions read.
import type { Mode } from './options.js';

/** The parsed flags, by long name. */
export type FlagValues = Readonly<Record<string, string | boolean | string[] | undefined>>;

export interface CommandSpec {
  /** How it is called: ['run'], ['config', 'show']; [] is the flag form, the original script's. */
  words: readonly string[];
  mode: Mode;
  /** The operands, as the usage line shows them: '[JOB...]'. */
  operands: string;
  /** One line, for the list of commands. */
  summary: string;
  /** The help's paragraphs; {name} {mountRoot}... as in flags.ts. */
  about: string;
  /** The long names of the flags it takes, beyond help and version. */
  flags: readonly string[];
  /** Checks the words after its own (their number, what they are); returns the operands it keeps. */
  check(operands: string[], v: FlagValues, afterDash: number): string[];
  /** Words a shell completes for its operands. */
  completes?: 'job' | 'dataset';
}

/** `config show`, or the flag form's program name. */
export function commandName(spec: CommandSpec, program: string): string {
  return spec.words.length ? spec.words.join(' ') : program;
}
