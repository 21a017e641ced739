// Helpers for the tests that run under systemd as PID 1 (no tests here).
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { promisify } from 'node:util';

const pexec = promisify(execFile);

/** Runs a command without blocking the event loop (our HTTP server must answer meanwhile). */
export async function cmd(program: string, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await pexec(program, args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof err.code === 'number' ? err.code : 1, stdout: err.stdout ?? '', stderr: err.stderr ?? '' };
  }
}

/** systemctl show -p NAME ... as an object. */
export async function unitProps(unit: string, ...names: string[]): Promise<Record<string, string>> {
  const r = await cmd('systemctl', 'show', unit, ...names.flatMap((n) => ['-p', n]));
  return Object.fromEntries(r.stdout.trim().split('\n').filter(Boolean).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
}

export async function journal(unit: string): Promise<string> {
  await cmd('journalctl', '--sync');
  return (await cmd('journalctl', '-u', unit, '-o', 'cat', '--no-pager')).stdout;
}

export async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 120_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Processes still in a unit's cgroup. */
export function cgroupProcs(unit: string): string[] {
  const f = `/sys/fs/cgroup/system.slice/system-kopiatomic.slice/${unit}/cgroup.procs`;
  return existsSync(f) ? readFileSync(f, 'utf8').split('\n').filter(Boolean) : [];
}

export function rmAll(...paths: string[]): void {
  for (const p of paths) rmSync(p, { recursive: true, force: true });
}
