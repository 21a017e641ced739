// What a bad configuration is, and where the configuration lives: kept apart
// from the loader so that a run given by flags never loads the schema library.
import { UsageError } from '../core/errors.js';

export interface Problem {
  file: string;
  line: number;
  col: number;
  message: string;
}

export function formatProblem(p: Problem): string {
  return p.line > 0 ? `${p.file}:${p.line}:${p.col}: ${p.message}` : `${p.file}: ${p.message}`;
}

/** Bad configuration: every problem found, each with its place; exit 2. */
export class ConfigError extends UsageError {
  readonly problems: Problem[];
  constructor(problems: Problem[]) {
    // In file order, then by place in the file.
    const order = [...new Set(problems.map((p) => p.file))];
    problems = [...problems].sort((a, b) => order.indexOf(a.file) - order.indexOf(b.file) || a.line - b.line || a.col - b.col);
    super(problems.length === 1 ? formatProblem(problems[0]!) : `${problems.length} problems in the configuration:\n${problems.map(formatProblem).join('\n')}`);
    this.problems = problems;
  }
}

export function defaultConfigPath(platform: string = process.platform): string {
  return platform === 'freebsd' ? '/usr/local/etc/kopiatomic/kopiatomic.toml' : '/etc/kopiatomic/kopiatomic.toml';
}
