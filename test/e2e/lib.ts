// End-to-end helpers. These tests need real ZFS and root: they run inside the
// rig's guest (ZFSVM=1) or, with KOPIATOMIC_E2E_HOST=1, on any host with ZFS,
// where each test makes its own throw-away file-backed pool. They assert on
// what the system shows (zfs list, the mount table, restic restores), never on
// what kopiatomic printed.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { appendFileSync, chmodSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { platform } from 'node:os';
import { join, posix, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseMountinfo, parseMountP, type MountEntry } from '../../src/zfs/mount-table.js';

export const IN_GUEST = process.env['ZFSVM'] === '1';
export const ON_HOST = process.env['KOPIATOMIC_E2E_HOST'] === '1';
if (!IN_GUEST && !ON_HOST) {
  throw new Error(
    'the end-to-end suite needs real ZFS and root: run it with `npm run test:e2e` (in the guest) or KOPIATOMIC_E2E_HOST=1 on a ZFS host (`npm run test:host`)',
  );
}

export const ROOT = resolve(fileURLToPath(new URL('../../..', import.meta.url)));
export const KOPIATOMIC = join(ROOT, 'dist/app/bin/kopiatomic.js');
export const RESTOMIC = join(ROOT, 'dist/app/bin/restomic.js');
export const SCRATCH = '/var/tmp/kopiatomic-e2e';

