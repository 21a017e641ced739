// One typed function per zfs verb the code runs: each returns the argv, so
// what a verb's options mean is written once and every caller builds the
// same words. Running them stays with the caller (core/exec.ts, or a plan's
// action), so the planner can hold them as data.

export type ZfsType = 'filesystem' | 'snapshot';

/** `zfs snapshot -o PROP=VALUE ... NAME...`: all the names in one transaction. */
export function zfsSnapshot(names: readonly string[], props: Readonly<Record<string, string>>): string[] {
  return ['zfs', 'snapshot', ...Object.entries(props).flatMap(([k, v]) => ['-o', `${k}=${v}`]), ...names];
}

/** `zfs hold [-r] TAG SNAPSHOT...` */
export function zfsHold(tag: string, snapshots: readonly string[], o: { recursive?: boolean } = {}): string[] {
  return ['zfs', 'hold', ...(o.recursive ? ['-r'] : []), tag, ...snapshots];
}

/** `zfs release [-r] TAG SNAPSHOT...` */
export function zfsRelease(tag: string, snapshots: readonly string[], o: { recursive?: boolean } = {}): string[] {
  return ['zfs', 'release', ...(o.recursive ? ['-r'] : []), tag, ...snapshots];
}

/** `zfs destroy SNAPSHOT`: one exact name, never -r. */
export function zfsDestroy(snapshot: string): string[] {
  return ['zfs', 'destroy', snapshot];
}

/** `zfs list -H -p -t TYPE -o COLUMNS [-r ROOT | NAME...]`: tab-separated, exact numbers, no header. */
export function zfsList(o: { type: ZfsType; columns: readonly string[]; recursiveFrom?: string; names?: readonly string[] }): string[] {
  const from = o.recursiveFrom ? ['-r', o.recursiveFrom] : [...(o.names ?? [])];
  return ['zfs', 'list', '-H', '-p', '-t', o.type, '-o', o.columns.join(','), ...from];
}

/** `zfs holds -H SNAPSHOT...` */
export function zfsHolds(snapshots: readonly string[]): string[] {
  return ['zfs', 'holds', '-H', ...snapshots];
}

/** `zfs program [-n] [-j] POOL - ARG...`: the channel program comes on stdin; -n read-only, -j its answer as JSON. */
export function zfsProgram(pool: string, args: readonly string[], o: { readOnly?: boolean; json?: boolean } = {}): string[] {
  return ['zfs', 'program', ...(o.readOnly ? ['-n'] : []), ...(o.json ? ['-j'] : []), pool, '-', ...args];
}
