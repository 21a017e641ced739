// How an action is shown: as the shell command that would do the same, so
// the dry run, the log and the journal read alike.
import { quoteArgv } from '../core/errors.js';
import type { Action } from './types.js';

export function display(a: Action, orElse?: Action): string {
  // A command with its input (a channel program) and what runs if it fails:
  // `cmd <<'END' || other`, then the input, as the shell reads it.
  if (a.kind === 'exec' && a.input !== undefined) return `${quoteArgv(a.argv)} <<'KOPIATOMIC_PROGRAM'${orElse ? ` || ${display(orElse)}` : ''}\n${a.input}KOPIATOMIC_PROGRAM`;
  if (orElse) return `${display(a)} || ${display(orElse)}`;
  if (a.kind === 'exec') return quoteArgv(a.argv);
  if (a.kind === 'mkdir') return quoteArgv(['mkdir', '-m', a.mode.toString(8).padStart(4, '0'), a.path]);
  if (a.kind === 'rmdir') return quoteArgv(['rmdir', a.path]);
  // A file written in-process (a mount table), shown as the shell would write it.
  return `${quoteArgv(['install', '-m', a.mode.toString(8).padStart(4, '0'), '/dev/stdin', a.path])} <<'KOPIATOMIC_TABLE'\n${a.content}KOPIATOMIC_TABLE`;
}

/**
 * A long command shortened for a log line (one per target of a batch): its
 * first words, each cut to 40 characters (the umount2 one-liner is one word
 * of 400), and how many more (the `exec` event has it whole).
 */
export function displayBrief(a: Action, words = 3): string {
  if (a.kind !== 'exec' || (a.argv.length <= words + 2 && a.argv.every((w) => w.length <= 40))) return display(a);
  const head = a.argv.slice(0, words).map((w) => (w.length > 40 ? `${w.slice(0, 39)}…` : w));
  return `${quoteArgv(head)} … (+${a.argv.length - head.length} more)`;
}
