// A run's snapshots in one pool are destroyed by a ZFS channel program: the
// kernel checks and destroys them all in one transaction, where one
// `zfs destroy` per snapshot opens each dataset from user space (the program
// is faster than even a single `zfs destroy -r`). It is given each
// snapshot's name with the identity recorded when it was made (guid and createtxg), and destroys
// nothing unless every name is still that snapshot and carries this run's
// properties set locally on it: a snapshot received under the same name (a
// copy: same guid, a later createtxg, no local property of ours) or a
// renamed one makes it fail, all or none. Then the destroy goes on in user
// space (safety/destroy-exact.ts): each snapshot found by its identity, proven
// ours, released and destroyed by its exact name. Nothing is ever destroyed
// by `-r`, which reaches every snapshot of that name below a dataset.
// The program ends by looking each name up again in the same transaction
// (seen false right after zfs.sync.destroy on 2.1.11 and 2.3.2): that is the
// check that they are gone, without a `zfs list` process after it. A name
// still there fails the program, and the exact destroy, which checks with its
// own listing, takes over. Its exit code alone is not believed: it answers
// how many it destroyed (`-j`), and only that answer, equal to the number of
// names given, counts (an empty or cut script also exits 0).
import { PROP_OWNER, PROP_RUN } from './naming.js';
import { zfsProgram } from './zfs.js';

/** In the program's argv until the identity program after the snapshot fills them in (execute/apply.ts); "-" when never known. */
export const GUID_SLOT = '{guid}';
export const TXG_SLOT = '{createtxg}';
export const UNKNOWN = '-';

// zfs-program(8): zfs.get_prop returns the value and the name of the dataset
// where it was set, so a value set on the snapshot itself has the snapshot's
// own name as its source ("$recvd" when received, a parent when inherited;
// nothing at all when unset, in dsl_prop_get_ds / zcp_get_user_prop of 2.1 and
// 2.3). Numbers are signed 64-bit, so the guid is passed as its signed form,
// after a "g": an argument that starts with "-" is taken by zfs program's
// getopt for an option (seen in the 2.1 guest: the program never ran).
/** The program's text (Lua, run by `zfs program POOL -` with run id, owner, then name, guid, createtxg for each snapshot). */
export const DESTROY_PROGRAM = `-- kopiatomic: destroy exactly the snapshots named, all or none
local argv = (...)["argv"]
local run, owner = argv[1], argv[2]
local names = {}
local function ours(name, prop, want)
  local value, source = zfs.get_prop(name, prop)
  if value ~= want or source ~= name then error(name .. ": " .. prop .. " is not this run's, set on it") end
end
for i = 3, #argv, 3 do
  local name, guid, txg = argv[i], argv[i + 1], argv[i + 2]
  -- With a guid to compare, its read is the existence check (zfs.get_prop
  -- raises on a name that does not exist): one lookup less per snapshot.
  if guid == "${UNKNOWN}" then
    if not zfs.exists(name) then error(name .. ": no such snapshot") end
  elseif "g" .. tostring(zfs.get_prop(name, "guid")) ~= guid then error(name .. ": not the snapshot we made (guid)") end
  if txg ~= "${UNKNOWN}" and tostring(zfs.get_prop(name, "createtxg")) ~= txg then error(name .. ": not the snapshot we made (createtxg)") end
  ours(name, "${PROP_RUN}", run)
  ours(name, "${PROP_OWNER}", owner)
  names[#names + 1] = name
end
for i = 1, #names do
  local err = zfs.check.destroy(names[i])
  if err ~= 0 then error("cannot destroy " .. names[i] .. ": error " .. err) end
end
for i = 1, #names do
  local err = zfs.sync.destroy(names[i])
  if err ~= 0 then error("cannot destroy " .. names[i] .. ": error " .. err) end
end
for i = 1, #names do
  if zfs.exists(names[i]) then error(names[i] .. ": still there after its destroy reported success") end
end
return { destroyed = #names }
`;

/** What the destroy of one pool's snapshots needs beyond the program: the exact destroy runs from it should the program fail. */
export interface ExactDestroy {
  pool: string;
  run: string;
  owner: string;
  snapshots: string[];
}

/** A snapshot's guid as the program compares it: "g" and its signed 64-bit form (Lua's numbers). */
export function luaGuid(guid: string): string {
  return /^\d+$/.test(guid) ? `g${BigInt.asIntN(64, BigInt(guid)).toString()}` : UNKNOWN;
}

/** The program's run as a plan's action (the plan's `exec` action, plan/types.ts). */
export interface ProgramAction {
  kind: 'exec';
  argv: string[];
  mutates: true;
  input: string;
}

/** The destroy of one pool's snapshots: the program (identity slots filled at apply time), and the exact destroy should it fail. */
export function destroyUndo(x: ExactDestroy): { phase: 'destroy'; action: ProgramAction; exact: ExactDestroy } {
  return {
    phase: 'destroy',
    action: { kind: 'exec', mutates: true, argv: zfsProgram(x.pool, [x.run, x.owner, ...x.snapshots.flatMap((n) => [n, GUID_SLOT, TXG_SLOT])], { json: true }), input: DESTROY_PROGRAM },
    exact: x,
  };
}

export interface SnapshotId {
  guid: string;
  txg: string;
}

/** The program's argv with each snapshot's recorded identity in its slots ("-" where none was recorded). */
export function fillIdentity(argv: readonly string[], ids: Readonly<Record<string, SnapshotId>>): string[] {
  return argv.map((w, i) => {
    const id = ids[argv[i - (w === GUID_SLOT ? 1 : 2)] ?? ''];
    if (w === GUID_SLOT) return id ? luaGuid(id.guid) : UNKNOWN;
    if (w === TXG_SLOT) return id?.txg ?? UNKNOWN;
    return w;
  });
}

/** Whether the program's answer (`zfs program -j`: {"return": {"destroyed": N}}) says it destroyed all `count` names. */
export function destroyedAll(stdout: string, count: number): boolean {
  try {
    const ret = (JSON.parse(stdout) as { return?: { destroyed?: unknown } }).return;
    return ret?.destroyed === count;
  } catch {
    return false;
  }
}