export function sh(cmd: string, ...args: string[]): string {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

export function shOk(cmd: string, ...args: string[]): boolean {
  try {
    sh(cmd, ...args);
    return true;
  } catch {
    return false;
  }
}

export function zfs(...args: string[]): string {
  return sh('zfs', ...args);
}

let counter = 0;

/** The part of node:test's test context that runs cleanup once the test ended, passed or failed. */
export interface AfterTest {
  after(fn: () => void | Promise<void>): void;
}

/** A throw-away pool on a sparse file; destroy() removes it and the file (destroyAfter(t): once test t ended). */
export class Pool {
  readonly file: string;
  readonly mountpoint: string;

  private constructor(readonly name: string) {
    this.file = `${SCRATCH}/${name}.img`;
    this.mountpoint = `/${name}`;
  }

  /** datasets: paths below the pool, e.g. ['a', 'b', 'b/nested']; extra `-o` per dataset optional. */
  static create(datasets: (string | { name: string; props?: Record<string, string> })[] = [], size = '256M'): Pool {
    mkdirSync(SCRATCH, { recursive: true });
    const p = new Pool(`kt${process.pid % 100000}x${++counter}`);
    sh('truncate', '-s', size, p.file);
    return p.make(p.file, datasets);
  }

  /** A pool NAME on a whole disk (a scratch disk of the guest), made like `create`'s. */
  static onDevice(name: string, device: string, datasets: (string | { name: string; props?: Record<string, string> })[] = []): Pool {
    return new Pool(name).make(device, datasets);
  }

  /** A pool that exists already (imported after a reboot). */
  static existing(name: string): Pool {
    return new Pool(name);
  }

  private make(vdev: string, datasets: (string | { name: string; props?: Record<string, string> })[]): Pool {
    sh('zpool', 'create', '-f', '-O', 'atime=off', '-O', `mountpoint=${this.mountpoint}`, this.name, vdev);
    for (const d of datasets) {
      const spec = typeof d === 'string' ? { name: d } : d;
      const props = Object.entries(spec.props ?? {}).flatMap(([k, v]) => ['-o', `${k}=${v}`]);
      zfs('create', '-p', ...props, `${this.name}/${spec.name}`);
    }
    return this;
  }

  ds(rel = ''): string {
    return rel ? `${this.name}/${rel}` : this.name;
  }

  path(rel = ''): string {
    return rel ? posix.join(this.mountpoint, rel) : this.mountpoint;
  }

  /** Snapshots of this pool: name -> createtxg. */
  snapshots(): string[] {
    return zfs('list', '-H', '-t', 'snapshot', '-o', 'name', '-r', this.name).split('\n').filter(Boolean);
  }

  /** Registers destroy() with the test: it runs when the test ends, whether it passed or failed. */
  destroyAfter(t: AfterTest): this {
    t.after(() => this.destroy());
    return this;
  }

  destroy(): void {
    // A failed test may leave our mounts; never leave the pool behind.
    for (const m of mounts().filter((m) => m.source.startsWith(this.name + '/') || m.source.startsWith(this.name + '@'))) {
      shOk('umount', '-f', m.target);
    }
    shOk('zpool', 'destroy', '-f', this.name);
    rmSync(this.file, { force: true });
  }
}

export function mounts(): MountEntry[] {
  return platform() === 'linux' ? parseMountinfo(readFileSync('/proc/self/mountinfo', 'utf8')) : parseMountP(sh('mount', '-p'));
}

export function mountsUnder(root: string): MountEntry[] {
  return mounts().filter((m) => m.target === root || m.target.startsWith(root + '/'));
}

export interface Leftovers {
  snapshots: string[];
  holds: string[];
  mounts: string[];
  rootEntries: string[];
}

/** Everything of ours that a run could leave: snapshots, holds, mounts, folders. */
export function leftovers(pools: Pool[], mountRoot: string): Leftovers {
  const snaps = pools.flatMap((p) => p.snapshots()).filter((s) => s.includes('@kopiatomic'));
  const holds = snaps.length ? sh('zfs', 'holds', '-H', ...snaps).split('\n').filter(Boolean) : [];
  const rootEntries = existsSync(mountRoot) ? readdirSync(mountRoot) : [];
  return { snapshots: snaps, holds, mounts: mountsUnder(mountRoot).map((m) => m.target), rootEntries };
}

export const CLEAN: Leftovers = { snapshots: [], holds: [], mounts: [], rootEntries: [] };

/**
 * What is not ours on these pools, as the system shows it: every dataset and
 * snapshot with its guid and origin (ours excluded: named kopiatomic-…, unless
 * listed in `foreignSnaps`, snapshots named like ours that we did not make),
 * the holds on `foreignSnaps`, the datasets' own mounts (snapshot mounts are
 * `leftovers`' business). Equal before and after
 * = nothing foreign was touched.
 */
export function foreignState(pools: Pool[], foreignSnaps: string[]): string[] {
  const names = pools.map((p) => p.name);
  const list = zfs('list', '-H', '-p', '-t', 'all', '-o', 'name,guid,origin', '-r', ...names)
    .split('\n')
    .filter((l) => l && (!l.split('\t')[0]!.includes('@kopiatomic-') || foreignSnaps.includes(l.split('\t')[0]!)));
  const holds = foreignSnaps.length ? zfs('holds', '-H', ...foreignSnaps).split('\n').filter(Boolean) : [];
  const own = mounts()
    .filter((m) => m.fstype === 'zfs' && !m.source.includes('@') && names.some((n) => m.source === n || m.source.startsWith(n + '/')))
    .map((m) => `mount ${m.source} ${m.target}`);
  return [...list, ...holds.map((h) => `hold ${h}`), ...own].sort();
}

/** `leftovers`, without the foreign snapshots named like ours (and their holds). */
export function ourLeftovers(pools: Pool[], mountRoot: string, foreignSnaps: string[]): Leftovers {
  const l = leftovers(pools, mountRoot);
  const foreign = (s: string) => foreignSnaps.some((f) => s === f || s.startsWith(f + '\t'));
  return { ...l, snapshots: l.snapshots.filter((s) => !foreign(s)), holds: l.holds.filter((h) => !foreign(h)) };
}

export interface ExecResult {
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  events: Record<string, unknown>[];
}

export interface RunOptions {
  env?: NodeJS.ProcessEnv;
  /** Called for each --json event as it arrives, with the child process. */
  onEvent?: (e: Record<string, unknown>, child: ChildProcess) => void;
  timeoutMs?: number;
}

export function run(bin: string, args: string[], o: RunOptions = {}): Promise<ExecResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [bin, ...args], { env: { ...process.env, ...o.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let buf = '';
    const events: Record<string, unknown>[] = [];
    const timer = setTimeout(() => child.kill('SIGKILL'), o.timeoutMs ?? 120_000);
    child.stdout.on('data', (b: Buffer) => {
      const s = b.toString('utf8');
      stdout += s;
      buf += s;
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        if (!line.startsWith('{')) continue;
        try {
          const e = JSON.parse(line) as Record<string, unknown>;
          events.push(e);
          o.onEvent?.(e, child);
        } catch {
          // not an event
        }
      }
    });
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString('utf8')));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (process.env['E2E_VERBOSE'] === '1') process.stderr.write(stderr);
      resolvePromise({ code, signal, stdout, stderr, events });
    });
  });
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function waitFor(what: string, cond: () => boolean, ms = 90_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(200);
  }
}

/** The fields of /proc/PID/stat after the command name: [state, ppid, ...]; null once it is gone. */
function procStat(pid: number): string[] | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return null;
  }
}

/** Alive and not a zombie (an orphan's zombie may wait for a reaper). */
export function alive(pid: number): boolean {
  const f = procStat(pid);
  return f !== null && f[0] !== 'Z';
}

function pids(): number[] {
  return readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d) && Number(d) !== process.pid)
    .map(Number);
}

/** Processes with `arg` as one whole argument: an engine a killed run left, found by its mount root. */
export function procsWithArg(arg: string): number[] {
  return pids().filter((pid) => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').includes(arg) && alive(pid);
    } catch {
      return false; // gone meanwhile
    }
  });
}

