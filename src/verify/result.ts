// What a verification found: the value the --json summary, the metrics file
// and `kopiatomic status` read. Plain data (JSON-serialisable).

export interface Difference {
  /** The path as the backup records it (the real path in the paths layout). */
  path: string;
  /** What differs, e.g. "content", "mode 4755 -> 0755", "missing from the backup". */
  what: string;
}

export interface VerifyResult {
  /**
   * ok: every compared entry is equal; failed: differences were found;
   * error: the verification could not run (no room, engine error) — nothing is
   * known about the backup's content; skipped: the backup was not verified
   * (it failed, was partial, or the run was interrupted).
   */
  status: 'ok' | 'failed' | 'error' | 'skipped';
  /** Why it is error or skipped; a restore error that came with differences. */
  message?: string;
  /** The requested share of file contents compared (0 < percent <= 100). */
  percent: number;
  /** Every entry (file, folder, link, ...) whose name and metadata were compared. */
  entries: number;
  /** Regular files seen in the frozen tree. */
  files: number;
  /** Files whose contents were hashed on both sides (the sample). */
  filesCompared: number;
  bytesCompared: number;
  differences: number;
  /** The first differences (at most 20). */
  firstDifferences: Difference[];
  /** Entries absent from the backup that a rule the engine was given surely excludes. */
  excluded: number;
  /** The first excluded paths (at most 100). */
  excludedPaths: string[];
  /** Entries absent from the backup because the engine never stores their kind (restic: sockets). */
  notStored: number;
  /** The first of them (at most 100), each with why ("not stored by restic (socket)"). */
  notStoredPaths: Reason[];
  /**
   * Entries absent from the backup that no evaluated rule explains while an
   * option that cannot be evaluated might (kopia's policies, restic's
   * --exclude-file): neither excluded nor known to be lost.
   */
  unjudged: number;
  /** The first of them (at most 100), each with why it could not be judged. */
  unjudgedPaths: Reason[];
  /** Wall time of the whole verification (restore and comparison), ms. */
  ms: number;
}

export interface Reason {
  path: string;
  why: string;
}

export const MAX_DIFFERENCES = 20;
export const MAX_EXCLUDED = 100;

/** The counts of a comparison that has compared nothing yet. */
export function zeroCounts(): Omit<VerifyResult, 'status' | 'message' | 'percent' | 'ms'> {
  return { entries: 0, files: 0, filesCompared: 0, bytesCompared: 0, differences: 0, firstDifferences: [], excluded: 0, excludedPaths: [], notStored: 0, notStoredPaths: [], unjudged: 0, unjudgedPaths: [] };
}

export function emptyResult(percent: number, status: VerifyResult['status'], message?: string): VerifyResult {
  return { status, ...(message !== undefined ? { message } : {}), percent, ...zeroCounts(), ms: 0 };
}
