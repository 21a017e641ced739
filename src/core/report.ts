// Everything kopiatomic says goes through here: human lines on stderr, or one
// JSON object per line on stdout with --json (stdout then carries nothing else).
// Every word of it passes through the secrets' mask (core/secrets.ts).
//
// Our own output failing must never stop a run before its cleanup: stdout may
// be a pipe whose reader left (`kopiatomic --json | head -n 1`), stderr a
// logger that died or a terminal that hung up (EIO). Such a stream is then
// dropped, silently (there is nowhere left to say it), and the run goes on.
import type { Writable } from 'node:stream';
import { maskedJson, maskText } from './secrets.js';

const dead = new WeakSet<Writable>();
const guarded = new WeakSet<Writable>();

/** After its first error (EPIPE, EIO, ...) a stream is dropped instead of killing node. */
export function guardStream(stream: Writable): void {
  if (guarded.has(stream)) return;
  guarded.add(stream);
  stream.on('error', () => dead.add(stream));
}

/** Guards stdout and stderr; done when this module loads, so from the very start. */
export function guardStdio(): void {
  guardStream(process.stdout);
  guardStream(process.stderr);
}
guardStdio();

/** Writes unless the stream has failed before; never throws. */
export function safeWrite(stream: Writable, data: string | Uint8Array): void {
  if (dead.has(stream) || stream.destroyed || !stream.writable) return;
  try {
    stream.write(data);
  } catch {
    dead.add(stream);
  }
}

/** Whether a stream was dropped after an error (for tests and diagnostics). */
export function streamDead(stream: Writable): boolean {
  return dead.has(stream) || stream.destroyed;
}

export type Level = 'error' | 'warn' | 'info' | 'verbose';

export interface ReportOptions {
  json: boolean;
  verbosity: 0 | 1 | 2; // 0 quiet, 1 normal, 2 verbose
  name: string;
  out?: (line: string) => void;
  err?: (line: string) => void;
}

export class Reporter {
  readonly json: boolean;
  private readonly verbosity: 0 | 1 | 2;
  private readonly name: string;
  private readonly out: (line: string) => void;
  private readonly err: (line: string) => void;
  /** Sees every message at info level and above, whatever is printed (the ping body keeps the last lines). */
  private readonly listeners: ((line: string) => void)[] = [];

  constructor(o: ReportOptions) {
    this.json = o.json;
    this.verbosity = o.verbosity;
    this.name = o.name;
    const out = o.out ?? ((l: string) => safeWrite(process.stdout, l + '\n'));
    const err = o.err ?? ((l: string) => safeWrite(process.stderr, l + '\n'));
    // A writer given by the caller may throw too (a closed socket): never let it.
    this.out = (l) => {
      try {
        out(l);
      } catch {
        /* dropped: see safeWrite */
      }
    };
    this.err = (l) => {
      try {
        err(l);
      } catch {
        /* dropped */
      }
    };
  }

  /** A structured event: printed only with --json. */
  event(event: string, fields: Record<string, unknown> = {}): void {
    if (this.json) this.out(maskedJson({ event, time: new Date().toISOString(), ...fields }));
  }

  /** Adds a listener for every message at info level and above. */
  listen(f: (line: string) => void): () => void {
    this.listeners.push(f);
    return () => this.listeners.splice(this.listeners.indexOf(f), 1);
  }

  log(level: Level, text: string): void {
    const message = maskText(text);
    const rank = { error: 0, warn: 0, info: 1, verbose: 2 }[level];
    if (rank <= 1) for (const f of this.listeners) f(`${level === 'error' ? 'error: ' : level === 'warn' ? 'warning: ' : ''}${message}`);
    if (this.json) {
      if (rank <= this.verbosity || rank === 0) this.event('log', { level, message });
      return;
    }
    if (rank > this.verbosity) return;
    const prefix = level === 'error' ? 'error: ' : level === 'warn' ? 'warning: ' : '';
    this.err(`${this.name}: ${prefix}${message}`);
  }

  error(m: string): void { this.log('error', m); }
  warn(m: string): void { this.log('warn', m); }
  info(m: string): void { this.log('info', m); }
  verbose(m: string): void { this.log('verbose', m); }

  /** Plain text for the user on stdout (help, version, the human dry-run plan). */
  print(text: string): void {
    this.out(maskText(text));
  }
}
