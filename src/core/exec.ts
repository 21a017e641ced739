// The one door to the system: every external command runs through here, as an
// argv array (never a shell string), is logged, honours dry run, and fails with
// an error that carries the command, its exit code, its stderr and a typed
// reason (core/classify.ts). Nothing here throws past its caller's try: a
// spawn that throws synchronously (E2BIG: one argv or env string over
// 128 KiB) is a CommandError like any other failure.
import { spawn, type ChildProcess } from 'node:child_process';
import { classifyExit, classifySpawn } from './classify.js';
import { CommandError, CommandTimeoutError, quoteArgv, type FailureReason } from './errors.js';
import { safeWrite, type Reporter } from './report.js';
import { useSystemPath } from './system-path.js';

export interface RunOptions {
  /** The command changes the system: a dry run prints it instead of running it. */
  mutates?: boolean;
  env?: NodeJS.ProcessEnv;
  /** Exit codes that are not failures (the result still carries the code). */
  okCodes?: readonly number[];
  /** Written to the command's standard input (a channel program); otherwise stdin is closed. */
  input?: string;
  /**
   * The command reports each thing it finishes (a batch mount or unmount,
   * whatever carries it): it is limited as a zfs command is, and its time
   * limit restarts with every output, so a long batch that keeps going is
   * not killed, while one that stops is.
   */
  progress?: boolean;
}

/**
 * One shape for a finished command, whether it succeeded or failed (as
 * execa's result): how it ended, its output, and the kind of failure in
 * fields. run() returns it on success and throws a CommandError (the same
 * facts) on failure; live() always returns it.
 */
export interface ExecResult {
  /** The exit code; null when a signal ended it. 127/126 when it could not be started (see reason). */
  code: number | null;
  /** The signal that ended it; absent or null when it exited. */
  signal?: string | null;
  stdout: string;
  /** Empty for a live command: its stderr is ours. */
  stderr: string;
  /** Why it failed (core/errors.ts FailureReason); absent when it succeeded. */
  reason?: FailureReason;
  /** It ran past its time limit and was killed. */
  timedOut?: boolean;
}

export interface LiveOptions {
  env?: NodeJS.ProcessEnv;
  /** With --json, stdout carries our events, so the child's stdout goes to stderr. */
  stdoutToStderr?: boolean;
  /** Also keep the child's stdout (it is still shown), e.g. kopia's --json manifest. */
  captureStdout?: boolean;
}


export interface LiveProcess {
  /** null when the program could not be started (done then says why). */
  child: ChildProcess | null;
  done: Promise<ExecResult>;
}

export interface Runner {
  readonly dryRun: boolean;
  /** Run to completion and capture its output. */
  run(argv: readonly string[], opts?: RunOptions): Promise<ExecResult>;
  /** Start a long-running command whose output streams live (the backup engine). Never throws. */
  live(argv: readonly string[], opts?: LiveOptions): LiveProcess;
}

/** Signals a terminal or a service manager sends to a whole process group. */
const EARLY_SIGNALS = new Set(['SIGINT', 'SIGHUP', 'SIGTERM', 'SIGQUIT']);

/** The programs the watchdog limits: a suspended pool hangs them in the kernel (mount and umount of its snapshots too). */
const WATCHED = new Set(['zfs', 'zpool', 'mount', 'umount']);

/** The default limit for one zfs, zpool, mount or umount command, in seconds (--zfs-timeout, zfs_timeout). */
export const ZFS_TIMEOUT_DEFAULT = 600;

/** How many processes of each program a run started: the benchmark reads this. */
export type SpawnCounts = Record<string, number>;

/** A program that could not be started: missing (ENOENT) or anything else (EACCES, E2BIG, ...). */
export function spawnFailure(argv: readonly string[], e: unknown): CommandError {
  const code = (e as NodeJS.ErrnoException)?.code;
  const reason = classifySpawn(code);
  const detail = reason === 'program-missing' ? '' : `${argv[0]}: ${(e as Error)?.message ?? String(e)}`;
  return new CommandError(argv, reason === 'program-missing' ? 127 : 126, null, detail, reason);
}

