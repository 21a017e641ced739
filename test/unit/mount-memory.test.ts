// The memory check before the snapshot mounts: the figures read on Linux and
// FreeBSD, the estimate, and a job that would need more than the machine has:
// exit 4 with the numbers, before any snapshot (a fake runner).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseCommandLine } from '../../src/cli/args.js';
import { backupJob } from '../../src/cli/backup.js';
import type { CommandContext } from '../../src/cli/lifecycle.js';
import { KOPIATOMIC, type JobOptions } from '../../src/config/job.js';
import type { ExecResult, SystemRunner } from '../../src/core/exec.js';
import { EXIT } from '../../src/core/exit-status.js';
import { Reporter } from '../../src/core/report.js';
import { ENGINES } from '../../src/engine/index.js';
import { Interrupt } from '../../src/execute/interrupt.js';
import { MOUNT_MEMORY_RESERVE, SNAPSHOT_MOUNT_ARC_BYTES, SNAPSHOT_MOUNT_BYTES, mountMemoryMessage, mountMemoryShortfall } from '../../src/plan/mount-memory.js';
import { freebsdMemory, freebsdMemoryOf, linuxMemory } from '../../src/platform/memory.js';
import { linux } from '../../src/platform/linux.js';
import type { Platform } from '../../src/platform/platform.js';
import { FakeRunner, zfsRows } from './helpers.js';

const MiB = 1024 * 1024;
const MEMINFO = 'MemTotal:        2011136 kB\nMemFree:          151232 kB\nMemAvailable:     716800 kB\nBuffers:            1024 kB\n';
const ARCSTATS = '13 1 0x01 123 33456 1 2\nname                            type data\nhits                            4    100\nsize                            4    314572800\nc_min                           4    62914560\n';

test('Linux: MemAvailable plus what the ARC holds above its minimum', () => {
  assert.deepEqual(linuxMemory(MEMINFO, ARCSTATS), { available: 716800 * 1024 + (314572800 - 62914560), how: 'MemAvailable + the ARC above its minimum' });
  assert.deepEqual(linuxMemory(MEMINFO, null), { available: 716800 * 1024, how: 'MemAvailable' });
  assert.equal(linuxMemory('MemTotal: 1 kB\n', null), null, 'no MemAvailable (a kernel before 3.14): nothing to judge');
});

test('Linux: the room left in the ARC for the metadata mounted snapshots hold: c_max less what it cannot evict', () => {
  const v23 = ARCSTATS + 'c_max                           4    1029701632\n';
  assert.deepEqual(linuxMemory(MEMINFO, v23)?.arcRoom, { bytes: 1029701632 - 314572800, how: "the ARC's c_max - (size - evictable)" });
  // A warm ARC, full of blocks it can evict, still has room for the mounts' metadata.
  const warm = v23 + 'mru_evictable_data              4    104857600\nmru_evictable_metadata          4    10485760\nmfu_evictable_data              4    52428800\nmfu_evictable_metadata          4    5242880\n';
  assert.equal(linuxMemory(MEMINFO, warm)?.arcRoom?.bytes, 1029701632 - 314572800 + 104857600 + 10485760 + 52428800 + 5242880);
  assert.equal(linuxMemory(MEMINFO, null)?.arcRoom, undefined);
});

test('FreeBSD: free, inactive and laundry pages times the page size, from one sysctl', async () => {
  assert.deepEqual(freebsdMemory('4096\n1000\n2000\n500\n'), { available: 4096 * 3500, how: 'free + inactive + laundry pages' });
  assert.equal(freebsdMemory('4096\n1000\n'), null);
  assert.equal(freebsdMemory('4096\nx\n1\n1\n'), null);
  const runner = new FakeRunner((argv) => ({ code: 0, stdout: argv.join(' ') === 'sysctl -n hw.pagesize vm.stats.vm.v_free_count vm.stats.vm.v_inactive_count vm.stats.vm.v_laundry_count' ? '4096\n10\n20\n30\n' : '', stderr: '' }));
  assert.equal((await freebsdMemoryOf(runner))?.available, 4096 * 60);
});

