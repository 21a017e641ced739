// Everything kopiatomic says goes through here: human lines on stderr, or one
// JSON object per line on stdout with --json (stdout then carries nothing else).
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

  constructor(o: ReportOptions) {
    this.json = o.json;
    this.verbosity = o.verbosity;
    this.name = o.name;
    this.out = o.out ?? ((l) => process.stdout.write(l + '\n'));
    this.err = o.err ?? ((l) => process.stderr.write(l + '\n'));
  }

  /** A structured event: printed only with --json. */
  event(event: string, fields: Record<string, unknown> = {}): void {
    if (this.json) this.out(JSON.stringify({ event, time: new Date().toISOString(), ...fields }));
  }

  log(level: Level, message: string): void {
    const rank = { error: 0, warn: 0, info: 1, verbose: 2 }[level];
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
    this.out(text);
  }
}
