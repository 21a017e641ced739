// The journal: before each change the run appends (and fsyncs) how to undo
// it; cleanup appends a "done" for each undo, and so does the run when the
// change failed and left nothing. Whatever is left without a "done" after a
// crash is what recovery must undo, newest first. It lives on disk, not in
// /run: the folders it records outlive a reboot, and only what the journal
// says we created is ever removed.
import { closeSync, constants, existsSync, fstatSync, fsyncSync, openSync, readdirSync, readFileSync, readSync, rmSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { writeRootFile } from './root-file.js';
import { ensureRootDir } from './root-path.js';
import type { Action } from '../plan/types.js';
import { stateKey } from '../core/paths.js';

export interface PendingUndo {
  seq: number;
  phase: string;
  action: Action;
  runId: string;
  /** What the step made: a mount target, snapshot names and their identity (guid, createtxg). */
  detail?: Record<string, unknown>;
}

type Line =
  | { op: 'begin'; runId: string; snapshot: string; owner: string; mountRoot: string }
  | { op: 'undo'; seq: number; phase: string; action: Action; detail?: Record<string, unknown> }
  | { op: 'done'; seq: number }
  // More of what an undo entry's step made, learnt after it (the snapshots' identity).
  | { op: 'detail'; seq: number; detail: Record<string, unknown> };

export function journalPath(journalDir: string, mountRoot: string): string {
  return `${journalDir}/${stateKey(mountRoot)}.journal`;
}

/**
 * Leftovers that could not be undone, remembered beside the journal (on
 * disk: a snapshot a user cloned outlives a reboot, and is reported until
 * `cleanup` removes it) so later runs do not hunt for them again.
 */
export function knownLeftoversPath(journalDir: string, mountRoot: string): string {
  return `${journalDir}/${stateKey(mountRoot)}.leftovers`;
}

/**
 * The journals are the record of every snapshot our runs made: each run
 * writes (and fsyncs) its snapshots' names before `zfs snapshot` and marks
 * them done after the destroy. This file says the record is complete: it is
 * written after a scan of every pool found nothing else of ours. Without it
 * (a host's first run, an upgrade from a version that kept its journal in
 * /run, a state folder someone removed) the next run scans every pool.
 */
export function recordMarkerPath(journalDir: string): string {
  return `${journalDir}/record-complete`;
}

export function recordComplete(journalDir: string): boolean {
  return existsSync(recordMarkerPath(journalDir));
}

export function markRecordComplete(journalDir: string): void {
  ensureRootDir(journalDir, 'journal directory');
  writeRootFile(recordMarkerPath(journalDir), `every pool was scanned for our snapshots at ${new Date().toISOString()}; since then the journals here record each one\n`, 0o600, { what: 'record marker' });
}

/** Snapshots that the journals of other mount roots say a run made and no one has removed yet. */
export function journaledSnapshotsElsewhere(journalDir: string, ownJournal: string): string[] {
  let files: string[];
  try {
    files = readdirSync(journalDir).filter((f) => f.endsWith('.journal'));
  } catch {
    return [];
  }
  const names = new Set<string>();
  for (const f of files) {
    const path = `${journalDir}/${f}`;
    if (path === ownJournal) continue;
    for (const p of readPending(path)) {
      const s = p.detail?.['snapshots'];
      if ((p.phase === 'destroy' || p.phase === 'release') && Array.isArray(s)) for (const n of s) if (typeof n === 'string') names.add(n);
    }
  }
  return [...names];
}

export interface KnownLeftover {
  what: string;
  reason: string;
  since: string;
  /** Snapshot names it is about, so a scan skips them. */
  snapshots?: string[];
  /** How to try again (`cleanup` does). */
  undo?: PendingUndo;
  /** A mount that could not be unmounted, and the boot it was seen in: a reboot unmounted it. */
  mount?: string;
  boot?: string;
}

/** Known leftovers; a mount seen in an earlier boot is gone (the reboot unmounted it) and is dropped. */
export function readKnown(path: string, boot?: string): KnownLeftover[] {
  try {
    const v = JSON.parse(readFileSync(path, 'utf8')) as unknown;
    return Array.isArray(v) ? (v as KnownLeftover[]).filter((k) => !(boot && k.mount && k.boot && k.boot !== boot)) : [];
  } catch {
    return [];
  }
}

/** Written whole: a crash leaves the old list or the new one. */
export function writeKnown(path: string, list: KnownLeftover[]): void {
  if (!list.length) {
    rmSync(path, { force: true });
    return;
  }
  ensureRootDir(dirname(path), 'journal directory');
  writeRootFile(path, JSON.stringify(list, null, 1) + '\n', 0o600, { what: 'known leftovers file' });
}

/**
 * Opens for appending (in the journal directory, proven ours; never through
 * a symlink); a line a crash cut short is ended first, so the next line stays readable.
 */
function openForAppend(path: string): number {
  const fd = openSync(path, constants.O_RDWR | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW, 0o600);
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
    ensureRootDir(dirname(path), 'journal directory');
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
  willDo(phase: string, action: Action, detail?: Record<string, unknown>): number {
    const seq = ++this.seq;
    this.append(detail ? { op: 'undo', seq, phase, action, detail } : { op: 'undo', seq, phase, action });
    return seq;
  }

  undone(seq: number): void {
    this.append({ op: 'done', seq });
  }

  /** Adds to an entry's detail what was learnt once its step happened (recovery reads them merged). */
  addDetail(seq: number, detail: Record<string, unknown>): void {
    this.append({ op: 'detail', seq, detail });
  }

  /** willDo for a batch (one mount process for many mounts): one write, one fsync. */
  willDoMany(entries: { phase: string; action: Action; detail?: Record<string, unknown> }[]): number[] {
    const seqs = entries.map(() => ++this.seq);
    this.appendMany(entries.map((e, i) => (e.detail ? { op: 'undo', seq: seqs[i]!, phase: e.phase, action: e.action, detail: e.detail } : { op: 'undo', seq: seqs[i]!, phase: e.phase, action: e.action })));
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
    if (l.op === 'undo') open.set(`${l.runId}/${l.seq}`, { seq: l.seq, phase: l.phase, action: l.action, runId: l.runId, ...(l.detail ? { detail: l.detail } : {}) });
    if (l.op === 'done') open.delete(`${l.runId}/${l.seq}`);
    if (l.op === 'detail') {
      const p = open.get(`${l.runId}/${l.seq}`);
      if (p) p.detail = { ...(p.detail ?? {}), ...l.detail };
    }
  }
  return [...open.values()].reverse();
}
