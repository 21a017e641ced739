// Builders for the operations tests (no tests here).
import type { RunRecord } from '../../src/ops/run-record.js';

export function record(over: Partial<RunRecord> = {}): RunRecord {
  return {
    job: 'home',
    host: 'nas',
    runId: '20261127T020000Z-42-abcdef',
    start: '2026-11-27T02:00:00.000Z',
    end: '2026-11-27T02:04:12.500Z',
    status: 'ok',
    exitCode: 0,
    durations: { setup: 1.5, backup: 248, teardown: 3 },
    datasets: ['tank/home', 'tank/home/alice'],
    pools: ['tank'],
    snapshot: 'kopiatomic-20261127T020000Z-42-abcdef',
    leftovers: 0,
    engine: { engine: 'restic', snapshotId: 'a1b2c3', filesNew: 12, filesChanged: 3, files: 1000, bytesProcessed: 123456789, bytesAdded: 4096 },
    ...over,
  };
}
