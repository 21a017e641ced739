// --verify[=PERCENT] and --verify-command: parsing and the checks that need
// no system access (so bad values exit 2 before anything is locked).
import { UsageError } from '../core/errors.js';

/** "100", "10", "2.5" -> a number in (0, 100]; anything else is a usage error. */
export function parseVerifyPercent(text: string): number {
  const t = text.trim().replace(/%$/, '');
  const n = /^\d+(\.\d+)?$/.test(t) ? Number(t) : NaN;
  if (!(n > 0 && n <= 100)) throw new UsageError(`--verify takes a percentage of files to compare, more than 0 and at most 100: ${JSON.stringify(text)}`);
  return n;
}

/**
 * The command engine cannot restore by itself: verification needs the user's
 * own restore command. Throws a UsageError when --verify cannot be honoured.
 */
export function verifyProblem(engine: 'kopia' | 'restic' | 'command', percent: number | null, command: string[] | null): void {
  if (percent === null) return;
  if (engine === 'command' && !command) {
    throw new UsageError(
      '--verify with the command engine needs --verify-command CMD (config verify_command): a command that restores the backup just made into the folder given as its last argument',
    );
  }
}
