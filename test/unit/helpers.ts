// Shared builders for the unit tests (no tests here).
import type { Dataset } from '../../src/discover/inventory.js';
import { poolOf } from '../../src/zfs/list.js';
import type { ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { existsSync, readFileSync } from 'node:fs';
import type { LiveOptions, LiveProcess, Runner, RunOptions, ExecResult } from '../../src/core/exec.js';
import { unescapeOctal, type MountEntry } from '../../src/zfs/mount-table.js';
import { Reporter } from '../../src/core/report.js';
import { mount2Argv, umount2Argv } from '../../src/platform/syscall-batch.js';

/**
 * The targets of an unmount command, by either carrier (platform/syscall-batch.ts):
 * `umount [-v] T...`, or perl's umount2 one-liner (the words umount2Argv puts before the targets, then T...); null for anything else.
 */
export function unmountTargets(argv: readonly string[]): string[] | null {
  if (argv[0] === 'umount') return argv.slice(1).filter((a) => a !== '-v');
  const carrier = umount2Argv([]);
  if (carrier && argv.length >= carrier.length && carrier.every((w, i) => argv[i] === w)) return argv.slice(carrier.length);
  return null;
}

/**
 * The [source, target] pairs of a batch mount, by either carrier: perl's
 * mount2 one-liner (the words mount2Argv puts before the pairs), or
 * mount(8) over a table (`... --fstab T` / `-F T`, read from the file); null for anything else.
 */
export function mountPairs(argv: readonly string[]): [string, string][] | null {
  const carrier = mount2Argv('zfs', []);
  if (carrier && argv.length >= carrier.length && carrier.every((w, i) => argv[i] === w)) {
    const rest = argv.slice(carrier.length);
    return rest.flatMap((w, i) => (i % 2 ? [] : [[w, rest[i + 1]!] as [string, string]]));
  }
  if (argv[0] === 'mount' && (argv.includes('--fstab') || argv.includes('-F'))) {
    return readFileSync(argv.at(-1)!, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((line) => line.split(' ').slice(0, 2).map(unescapeOctal) as [string, string]);
  }
  return null;
}

/** A command as text, the perl carriers shortened to `umount2 T...` and `mount2 S T...` (their scripts are long). */
export function commandText(argv: readonly string[]): string {
  if (argv[0] === 'perl' && unmountTargets(argv)) return ['umount2', ...unmountTargets(argv)!].join(' ');
  if (argv[0] === 'perl' && mountPairs(argv)) return ['mount2', ...mountPairs(argv)!.flat()].join(' ');
  return argv.join(' ');
}

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

/** What a live() command (the engine, a hook) ends with: its exit code; an Error is thrown by live(). */
export type LiveAnswer = (argv: readonly string[], opts: LiveOptions) => number | Error;

/**
 * The one fake system of the unit tests: a Runner that answers run() from a
 * function and live() from another (without one, live() throws), records
 * every call in order, and keeps a mount table of what its batch mounts
 * (mountPairs) mounted and its unmounts did not remove yet (for a
 * platform's readMounts).
 */
export class FakeRunner implements Runner {
  readonly dryRun = false;
  readonly counts = {};
  /** Every run() and live() call, in order (a live one with its options as `live`). */
  readonly calls: { argv: readonly string[]; opts?: RunOptions; live?: LiveOptions }[] = [];
  /** The environment of each live() call, in order. */
  readonly liveEnv: NodeJS.ProcessEnv[] = [];
  readonly mounted: MountEntry[] = [];
  constructor(
    private readonly answer: (argv: readonly string[], opts?: RunOptions) => ExecResult | Error | Promise<ExecResult | Error>,
    private readonly liveAnswer?: LiveAnswer,
  ) {}

  /** The argv of every call, in order. */
  get argvs(): string[][] {
    return this.calls.map((c) => [...c.argv]);
  }

  async run(argv: readonly string[], opts?: RunOptions): Promise<ExecResult> {
    this.calls.push({ argv, opts });
    const r = await this.answer(argv, opts);
    if (r instanceof Error) throw r;
    this.track(argv);
    return r;
  }

  live(argv: readonly string[], opts: LiveOptions = {}): LiveProcess {
    if (!this.liveAnswer) throw new Error('live() is not used by these tests');
    this.calls.push({ argv, live: opts });
    this.liveEnv.push(opts.env ?? {});
    const r = this.liveAnswer(argv, opts);
    if (r instanceof Error) throw r;
    const child = Object.assign(new EventEmitter(), { exitCode: r, kill: () => true }) as unknown as ChildProcess;
    return { child, done: Promise.resolve({ code: r, signal: null, stdout: '', stderr: '' }) };
  }

  /** The mount table after a successful batch mount (by mount(8): of a table file that exists) or unmount. */
  private track(argv: readonly string[]): void {
    if (argv[0] !== 'mount' || existsSync(argv.at(-1)!)) for (const [source, target] of mountPairs(argv) ?? []) this.mounted.push({ source, target, fstype: 'zfs', root: '/' });
    for (const t of unmountTargets(argv) ?? []) this.mounted.splice(0, this.mounted.length, ...this.mounted.filter((m) => m.target !== t));
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

/**
 * The identity program's answer (`zfs program -n -j POOL - NAME...`, zfs/identity-program.ts)
 * as OpenZFS prints it: each name that exists, with its guid as the program's
 * signed 64-bit number, its createtxg and creation.
 */
export function identityAnswer(facts: Iterable<[name: string, guid: string, txg: string, creation?: number]>): string {
  const ret = Object.fromEntries([...facts].map(([n, g, t, c]) => [n, `${BigInt.asIntN(64, BigInt(g))} ${t} ${c ?? 1700000000}`]));
  return JSON.stringify(Object.keys(ret).length ? { return: ret } : {}) + '\n';
}

/** Whether argv runs the identity program; its names are the words after `-`. */
export function identityNames(argv: readonly string[]): string[] | null {
  return argv[0] === 'zfs' && argv[1] === 'program' && argv[2] === '-n' ? argv.slice(argv.indexOf('-') + 1) : null;
}
