// Why an entry of the frozen tree may be absent from a backup: the engine
// never stores its kind (restic skips sockets), or a rule the engine was
// given left it out (an exclude pattern, a CACHEDIR.TAG, a size limit). Each
// engine describes this as plain data (it travels to the comparison, which
// may run in another process) and judgeAbsent() applies it, so that the
// verification never needs to know which engine it verifies.
//
// A judgement errs on one side only: an entry counts as excluded when a rule
// surely matches it; when a rule cannot be evaluated exactly, the entry
// "could not be judged" (and says why); when no rule can explain it, it is a
// loss.
import { matchRestic } from './restic-pattern.js';

/** Entry kinds, as the comparison names them. */
export type EntryKind = 'file' | 'directory' | 'symlink' | 'fifo' | 'socket' | 'char device' | 'block device' | 'unknown';

export type ExcludeRule =
  /** restic's --exclude / --iexclude pattern (restic's own matching rules, see restic-pattern.ts). */
  | { kind: 'restic-pattern'; pattern: string; insensitive: boolean; option: string }
  /** The contents of a directory holding a file NAME (whose first bytes are HEADER, if given), but not that file. */
  | { kind: 'if-present'; name: string; header: string; option: string }
  /** Anything but a directory larger than `bytes`. */
  | { kind: 'larger-than'; bytes: number; option: string };

export interface AbsenceRules {
  /** The engine's name, for the report ("not stored by restic"). */
  engine: string;
  /** Kinds the engine never stores. */
  notStored: EntryKind[];
  rules: ExcludeRule[];
  /**
   * Why an absent entry no rule explains may still have been left out on
   * purpose (an option that cannot be evaluated here): such an entry could
   * not be judged. Empty: such an entry is lost.
   */
  unknown: string[];
}

/** What the comparison knows of an absent entry. */
export interface AbsentEntry {
  /** The path as the backup records it, as bytes. */
  path: Buffer;
  kind: EntryKind;
  size: bigint;
  /**
   * The first `n` bytes of the entry NAME beside this entry (in its
   * directory): null if there is no such entry, 'other' if it is not a
   * regular file or cannot be read (never followed).
   */
  sibling(name: string, n: number): Buffer | null | 'other';
}

export type Judgement =
  | { verdict: 'not-stored'; why: string }
  | { verdict: 'excluded'; why: string }
  | { verdict: 'unjudged'; why: string }
  | { verdict: 'lost' };

/** No rule at all: every absent entry is lost. */
export const NO_ABSENCE: AbsenceRules = { engine: 'the engine', notStored: [], rules: [], unknown: [] };

export function judgeAbsent(a: AbsenceRules, e: AbsentEntry): Judgement {
  if (a.notStored.includes(e.kind)) return { verdict: 'not-stored', why: `not stored by ${a.engine} (${e.kind})` };
  const unsure: string[] = [];
  const negated = a.rules.some((r) => r.kind === 'restic-pattern' && r.pattern.startsWith('!'));
  for (const r of a.rules) {
    const m = ruleMatches(r, e);
    if (m === true) {
      // A negated pattern may have taken a pattern's exclusion back: then its absence is not explained.
      if (r.kind === 'restic-pattern' && negated) unsure.push(`${r.option} ${r.pattern} matches, but negated patterns (!) are not evaluated`);
      else return { verdict: 'excluded', why: `${r.option}${r.kind === 'restic-pattern' ? ` ${r.pattern}` : ''}` };
    } else if (m !== false) unsure.push(m);
  }
  unsure.push(...a.unknown);
  if (unsure.length) return { verdict: 'unjudged', why: unsure.join('; ') };
  return { verdict: 'lost' };
}

/** true, false, or why it cannot be told. */
function ruleMatches(r: ExcludeRule, e: AbsentEntry): boolean | string {
  switch (r.kind) {
    case 'restic-pattern':
      if (r.pattern.startsWith('!')) return false; // a negation never excludes
      return matchRestic(r.pattern, e.path, r.insensitive, r.option);
    case 'larger-than':
      return e.kind !== 'directory' && e.size > BigInt(r.bytes);
    case 'if-present': {
      if (Buffer.from(r.name).equals(baseName(e.path))) return false; // the tag file itself is kept
      const head = e.sibling(r.name, Buffer.byteLength(r.header));
      if (head === null) return false;
      if (!r.header) return true; // present is enough
      if (head === 'other') return `${r.option}: ${r.name} beside it is not a regular file that could be read`;
      return head.equals(Buffer.from(r.header));
    }
  }
}

function baseName(p: Buffer): Buffer {
  const i = p.lastIndexOf(0x2f);
  return i < 0 ? p : p.subarray(i + 1);
}
