// The namespace helper's safety on real directories: which mount targets it
// accepts, and what the next run removes of a dead run's files.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { checkNamespaceTarget } from '../../src/execute/namespace-targets.js';
import { ensureRunFilesDir, runFilesDir, sweepDeadRunFiles } from '../../src/execute/run-files.js';
import { quietReporter } from './helpers.js';

const ROOT = process.getuid?.() === 0;
const HERE = fileURLToPath(new URL('.', import.meta.url)).replace(/\/$/, '');
/** Whether every directory from / to HERE is root's alone (then targets below it can be accepted). */
const safeHere = ROOT && HERE.split('/').map((_, i, a) => a.slice(0, i + 1).join('/') || '/').every((d) => {
  const st = lstatSync(d);
  return st.isDirectory() && st.uid === 0 && (st.mode & 0o022) === 0;
});

test('namespace targets: a real directory below directories only root can change is accepted; symlinks, files and writable ancestors are refused', { skip: !safeHere }, () => {
  const base = mkdtempSync(`${HERE}/kt-nstarget-`);
  try {
    chmodSync(base, 0o755);
    mkdirSync(`${base}/home/u/data`, { recursive: true });
    checkNamespaceTarget(`${base}/home`, new Set());
    chmodSync(`${base}/home`, 0o777); // a directory others can write to, above the target
    assert.throws(() => checkNamespaceTarget(`${base}/home/u`, new Set()), /could be changed by another user/);
    assert.doesNotThrow(() => checkNamespaceTarget(`${base}/home/u`, new Set([`${base}/home`])), 'inside a snapshot already mounted (read-only) it cannot change');
    chmodSync(`${base}/home`, 0o755);
    symlinkSync('/etc', `${base}/home/link`);
    assert.throws(() => checkNamespaceTarget(`${base}/home/link`, new Set()), /symbolic link/);
    assert.throws(() => checkNamespaceTarget(`${base}/home/link/ssl`, new Set()), /symbolic link/);
    writeFileSync(`${base}/home/file`, '');
    assert.throws(() => checkNamespaceTarget(`${base}/home/file`, new Set()), /not a directory/);
    assert.throws(() => checkNamespaceTarget(`${base}/home/missing`, new Set()), /missing/);
    assert.throws(() => checkNamespaceTarget(`${base}/home/../home`, new Set()), /normalised/);
    assert.throws(() => checkNamespaceTarget('relative/dir', new Set()), /absolute/);
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
});

function startTicks(pid: number): string {
  const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return s.slice(s.lastIndexOf(')') + 2).split(' ')[19]!;
}

/** A pid that no process has now. */
function deadPid(): number {
  for (let p = 4_000_000; ; p--) {
    try {
      process.kill(p, 0);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ESRCH') return p;
    }
  }
}

test("the next run removes a dead process's directory and loose files, and nothing that is alive or not provably ours", { skip: !existsSync('/proc/self/stat') }, async () => {
  const state = mkdtempSync(`${tmpdir()}/kt-runfiles-`);
  const live = spawn('sleep', ['30'], { stdio: 'ignore' });
  try {
    const boot = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    const mine = ensureRunFilesDir(state);
    assert.equal(mine, runFilesDir(state));
    assert.equal(lstatSync(mine).mode & 0o777, 0o700);
    const dead = deadPid();
    const deadDir = `${state}/proc-${dead}-12345`;
    mkdirSync(`${deadDir}/stage-RUN`, { recursive: true, mode: 0o700 });
    chmodSync(deadDir, 0o700);
    writeFileSync(`${deadDir}/RUN.datasets`, 'tank/a\n', { mode: 0o600 });
    writeFileSync(`${deadDir}/ns-job-RUN.json`, '{}', { mode: 0o600 });
    await new Promise((r) => setTimeout(r, 100));
    const liveDir = `${state}/proc-${live.pid}-${startTicks(live.pid!)}`;
    mkdirSync(liveDir, { mode: 0o700 });
    const reused = `${state}/proc-${live.pid}-1`; // the pid is alive, but it is another process now
    mkdirSync(reused, { mode: 0o700 });
    const open = `${state}/proc-${dead - 1}-1`;
    mkdirSync(open, { mode: 0o755 });
    chmodSync(open, 0o755);
    symlinkSync('/etc', `${state}/proc-${dead - 2}-1`);
    writeFileSync(`${state}/ns-job-${dead}.json`, '{}', { mode: 0o600 });
    writeFileSync(`${state}/ns-job-${live.pid}.json`, '{}', { mode: 0o600 });
    writeFileSync(`${state}/20261206T100000Z-${dead}-abcdef.datasets`, 'x\n', { mode: 0o600 });
    writeFileSync(`${state}/%2Fkopia.lock`, '{}', { mode: 0o600 });
    const { reporter, lines } = quietReporter();
    const removed = sweepDeadRunFiles(state, boot, reporter).sort();
    assert.deepEqual(removed, [deadDir, reused, `${state}/20261206T100000Z-${dead}-abcdef.datasets`, `${state}/ns-job-${dead}.json`].sort());
    for (const p of [mine, liveDir, open, `${state}/proc-${dead - 2}-1`, `${state}/ns-job-${live.pid}.json`, `${state}/%2Fkopia.lock`]) assert.ok(existsSync(p) || lstatSync(p).isSymbolicLink(), `${p} stays`);
    assert.ok(lines.some((l) => l.includes(open) && /not provably ours/.test(l)), lines.join('\n'));
    assert.ok(existsSync('/etc/hostname') || existsSync('/etc'), 'the symlink was not followed');
  } finally {
    live.kill('SIGKILL');
    rmSync(state, { recursive: true, force: true });
  }
});
