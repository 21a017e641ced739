// Each snapshot's identity (guid, createtxg) and creation time, read in the
// kernel by a read-only channel program (`zfs program -n -j POOL -`), one
// process and one ioctl per pool: `zfs list` of the same names opens each
// snapshot from user space, which at 100 snapshots costs several times the
// CPU (measured in the 2.1 guest, bench/RESULTS.md) and slows the mounts it
// runs beside. A name that does not exist is left out of the answer (by the
// careful program, run when the quick one stopped at it).
import { zfsProgram } from './zfs.js';

/** The program's text (Lua, `zfs program -n -j POOL - NAME...`, every name in POOL). */
// Numbers are signed 64-bit in the program, so each value is returned as text
// (a guid above 2^63 comes back negative; parseIdentities makes it unsigned),
// and the answer maps each name to "GUID CREATETXG CREATION". Every name was
// made a moment ago, so the guid's read is its existence check: zfs.get_prop
// raises on a name that is not there (channel programs have no pcall), the
// program stops having changed nothing (-n), and IDENTITY_PROGRAM_CAREFUL runs.
export const IDENTITY_PROGRAM = `-- kopiatomic: read the named snapshots' guid, createtxg and creation
local argv = (...)["argv"]
local ids = {}
for i = 1, #argv do
  local name = argv[i]
  ids[name] = tostring(zfs.get_prop(name, "guid")) .. " " .. tostring(zfs.get_prop(name, "createtxg")) .. " " .. tostring(zfs.get_prop(name, "creation"))
end
return ids
`;

/** The same read where a name may be missing: each name checked first (one lookup more each), the missing left out of the answer. */
export const IDENTITY_PROGRAM_CAREFUL = `-- kopiatomic: read the named snapshots' guid, createtxg and creation, those that exist
local argv = (...)["argv"]
local ids = {}
for i = 1, #argv do
  local name = argv[i]
  if zfs.exists(name) then
    ids[name] = tostring(zfs.get_prop(name, "guid")) .. " " .. tostring(zfs.get_prop(name, "createtxg")) .. " " .. tostring(zfs.get_prop(name, "creation"))
  end
end
return ids
`;

export interface SnapshotFacts {
  /** Unsigned decimal, as `zfs list -p` prints it. */
  guid: string;
  txg: string;
  /** Seconds since the epoch. */
  creation: number;
}

/** The program's run for these snapshots of one pool, as a plan's action. */
export function identityProgram(pool: string, names: readonly string[]): { kind: 'exec'; argv: string[]; mutates: false; input: string } {
  return { kind: 'exec', argv: zfsProgram(pool, names, { readOnly: true, json: true }), mutates: false, input: IDENTITY_PROGRAM };
}

/**
 * The program's answer (`zfs program -j`: {"return": {NAME: "GUID TXG CREATION"}}),
 * for the names asked only; anything else in it is an error, never a guess.
 */
export function parseIdentities(stdout: string, asked: readonly string[]): Map<string, SnapshotFacts> {
  let ret: unknown;
  try {
    ret = (JSON.parse(stdout) as { return?: unknown }).return;
  } catch {
    throw new Error(`cannot parse the identity program's answer: ${JSON.stringify(stdout.slice(0, 200))}`);
  }
  const out = new Map<string, SnapshotFacts>();
  // An empty table comes back as no return value at all.
  if (ret === undefined || ret === null) return out;
  if (typeof ret !== 'object' || Array.isArray(ret)) throw new Error(`the identity program answered ${JSON.stringify(ret)}`);
  const want = new Set(asked);
  for (const [name, value] of Object.entries(ret as Record<string, unknown>)) {
    const m = typeof value === 'string' ? /^(-?\d+) (\d+) (\d+)$/.exec(value) : null;
    if (!want.has(name) || !m) throw new Error(`the identity program answered ${JSON.stringify(name)}: ${JSON.stringify(value)}`);
    out.set(name, { guid: BigInt.asUintN(64, BigInt(m[1]!)).toString(), txg: m[2]!, creation: Number(m[3]) });
  }
  return out;
}
