import { EXIT, interruptedCode } from './exit-status.js';

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

/** A signal stopped the run before it changed anything (e.g. while waiting for the lock): 128 + N. */
export class InterruptedError extends Error {
  readonly exitCode: number;
  constructor(
    readonly signal: string,
    message: string,
  ) {
    super(message);
    this.exitCode = interruptedCode(signal);
  }
}

/**
 * Why a command failed, decided once at the door (core/exec.ts) from typed
 * facts: the spawn error's errno, the signal, and for zfs/mount/umount the
 * program's own wording, classified in one place. Callers switch on this,
 * never on stderr text.
 *  - program-missing: the program is not installed / not found (ENOENT on spawn)
 *  - spawn-failed:    it could not be started (EACCES, E2BIG, ...)
 *  - not-found:       it ran and said the thing it was asked about does not exist
 *  - busy:            it ran and said the thing is busy (a mount in use)
 *  - signal:          it was killed by a signal
 *  - timeout:         it did not finish within its time limit and was killed (CommandTimeoutError)
 *  - failed:          any other non-zero exit
 */
export type FailureReason = 'program-missing' | 'spawn-failed' | 'not-found' | 'busy' | 'signal' | 'timeout' | 'failed';

/** The message of whatever was thrown (our errors and node's all carry one). */
export function errorMessage(e: unknown): string {
  return (e as Error).message;
}

/** An external command failed: carries argv, exit code, stderr and the reason. */
export class CommandError extends Error {
  constructor(
    readonly argv: readonly string[],
    readonly code: number | null,
    readonly signal: string | null,
    readonly stderr: string,
    readonly reason: FailureReason = signal ? 'signal' : 'failed',
  ) {
    const how =
      reason === 'program-missing'
        ? 'is not installed (not found in PATH or the system folders)'
        : reason === 'spawn-failed'
          ? 'could not be started'
          : signal
            ? `was killed by ${signal}`
            : `exited with ${code}`;
    const tail = stderr.trim() ? `: ${stderr.trim().split('\n').slice(-3).join(' | ')}` : '';
    super(`${argv[0]} ${how}${tail} (command: ${quoteArgv(argv).slice(0, 2000)})`);
  }
}

/**
 * A zfs, zpool, mount or umount command that did not finish within the time limit (a
 * suspended pool hangs them): it was killed, and the run stops with exit 9
 * instead of holding its lock forever.
 */
export class CommandTimeoutError extends CommandError {
  readonly exitCode = EXIT.timedOut;
  constructor(argv: readonly string[], readonly limitSeconds: number) {
    super(argv, null, 'SIGKILL', '', 'timeout');
    this.message = `${argv[0]} did not finish within ${limitSeconds} s and was killed (a suspended pool? see --zfs-timeout) (command: ${quoteArgv(argv).slice(0, 2000)})`;
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