export class SystemRunner implements Runner {
  readonly counts: SpawnCounts = {};
  /** How long one zfs, zpool, mount or umount command may run before it is killed (ms); 0 = no limit. */
  zfsTimeoutMs = ZFS_TIMEOUT_DEFAULT * 1000;

  constructor(
    private readonly reporter: Reporter,
    readonly dryRun: boolean,
  ) {
    // Once per process, before the first spawn (see core/system-path.ts).
    useSystemPath();
  }

  private count(argv: readonly string[]): void {
    const prog = argv[0]!.split('/').pop()!;
    this.counts[prog] = (this.counts[prog] ?? 0) + 1;
  }

  async run(argv: readonly string[], opts: RunOptions = {}): Promise<ExecResult> {
    if (argv.length === 0) throw new Error('empty command');
    if (opts.mutates && this.dryRun) {
      this.reporter.verbose(`would run: ${quoteArgv(argv)}`);
      return { code: 0, stdout: '', stderr: '' };
    }
    this.reporter.verbose(`run: ${quoteArgv(argv)}`);
    this.count(argv);
    const started = Date.now();
    const limit = opts.progress || WATCHED.has(argv[0]!.split('/').pop()!) ? this.zfsTimeoutMs : 0;
    let result = await this.spawnOnce(argv, opts, limit);
    // A child of ours in its own session still gets a signal sent to our
    // process group between fork() and its setsid(): libuv blocks signals
    // across that window and unblocks them just before exec, so the child
    // dies by that signal before the program ever ran. Nothing happened, so
    // it is run again. (Nobody else signals these children: a terminal's
    // Ctrl-C, hang-up or a group-wide SIGTERM is the only source.)
    for (let i = 0; i < 3 && result.signal !== null && EARLY_SIGNALS.has(result.signal) && result.stdout === '' && result.stderr === ''; i++) {
      this.reporter.verbose(`${argv[0]} was stopped by ${result.signal} before it started: running it again`);
      result = await this.spawnOnce(argv, opts, limit);
    }
    this.reporter.event('exec', {
      argv,
      mutates: Boolean(opts.mutates),
      exitCode: result.code,
      ms: Date.now() - started,
      ...(result.timedOut ? { timedOut: true } : {}),
    });
    if (result.timedOut) throw new CommandTimeoutError(argv, limit / 1000, Boolean(opts.progress));
    const ok = result.signal === null && (result.code === 0 || (opts.okCodes ?? []).includes(result.code));
    if (!ok) {
      const reason: FailureReason = result.signal ? 'signal' : classifyExit(argv[0]!, result.stderr);
      throw new CommandError(argv, result.signal ? null : result.code, result.signal, result.stderr, reason);
    }
    return { code: result.code, signal: null, stdout: result.stdout, stderr: result.stderr };
  }

