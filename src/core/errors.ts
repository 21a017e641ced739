import { EXIT } from './exit-codes.js';

/** Bad input: one clear line, a usage hint, exit 2. */
export class UsageError extends Error {
  readonly exitCode = EXIT.usage;
}

/** Something went wrong before the backup ran. */
export class SetupError extends Error {
  readonly exitCode = EXIT.setupFailed;
}

/** Another run holds the lock for this mount root. */
export class LockedError extends Error {
  readonly exitCode = EXIT.locked;
}

/** An external command failed: carries argv, exit code and stderr. */
export class CommandError extends Error {
  constructor(
    readonly argv: readonly string[],
    readonly code: number | null,
    readonly signal: string | null,
    readonly stderr: string,
  ) {
    const how = signal ? `was killed by ${signal}` : `exited with ${code}`;
    const tail = stderr.trim() ? `: ${stderr.trim().split('\n').slice(-3).join(' | ')}` : '';
    super(`${argv[0]} ${how}${tail} (command: ${quoteArgv(argv)})`);
  }
}

/** Quote one word for display the way /bin/sh would read it back. */
export function quoteWord(word: string): string {
  if (word !== '' && /^[A-Za-z0-9_@%+=:,./-]+$/.test(word)) return word;
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

export function quoteArgv(argv: readonly string[]): string {
  return argv.map(quoteWord).join(' ');
}
