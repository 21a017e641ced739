// kopia: `kopia snapshot create` of the tree, or one call per dataset with
// --override-source (kopia >= 0.14) so each keeps its own source, policy and history.
//
// Flags as kopia defines them (cli/command_snapshot_create.go):
//   --override-source=SRC  the source recorded for the snapshot, parsed like a
//                          source argument ("user@host:/path" or "/path"); kopia
//                          then marks that source's scheduling policy manual
//   --start-time=TIME      Go layout "2006-01-02 15:04:05 MST"
//   --tags=KEY:VALUE       repeatable; stored as "tag:KEY"
//   --json                 one manifest per source, on one line of stdout
import type { Engine, EngineContext, Outcome } from './engine.js';
import { programPrefix } from './engine.js';
import { timeWord, topSources } from './engine.js';
import { atLeast } from './restic.js';

/** "0.17.0 build: ..." -> [0, 17, 0] */
export function parseKopiaVersion(out: string): number[] | null {
  const m = /(?:^|\s)v?(\d+)\.(\d+)\.(\d+)/.exec(out);
  return m ? [Number(m[1]), Number(m[2]), Number(m[3])] : null;
}

/** Mount points kopia cannot take as --override-source: it reads "a@b" as user@host. */
export function kopiaSourcesProblem(layout: string, paths: string[]): string | null {
  if (layout !== 'paths') return null;
  const bad = paths.filter((p) => p.includes('@'));
  return bad.length
    ? `kopia cannot record ${bad.join(', ')} as a source (it reads "@" in --override-source as user@host); use --layout tree or exclude ${bad.length > 1 ? 'them' : 'it'}`
    : null;
}

function flags(ctx: EngineContext): string[] {
  return ['--start-time', timeWord(ctx.time, 'utc'), '--tags', `kopiatomic:${ctx.snapshot}`, '--json'];
}

/**
 * kopia exits 1 both when it fails and when it saved a snapshot with file
 * errors. Its --json manifest tells them apart: a saved snapshot with failed
 * entries is a partial backup.
 */
export function kopiaOutcome(code: number | null, stdout: string): Outcome {
  if (code === 0) return 'ok';
  if (code !== 1) return 'failed';
  let saved = false;
  let failedEntries = 0;
  for (const line of stdout.split('\n')) {
    const t = line.trim();
    if (!t.startsWith('{')) continue;
    try {
      const m = JSON.parse(t) as { id?: string; rootEntry?: { summ?: { numFailed?: number } } };
      if (m.id) saved = true;
      failedEntries += m.rootEntry?.summ?.numFailed ?? 0;
    } catch {
      // not a manifest line
    }
  }
  return saved && failedEntries > 0 ? 'partial' : 'failed';
}

export const kopiaEngine: Engine = {
  name: 'kopia',
  defaultCommand: ['kopia', 'snapshot', 'create'],
  needsTree: () => true,
  layoutProblem: (layout, _platform, probe) => {
    if (layout !== 'paths') return null;
    const v = probe.version ? parseKopiaVersion(probe.version) : null;
    if (!v) return 'could not read the kopia version; the paths layout needs kopia 0.14 or newer';
    return atLeast(v, [0, 14, 0]) ? null : `kopia ${v.join('.')} is too old for the paths layout (--override-source needs 0.14 or newer)`;
  },
  sourcesProblem: kopiaSourcesProblem,
  async probe(runner, command) {
    // kopia prints "0.17.0 build: <commit> from: kopia/kopia" (to stdout; stderr is read too, just in case).
    const r = await runner.run([...programPrefix(command), '--version'], { okCodes: [1] }).catch(() => null);
    const line = [r?.stdout, r?.stderr].map((o) => o?.trim().split('\n')[0] ?? '').find((l) => parseKopiaVersion(l));
    return { version: line ?? r?.stdout.trim().split('\n')[0] };
  },
  calls(ctx) {
    if (ctx.layout === 'paths') {
      // One call per source (--override-source names one source), in sequence:
      // each reads the same frozen tree, so order does not change what is
      // saved; kopia parallelises hashing and uploads inside one process
      // (--parallel), and one process at a time keeps its cache, memory and
      // bandwidth uncontended, its manifests on stdout apart, and each exit
      // code tied to one source. See README "Layouts".
      return topSources(ctx.sources).map((s) => ({
        argv: [...ctx.command, ...flags(ctx), `--override-source=${s.path}`, ...ctx.options, s.readFrom],
        env: {},
      }));
    }
    return [{ argv: [...ctx.command, ...flags(ctx), ...ctx.options, ctx.root], env: {} }];
  },
  captureStdout: true,
  outcome: kopiaOutcome,
};
