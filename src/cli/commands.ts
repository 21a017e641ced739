// Every command, in the order help lists them: each one's words, operands,
// flags and help come from its own file.
import { backupSpec } from './backup.js';
import { checkSpec } from './check.js';
import { cleanupSpec } from './cleanup.js';
import type { CommandSpec } from './command.js';
import { configCheckSpec, configShowSpec } from './config.js';
import { execSpec } from './exec.js';
import { helpSpec } from './help.js';
import { jobsSpec } from './jobs.js';
import { restoreSpec } from './restore.js';
import { runSpec } from './run.js';
import { scheduleSpecs } from './schedule.js';
import { statusSpec } from './status.js';
import { forgetSpec } from './forget.js';

export const COMMANDS: readonly CommandSpec[] = [backupSpec, runSpec, configCheckSpec, configShowSpec, jobsSpec, statusSpec, ...scheduleSpecs, checkSpec, execSpec, restoreSpec, cleanupSpec, forgetSpec, helpSpec];

/** The first words: run, config, schedule... */
export const COMMAND_WORDS: readonly string[] = [...new Set(COMMANDS.flatMap((c) => c.words.slice(0, 1)))];

/** The commands a first word starts: one, or the group of `config` or `schedule`. */
export function commandsOf(word: string): CommandSpec[] {
  return COMMANDS.filter((c) => c.words[0] === word);
}

/** The commands that take a flag, as help names them ("the flag form" for the original command line). */
export function takersOf(long: string): string[] {
  return COMMANDS.filter((c) => c.flags.includes(long)).map((c) => (c.words.length ? c.words.join(' ') : 'the flag form'));
}
