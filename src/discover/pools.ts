// Whether each pool can take a snapshot: `zpool list` of its health and
// readonly property (zpoolprops(7)), run beside discovery's `zfs list`. A
// pool imported read-only, suspended or faulted refuses `zfs snapshot`, and
// one such pool in a run's single snapshot per pool would stop every pool.
import { CommandTimeoutError } from '../core/errors.js';
import type { Runner } from '../core/exec.js';

export interface PoolState {
  health: string;
  readonly: boolean;
}

export function zpoolListArgv(): string[] {
  return ['zpool', 'list', '-H', '-o', 'name,health,readonly'];
}

export function parsePools(stdout: string): Map<string, PoolState> {
  const out = new Map<string, PoolState>();
  for (const line of stdout.split('\n')) {
    const [name, health, ro] = line.split('\t');
    if (name && health) out.set(name, { health, readonly: ro === 'on' });
  }
  return out;
}

/** The pools' states; empty (unknown: `zfs snapshot` will say) when zpool cannot tell, but a hung zpool stops the run. */
export async function readPools(runner: Runner): Promise<Map<string, PoolState>> {
  try {
    return parsePools((await runner.run(zpoolListArgv())).stdout);
  } catch (e) {
    if (e instanceof CommandTimeoutError) throw e;
    return new Map();
  }
}

/** Why a pool cannot take a snapshot now, or null (also when its state is unknown). */
export function poolProblem(pool: string, s: PoolState | undefined): string | null {
  if (!s) return null;
  if (s.readonly) return `pool ${pool} is imported read-only (readonly=on): it cannot take a snapshot`;
  if (s.health !== 'ONLINE' && s.health !== 'DEGRADED') return `pool ${pool} is ${s.health}: it cannot take a snapshot`;
  return null;
}
