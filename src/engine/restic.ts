// restic: `restic backup` of the tree, or of the real paths inside a private
// mount namespace (Linux) so that parents, policies and restores keep the real paths.
import { which } from '../cli/which.js';
import type { Engine, EngineContext } from './engine.js';
import { programPrefix } from './engine.js';
import { formatLocal, topSources } from './engine.js';
import { mountOrder } from '../plan/plan.js';

/** "restic 0.17.3 compiled with ..." -> [0, 17, 3] */
export function parseResticVersion(out: string): number[] | null {
  const m = /restic\s+v?(\d+)\.(\d+)\.(\d+)/.exec(out);
  return m ? [Number(m[1]), Number(m[2]), Number(m[3])] : null;
}

export function atLeast(v: number[], want: number[]): boolean {
  for (let i = 0; i < want.length; i++) {
    if ((v[i] ?? 0) !== want[i]) return (v[i] ?? 0) > want[i]!;
  }
  return true;
}

function commonFlags(ctx: EngineContext): string[] {
  // restic reads --time in local time.
  return ['--time', formatLocal(ctx.time), '--tag', ctx.snapshot];
}

export const resticEngine: Engine = {
  name: 'restic',
  defaultCommand: ['restic', 'backup'],
  needsTree: (layout, platform) => !(layout === 'paths' && platform.hasMountNamespaces),
  layoutProblem: (layout, platform) => {
    if (layout !== 'paths') return null;
    if (!platform.hasMountNamespaces) {
      return `the paths layout for restic needs private mount namespaces, which ${platform.name} does not have; use --layout tree (the default)`;
    }
    if (!which('unshare')) return 'the paths layout for restic needs unshare(1) (util-linux), which is not in PATH';
    return null;
  },
  async probe(runner, command) {
    const r = await runner.run([...programPrefix(command), 'version'], { okCodes: [1] }).catch(() => null);
    const v = r ? parseResticVersion(r.stdout) : null;
    // Snapshot mounts get a new device id on every run; without this feature
    // restic (>= 0.17) would record every folder as changed.
    // Added to, never replacing, features the user already turned on.
    const mine = process.env['RESTIC_FEATURES'] ?? '';
    const env: Record<string, string> =
      v && atLeast(v, [0, 17, 0]) && !mine.split(',').includes('device-id-for-hardlinks')
        ? { RESTIC_FEATURES: mine ? `${mine},device-id-for-hardlinks` : 'device-id-for-hardlinks' }
        : {};
    return { version: v?.join('.'), env };
  },
  calls(ctx) {
    const env = { ...(ctx.probe?.env ?? {}) };
    if (ctx.layout === 'paths' && ctx.platform === 'linux') {
      const tops = topSources(ctx.sources);
      return [
        {
          argv: [...ctx.command, ...commonFlags(ctx), ...ctx.options, ...tops.map((s) => s.path)],
          env,
          namespace: {
            // Parents first: a nested mount point is a folder in its parent's snapshot.
            mounts: mountOrder(ctx.sources.map((s) => ({ dataset: s.dataset, snapshot: ctx.snapshot, target: s.path }))),
          },
        },
      ];
    }
    return [{ argv: [...ctx.command, ...commonFlags(ctx), ...ctx.options, ctx.root], env }];
  },
  captureStdout: false,
  // 3: the snapshot was saved but some files could not be read.
  outcome: (code) => (code === 0 ? 'ok' : code === 3 ? 'partial' : 'failed'),
};
