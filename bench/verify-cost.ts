// The cost of --verify (issue 13), measured in the guest: a restic backup of
// about 200 MiB of files (200 x 1 MiB random) with --verify, --verify=10 and
// without, on a throw-away pool; prints the times and the rate per GiB.
// Run: npx tsc -p . && ZFSVM_FLAVOURS=stable bash bench/verify-cost.sh
import { execFileSync } from 'node:child_process';
import { Pool, RESTOMIC, resticRepo, run, sh, summary } from '../test/e2e/lib.js';

async function main(): Promise<void> {
  const pool = Pool.create(['data', 'restore'], '1G');
  try {
    for (let d = 0; d < 10; d++) {
      sh('mkdir', pool.path(`data/d${d}`));
      for (let f = 0; f < 20; f++) sh('dd', 'if=/dev/urandom', `of=${pool.path(`data/d${d}/f${f}`)}`, 'bs=1M', 'count=1', 'status=none');
    }
    const env = { ...resticRepo(), KOPIATOMIC_VERIFY_DIR: pool.path('restore') };
    process.stdout.write(execFileSync('df', ['-h', '/var/tmp', pool.path('restore')], { encoding: 'utf8' }));
    const cases: [string, string[]][] = [
      ['no verify (first backup, fills the repository)', []],
      ['no verify', []],
      ['--verify', ['--verify']],
      ['--verify=10', ['--verify=10']],
    ];
    for (const [name, flags] of cases) {
      const t0 = Date.now();
      const r = await run(RESTOMIC, ['--json', ...flags, '--mount-root', '/kt-cost', pool.ds('data')], { env, timeoutMs: 3_600_000 });
      const ms = Date.now() - t0;
      const v = summary(r)?.['verify'] as { ms: number; bytesCompared: number; filesCompared: number; files: number; status: string } | undefined;
      const line = { case: name, exit: r.code, totalMs: ms, verify: v ? { status: v.status, ms: v.ms, files: v.files, filesCompared: v.filesCompared, MiBCompared: +(v.bytesCompared / 2 ** 20).toFixed(1), sPerGiBRestored: +((v.ms / 1000) * (2 ** 30 / (200 * 2 ** 20))).toFixed(1) } : null };
      process.stdout.write(`VERIFY-COST ${JSON.stringify(line)}\n`);
      if (r.code !== 0) process.stdout.write(r.stderr);
    }
  } finally {
    pool.destroy();
  }
}

main().then(
  () => process.exit(0),
  (e: Error) => {
    process.stderr.write(`${e.stack}\n`);
    process.exit(1);
  },
);
