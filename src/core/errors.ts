// Our errors, each with the status it stands for and its exit code
// (core/exit-status.ts errorStatus reads them); anything else thrown is a bug.
import { EXIT, interruptedCode, StatusError, type Status } from './exit-status.js';

/** Bad input: one clear line, a usage hint, exit 2. */
export class UsageError extends StatusError {
  readonly status: Status = 'usage';
  readonly exitCode: number = EXIT.usage;
}

/** Something went wrong before the backup ran. */
export class SetupError extends StatusError {
  readonly status: Status = 'setup-failed';
  readonly exitCode: number = EXIT.setupFailed;
}

/** Another run holds the lock for this mount root. */
export class LockedError extends StatusError {
  readonly status: Status = 'locked';
  readonly exitCode: number = EXIT.locked;
}

/** A signal stopped the run before it changed anything (e.g. while waiting for the lock): 128 + N. */
export class InterruptedError extends StatusError {
  readonly status: Status = 'interrupted';
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

/**
 * An external command failed: carries argv, exit code, stderr and the reason.
 * Outside the executor it stops the run as a setup failure (4), except a
 * program that is not installed (zfs on a machine without ZFS), which is bad
 * input like a missing engine (2).
 */
export class CommandError extends StatusError {
  get status(): Status {
    return this.reason === 'program-missing' ? 'usage' : 'setup-failed';
  }
  get exitCode(): number {
    return this.reason === 'program-missing' ? EXIT.usage : EXIT.setupFailed;
  }
  constructor(
    readonly argv: readonly string[],
    readonly code: number | null,
    readonly signal: string | null,
    readonly stderr: string,
    readonly reason: FailureReason = signal ? 'signal' : 'failed',
  ) {
    const how =
      reason === 'program-missing'
        ? 'is not installed (not found in PATH or the system directories)'
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
  override get status(): Status {
    return 'timed-out';
  }
  override get exitCode(): number {
    return EXIT.timedOut;
  }
  /** `quiet`: the limit ran from its last output (a batch that reports progress), not from its start. */
  constructor(argv: readonly string[], readonly limitSeconds: number, quiet = false) {
    super(argv, null, 'SIGKILL', '', 'timeout');
    const what = quiet ? `made no progress for ${limitSeconds} s` : `did not finish within ${limitSeconds} s`;
    this.message = `${argv[0]} ${what} and was killed (a suspended pool? see --zfs-timeout) (command: ${quoteArgv(argv).slice(0, 2000)})`;
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