test('the estimate: N mounts at the measured cost each plus the reserve, against what is available', () => {
  const need = (n: number) => n * SNAPSHOT_MOUNT_BYTES + MOUNT_MEMORY_RESERVE;
  assert.equal(mountMemoryShortfall(1000, { available: need(1000), how: 'x' }), null, 'exactly enough');
  const s = mountMemoryShortfall(1000, { available: need(1000) - 1, how: 'MemAvailable' });
  assert.deepEqual(s, { mounts: 1000, need: need(1000), available: need(1000) - 1, how: 'MemAvailable' });
  assert.equal(mountMemoryShortfall(1000, null), null, 'unreadable memory: no judgement');
  const arcShort = mountMemoryShortfall(1000, { available: 8 * need(1000), how: 'x', arcRoom: { bytes: 1000 * SNAPSHOT_MOUNT_ARC_BYTES - 1, how: "the ARC's c_max - size" } });
  assert.equal(arcShort?.arc, true, 'plenty of memory, but the ARC cannot hold their metadata');
  assert.match(mountMemoryMessage(arcShort!), /^not enough room in the ZFS ARC to mount 1000 snapshots: .* is left \(the ARC's c_max - size\); this machine can take about 999 at once\. Nothing was snapshotted\./);
  assert.equal(mountMemoryShortfall(1000, { available: 8 * need(1000), how: 'x', arcRoom: { bytes: 1000 * SNAPSHOT_MOUNT_ARC_BYTES, how: 'y' } }), null);
  const m = mountMemoryMessage(s!);
  assert.match(m, /^not enough memory to mount 1000 snapshots: they need about \d+ MiB .* and \d+ MiB is available \(MemAvailable\); this machine can take about \d+ at once\. Nothing was snapshotted\./);
});

test('a job that needs more memory than the machine has: exit 4 with the numbers, no snapshot, no mount; a dry run only warns', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kopiatomic-mem-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const stateDir = join(dir, 'state');
  const journalDir = join(dir, 'journal');
  mkdirSync(stateDir);
  mkdirSync(journalDir);
  const n = 50;
  const rows = ['tank\ton\tyes\t-\t/tank', ...Array.from({ length: n - 1 }, (_, i) => `tank/u${i}\ton\tyes\t-\t/tank/u${i}`)].join('\n') + '\n';
  const calls: string[][] = [];
  const runner = {
    dryRun: false,
    counts: {},
    async run(argv: readonly string[]): Promise<ExecResult> {
      calls.push([...argv]);
      return { code: 0, stdout: argv[0] === 'zfs' && argv[1] === 'list' && argv.includes('filesystem') ? zfsRows(rows) : '', stderr: '' };
    },
    live() {
      throw new Error('nothing may run live');
    },
  };
  const available = n * SNAPSHOT_MOUNT_BYTES + MOUNT_MEMORY_RESERVE - MiB;
  const mounts = rows.split('\n').filter(Boolean).map((l) => ({ source: l.split('\t')[0]!, target: l.split('\t')[4]!, fstype: 'zfs', root: '/' }));
  const platform: Platform = { ...linux, stateDir, journalDir, bootId: async () => 'b', hostId: async () => 'h', readMounts: async () => mounts, memory: async () => ({ available, how: 'MemAvailable' }) };
  const lines: Record<string, unknown>[] = [];
  const reporter = new Reporter({ json: true, verbosity: 1, name: 't', out: (l) => lines.push(JSON.parse(l) as Record<string, unknown>) });
  const ctx: CommandContext = { flavour: KOPIATOMIC, reporter, runner: runner as unknown as SystemRunner, platform, interrupt: new Interrupt(reporter) };
  const job: JobOptions = { ...parseCommandLine(['-r', 'tank'], KOPIATOMIC), engine: ENGINES['command']!, command: ['backup-tool'], mountRoot: join(dir, 'root'), statusFile: join(dir, 'status.json') };

  assert.deepEqual(await backupJob(job, { dryRun: false, wait: 0 }, ctx), { status: 'setup-failed', code: EXIT.setupFailed });
  assert.deepEqual(calls.filter((c) => !((c[0] === 'zfs' || c[0] === 'zpool') && (c[1] === 'list' || c[1] === 'get'))), [], 'nothing but reads ran');
  const message = lines.filter((e) => e['event'] === 'log').map((e) => String(e['message'])).join('\n');
  assert.match(message, new RegExp(`not enough memory to mount ${n} snapshots: they need about ${Math.round((n * SNAPSHOT_MOUNT_BYTES + MOUNT_MEMORY_RESERVE) / MiB)} MiB .* and ${Math.round(available / MiB)} MiB is available`));

  calls.length = 0;
  lines.length = 0;
  const dry = await backupJob({ ...job }, { dryRun: true, wait: 0 }, ctx);
  assert.equal(dry.code, EXIT.ok);
  assert.ok(lines.some((e) => e['event'] === 'log' && e['level'] === 'warn' && /not enough memory/.test(String(e['message']))), 'the dry run warns');
});