  /**
   * `limitMs` (0: none): past it (since the start, or with `progress` since
   * the last output) the command's process group is killed and the promise
   * settles at once, without waiting for the exit: a process stuck in the
   * kernel (a suspended pool) cannot be waited for.
   */
  private spawnOnce(argv: readonly string[], opts: RunOptions, limitMs = 0): Promise<ExecResult & { code: number; signal: string | null }> {
    return new Promise<ExecResult & { code: number; signal: string | null }>((resolve, reject) => {
      let child: ChildProcess;
      try {
        child = spawn(argv[0]!, argv.slice(1), {
          env: opts.env ?? process.env,
          stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
          // Its own session and process group: the terminal's Ctrl-C (a
          // second one during cleanup) or hang-up must not reach the zfs and
          // umount commands of our cleanup (see run() for the one window
          // where it still can).
          detached: true,
        });
      } catch (e) {
        reject(spawnFailure(argv, e));
        return;
      }
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      let settled = false;
      if (opts.input !== undefined) {
        // A program that exits without reading it all (EPIPE) fails on its own exit code.
        child.stdin!.on('error', () => {});
        child.stdin!.end(opts.input);
      }
      const kill = () => {
        if (settled) return;
        settled = true;
        try {
          process.kill(-child.pid!, 'SIGKILL'); // its own process group (detached)
        } catch {
          child.kill('SIGKILL');
        }
        // Not waited for: our pipes and the handle are let go so we can exit.
        child.stdout!.destroy();
        child.stderr!.destroy();
        child.stdin?.destroy();
        child.unref();
        resolve({ code: 137, signal: 'SIGKILL', timedOut: true, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') });
      };
      const watchdog = limitMs > 0 ? setTimeout(kill, limitMs) : null;
      // Progress restarts the limit (refresh() re-arms the same timer: no allocation per line).
      const progressed = watchdog && opts.progress ? () => watchdog.refresh() : () => {};
      child.stdout!.on('data', (b: Buffer) => {
        out.push(b);
        progressed();
      });
      child.stderr!.on('data', (b: Buffer) => {
        err.push(b);
        progressed();
      });
      child.on('error', (e) => {
        // Only a failure to start counts here (a failed kill() also emits 'error').
        if (settled || child.pid !== undefined) return;
        settled = true;
        if (watchdog) clearTimeout(watchdog);
        reject(spawnFailure(argv, e));
      });
      child.on('close', (code, signal) => {
        if (watchdog) clearTimeout(watchdog);
        if (settled) return;
        settled = true;
        resolve({
          code: code ?? 128,
          signal,
          stdout: Buffer.concat(out).toString('utf8'),
          stderr: Buffer.concat(err).toString('utf8'),
        });
      });
    });
  }

  live(argv: readonly string[], opts: LiveOptions = {}): LiveProcess {
    this.reporter.verbose(`run: ${quoteArgv(argv)}`);
    this.count(argv);
    const started = Date.now();
    const failed = (e: unknown): ExecResult => {
      const f = spawnFailure(argv, e);
      this.reporter.error(f.message);
      this.reporter.event('exec', { argv, mutates: true, exitCode: f.code, reason: f.reason, ms: Date.now() - started });
      return { code: f.code, signal: null, stdout: '', stderr: '', reason: f.reason };
    };
    let child: ChildProcess;
    try {
      child = spawn(argv[0]!, argv.slice(1), {
        env: opts.env ?? process.env,
        // The engine keeps our terminal and process group, so its progress
        // display stays live and a Ctrl-C reaches it (we forward it too).
        // Our fd 2, not the process.stderr stream: the stream may be gone.
        stdio: ['inherit', opts.captureStdout ? 'pipe' : opts.stdoutToStderr ? 2 : 'inherit', 'inherit'],
      });
    } catch (e) {
      // E2BIG and friends are thrown, not emitted: the caller still gets a
      // finished process, so the run goes on to its cleanup.
      return { child: null, done: Promise.resolve(failed(e)) };
    }
    const chunks: Buffer[] = [];
    if (opts.captureStdout && child.stdout) {
      const sink = opts.stdoutToStderr ? process.stderr : process.stdout;
      child.stdout.on('data', (b: Buffer) => {
        chunks.push(b);
        safeWrite(sink, b);
      });
    }
    const done = new Promise<ExecResult>((resolve) => {
      let settled = false;
      child.on('error', (e) => {
        if (settled || child.pid !== undefined) return;
        settled = true;
        resolve(failed(e));
      });
      child.on('close', (code, signal) => {
        if (settled) return;
        settled = true;
        this.reporter.event('exec', { argv, mutates: true, exitCode: code, signal, ms: Date.now() - started });
        resolve({ code, signal, stdout: Buffer.concat(chunks).toString('utf8'), stderr: '' });
      });
    });
    return { child, done };
  }
}