/** Live processes running program `comm` (its name, at most 15 bytes), optionally only the children of `parent`. */
export function procsNamed(comm: string, parent?: number): number[] {
  return pids().filter((pid) => {
    try {
      if (readFileSync(`/proc/${pid}/comm`, 'utf8').trim() !== comm) return false;
    } catch {
      return false;
    }
    const f = procStat(pid);
    return f !== null && f[0] !== 'Z' && (parent === undefined || Number(f[1]) === parent);
  });
}

/**
 * A run that may leave an engine behind: resolves when kopiatomic itself
 * exits, not when its output pipes close (an orphaned engine keeps them open).
 * `started` gets the child at once (to signal it or find its children).
 */
export function startRun(
  bin: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  started?: (child: ChildProcess) => void,
): Promise<{ code: number | null; signal: string | null; stderr: string }> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [bin, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stdout.resume();
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString('utf8')));
    child.on('error', reject);
    child.on('exit', (code, signal) => resolvePromise({ code, signal, stderr }));
    started?.(child);
  });
}

/** A fresh restic repository; its env is what restic needs to use it. */
export function resticRepo(): NodeJS.ProcessEnv {
  mkdirSync(SCRATCH, { recursive: true });
  const repo = `${SCRATCH}/restic-${process.pid}-${++counter}`;
  rmSync(repo, { recursive: true, force: true });
  const env = { RESTIC_REPOSITORY: repo, RESTIC_PASSWORD: 'e2e-password', RESTIC_CACHE_DIR: `${SCRATCH}/restic-cache` };
  execFileSync('restic', ['init', '-q'], { env: { ...process.env, ...env }, stdio: 'ignore' });
  return env;
}

/**
 * Damages a local restic repository so that `restic check` fails: one pack file
 * gets a byte more than its index says. Removing a pack would do too, but
 * restic 0.14 retries the read of a missing pack with backoff for about two
 * minutes of an idle guest before it gives up; a wrong size it reports at once.
 */
export function damagePack(repository: string): string {
  const data = join(repository, 'data');
  const pack = readdirSync(data).flatMap((d) => readdirSync(join(data, d)).map((f) => join(data, d, f)))[0];
  if (!pack) throw new Error(`no pack file in ${data}`);
  appendFileSync(pack, '\0');
  return pack;
}

export function restic(env: NodeJS.ProcessEnv, ...args: string[]): string {
  return execFileSync('restic', args, { env: { ...process.env, ...env }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Every entry below dir: relative path -> type and content hash, for byte-for-byte comparison. */
export function treeDigest(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (rel: string) => {
    for (const name of readdirSync(join(dir, rel)).sort()) {
      const r = rel ? `${rel}/${name}` : name;
      const p = join(dir, r);
      const st = lstatSync(p);
      if (st.isDirectory()) {
        out[r] = 'dir';
        walk(r);
      } else if (st.isSymbolicLink()) out[r] = `link:${readlinkSync(p)}`;
      else out[r] = `file:${createHash('sha256').update(readFileSync(p)).digest('hex')}`;
    }
  };
  walk('');
  return out;
}

export function scratchDir(tag: string): string {
  const d = `${SCRATCH}/${tag}-${process.pid}-${++counter}`;
  rmSync(d, { recursive: true, force: true });
  mkdirSync(d, { recursive: true });
  return d;
}

export function events(r: ExecResult, name: string): Record<string, unknown>[] {
  return r.events.filter((e) => e['event'] === name);
}

export function summary(r: ExecResult): Record<string, unknown> | undefined {
  return events(r, 'summary').at(-1);
}

/** An executable /bin/sh script in dir: a backup command or wrapper for a test. */
export function script(dir: string, name: string, body: string): string {
  const p = `${dir}/${name}`;
  writeFileSync(p, `#!/bin/sh\n${body}\n`);
  chmodSync(p, 0o755);
  return p;
}

/**
 * Wrappers for `progs` first on PATH (in DIR/bin): each logs its argv (words
 * separated by 0x1f, one line per call) to DIR/argv.log, then runs the real
 * program. What the system was asked to do, as the system saw it.
 */
export function argvLogger(dir: string, progs: string[]): { env: NodeJS.ProcessEnv; bin: string; log: string; logged(): string[][]; clear(): void } {
  const log = `${dir}/argv.log`;
  const bin = `${dir}/bin`;
  mkdirSync(bin, { recursive: true });
  for (const prog of progs) {
    const real = realpathSync(sh('sh', '-c', `command -v ${prog}`).trim());
    // Under a lock: commands that run side by side would interleave their lines.
    script(bin, prog, `exec 9>>${log}; flock 9\n{ printf '%s' ${prog}; for a in "$@"; do printf '\\037%s' "$a"; done; printf '\\n'; } >&9\nexec 9>&-\nexec ${real} "$@"`);
  }
  return {
    env: { PATH: `${bin}:${process.env['PATH']}` },
    bin,
    log,
    logged: () => (existsSync(log) ? readFileSync(log, 'utf8').split('\n').filter(Boolean).map((l) => l.split('\x1f')) : []),
    clear: () => writeFileSync(log, ''),
  };
}
