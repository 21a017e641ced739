// Shared builders for the unit tests (no tests here).
import type { Dataset } from '../../src/discover/inventory.js';
import { poolOf } from '../../src/zfs/list.js';
import type { Runner, RunOptions, ExecResult, LiveProcess } from '../../src/core/exec.js';
import { Reporter } from '../../src/core/report.js';

/** A mounted dataset by default; override anything. */
export function ds(name: string, mountedAt: string | null, extra: Partial<Dataset> = {}): Dataset {
  return {
    name,
    pool: poolOf(name),
    canmount: 'on',
    mounted: mountedAt !== null,
    keystatus: null,
    mountpoint: mountedAt ?? `/${name}`,
    mountedAt,
    ...extra,
  };
}

/** A Runner that answers run() from a function and records every call. */
export class FakeRunner implements Runner {
  readonly dryRun = false;
  readonly calls: { argv: readonly string[]; opts?: RunOptions }[] = [];
  constructor(private readonly answer: (argv: readonly string[]) => ExecResult | Error | Promise<ExecResult | Error>) {}
  async run(argv: readonly string[], opts?: RunOptions): Promise<ExecResult> {
    this.calls.push({ argv, opts });
    const r = await this.answer(argv);
    if (r instanceof Error) throw r;
    return r;
  }
  live(): LiveProcess {
    throw new Error('live() is not used by these tests');
  }
}

/** A quiet reporter that keeps what it would print. */
export function quietReporter(): { reporter: Reporter; lines: string[] } {
  const lines: string[] = [];
  const reporter = new Reporter({ json: false, verbosity: 1, name: 'test', out: (l) => lines.push(l), err: (l) => lines.push(l) });
  return { reporter, lines };
}

/**
 * `zfs list` output in kopiatomic's column order (name, canmount, mounted,
 * keystatus, kopiatomic:backup, mountpoint, name) from short rows
 * "name<TAB>canmount<TAB>mounted<TAB>keystatus<TAB>mountpoint"; the
 * property is "-" (unset) unless `backup` names it.
 */
export function zfsRows(text: string, backup: Record<string, string> = {}): string {
  return text
    .split('\n')
    .map((l) => {
      if (!l) return l;
      const c = l.split('\t');
      return [...c.slice(0, 4), backup[c[0]!] ?? '-', c.slice(4).join('\t'), c[0]].join('\t');
    })
    .join('\n');
}
