// The one door to the system: every external command runs through here, as an
// argv array (never a shell string), is logged, honours dry run, and fails with
// an error that carries the command, its exit code and its stderr.
import { spawn, type ChildProcess } from 'node:child_process';
import { CommandError, quoteArgv } from './errors.js';
import type { Reporter } from './report.js';

export interface RunOptions {
  /** The command changes the system: a dry run prints it instead of running it. */
  mutates?: boolean;
  env?: NodeJS.ProcessEnv;
  /** Exit codes that are not failures (the result still carries the code). */
  okCodes?: readonly number[];
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface LiveOptions {
  env?: NodeJS.ProcessEnv;
  /** With --json, stdout carries our events, so the child's stdout goes to stderr. */
  stdoutToStderr?: boolean;
  /** Also keep the child's stdout (it is still shown), e.g. kopia's --json manifest. */
  captureStdout?: boolean;
}

export interface LiveProcess {
  child: ChildProcess;
  done: Promise<{ code: number | null; signal: string | null; stdout: string }>;
}

export interface Runner {
  readonly dryRun: boolean;
  /** Run to completion and capture its output. */
  run(argv: readonly string[], opts?: RunOptions): Promise<RunResult>;
  /** Start a long-running command whose output streams live (the backup engine). */
  live(argv: readonly string[], opts?: LiveOptions): LiveProcess;
}

/** How many processes of each program a run started: the benchmark reads this. */
export type SpawnCounts = Record<string, number>;

export class SystemRunner implements Runner {
  readonly counts: SpawnCounts = {};

  constructor(
    private readonly reporter: Reporter,
    readonly dryRun: boolean,
  ) {}

  private count(argv: readonly string[]): void {
    const prog = argv[0]!.split('/').pop()!;
    this.counts[prog] = (this.counts[prog] ?? 0) + 1;
  }

  async run(argv: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
    if (argv.length === 0) throw new Error('empty command');
    if (opts.mutates && this.dryRun) {
      this.reporter.verbose(`would run: ${quoteArgv(argv)}`);
      return { code: 0, stdout: '', stderr: '' };
    }
    this.reporter.verbose(`run: ${quoteArgv(argv)}`);
    this.count(argv);
    const started = Date.now();
    const result = await new Promise<RunResult & { signal: string | null }>((resolve, reject) => {
      const child = spawn(argv[0]!, argv.slice(1), {
        env: opts.env ?? process.env,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      child.stdout.on('data', (b: Buffer) => out.push(b));
      child.stderr.on('data', (b: Buffer) => err.push(b));
      child.on('error', (e: NodeJS.ErrnoException) =>
        reject(new CommandError(argv, e.code === 'ENOENT' ? 127 : 126, null, e.code === 'ENOENT' ? `${argv[0]}: not found in PATH` : `${argv[0]}: ${e.message}`)),
      );
      child.on('close', (code, signal) =>
        resolve({
          code: code ?? 128,
          signal,
          stdout: Buffer.concat(out).toString('utf8'),
          stderr: Buffer.concat(err).toString('utf8'),
        }),
      );
    });
    this.reporter.event('exec', {
      argv,
      mutates: Boolean(opts.mutates),
      exitCode: result.code,
      ms: Date.now() - started,
    });
    const ok = result.signal === null && (result.code === 0 || (opts.okCodes ?? []).includes(result.code));
    if (!ok) throw new CommandError(argv, result.signal ? null : result.code, result.signal, result.stderr);
    return { code: result.code, stdout: result.stdout, stderr: result.stderr };
  }

  live(argv: readonly string[], opts: LiveOptions = {}): LiveProcess {
    this.reporter.verbose(`run: ${quoteArgv(argv)}`);
    this.count(argv);
    const started = Date.now();
    const child = spawn(argv[0]!, argv.slice(1), {
      env: opts.env ?? process.env,
      // The engine keeps our terminal, so its progress display stays live.
      stdio: ['inherit', opts.captureStdout ? 'pipe' : opts.stdoutToStderr ? process.stderr : 'inherit', 'inherit'],
    });
    const chunks: Buffer[] = [];
    if (opts.captureStdout && child.stdout) {
      const sink = opts.stdoutToStderr ? process.stderr : process.stdout;
      child.stdout.on('data', (b: Buffer) => {
        chunks.push(b);
        sink.write(b);
      });
    }
    const done = new Promise<{ code: number | null; signal: string | null; stdout: string }>((resolve) => {
      child.on('error', (e) => {
        process.stderr.write(`${argv[0]}: ${e.message}\n`);
        resolve({ code: 127, signal: null, stdout: '' });
      });
      child.on('close', (code, signal) => {
        this.reporter.event('exec', { argv, mutates: true, exitCode: code, signal, ms: Date.now() - started });
        resolve({ code, signal, stdout: Buffer.concat(chunks).toString('utf8') });
      });
    });
    return { child, done };
  }
}
