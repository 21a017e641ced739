// The journal: before each change the run appends (and fsyncs) how to undo
// it; cleanup appends a "done" for each undo. Whatever is left without a
// "done" after a crash is what recovery must undo, newest first.
import { closeSync, existsSync, fstatSync, fsyncSync, openSync, readFileSync, readSync, rmSync, writeSync } from 'node:fs';
import type { Action } from '../plan/plan.js';
import { stateKey } from './lock.js';

export interface PendingUndo {
  seq: number;
  phase: string;
  action: Action;
  runId: string;
}

type Line =
  | { op: 'begin'; runId: string; snapshot: string; owner: string; mountRoot: string }
  | { op: 'undo'; seq: number; phase: string; action: Action }
  | { op: 'done'; seq: number };

export function journalPath(stateDir: string, mountRoot: string): string {
  return `${stateDir}/${stateKey(mountRoot)}.journal`;
}

/** Opens for appending; a line a crash cut short is ended first, so the next line stays readable. */
function openForAppend(path: string): number {
  const fd = openSync(path, 'a+', 0o600);
  const size = fstatSync(fd).size;
  if (size > 0) {
    const last = Buffer.alloc(1);
    readSync(fd, last, 0, 1, size - 1);
    if (last[0] !== 0x0a) writeSync(fd, '\n');
  }
  return fd;
}

export class Journal {
  private fd: number;
  private seq = 0;

  constructor(readonly path: string, private readonly runId: string) {
    this.fd = openForAppend(path);
  }

  private append(line: Line): void {
    writeSync(this.fd, JSON.stringify({ ...line, runId: this.runId }) + '\n');
    fsyncSync(this.fd);
  }

  begin(snapshot: string, owner: string, mountRoot: string): void {
    this.append({ op: 'begin', runId: this.runId, snapshot, owner, mountRoot });
  }

  /** Record how to undo a change that is about to be made. */
  willDo(phase: string, action: Action): number {
    const seq = ++this.seq;
    this.append({ op: 'undo', seq, phase, action });
    return seq;
  }

  undone(seq: number): void {
    this.append({ op: 'done', seq });
  }

  /** willDo for a batch (one mount process for many mounts): one write, one fsync. */
  willDoMany(entries: { phase: string; action: Action }[]): number[] {
    const seqs = entries.map(() => ++this.seq);
    this.appendMany(entries.map((e, i) => ({ op: 'undo', seq: seqs[i]!, phase: e.phase, action: e.action })));
    return seqs;
  }

  /** undone for a batch: one write, one fsync. */
  undoneMany(seqs: number[]): void {
    if (seqs.length) this.appendMany(seqs.map((seq) => ({ op: 'done', seq })));
  }

  private appendMany(lines: Line[]): void {
    writeSync(this.fd, lines.map((l) => JSON.stringify({ ...l, runId: this.runId }) + '\n').join(''));
    fsyncSync(this.fd);
  }

  /** A run that left nothing behind removes its journal. */
  close(remove: boolean): void {
    closeSync(this.fd);
    if (remove) {
      rmSync(this.path, { force: true });
      // The batch mount table (plan/mounts.ts) lives and dies with the journal.
      rmSync(this.path.replace(/\.journal$/, '.mounts'), { force: true });
    }
  }
}

/** Recovery undid an entry a dead run left: record it, so it is never undone twice. */
export function markDone(path: string, p: PendingUndo): void {
  const fd = openForAppend(path);
  try {
    writeSync(fd, JSON.stringify({ op: 'done', seq: p.seq, runId: p.runId }) + '\n');
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Undo entries a dead run left, newest first. Lines cut short by a crash are ignored. */
export function readPending(path: string): PendingUndo[] {
  if (!existsSync(path)) return [];
  const open = new Map<string, PendingUndo>();
  for (const raw of readFileSync(path, 'utf8').split('\n')) {
    let l: (Line & { runId: string }) | null = null;
    try {
      l = raw ? (JSON.parse(raw) as Line & { runId: string }) : null;
    } catch {
      continue;
    }
    if (!l) continue;
    if (l.op === 'undo') open.set(`${l.runId}/${l.seq}`, { seq: l.seq, phase: l.phase, action: l.action, runId: l.runId });
    if (l.op === 'done') open.delete(`${l.runId}/${l.seq}`);
  }
  return [...open.values()].reverse();
}
