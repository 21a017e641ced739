import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseZfsGetOurs, zfsGetOursArgv } from '../../src/safety/scan.js';

test('zfsGetOursArgv: one zfs get of the local kopiatomic properties of every snapshot', () => {
  assert.deepEqual(zfsGetOursArgv(), ['zfs', 'get', '-H', '-p', '-o', 'name,property,value,source', '-s', 'local', '-t', 'snapshot', 'kopiatomic:run,kopiatomic:owner']);
});

test('parseZfsGetOurs: rows merged per snapshot; received or inherited values are ignored', () => {
  const out = [
    'tank/a@kopiatomic-R1\tkopiatomic:run\tR1\tlocal',
    'tank/a@kopiatomic-R1\tkopiatomic:owner\tboot:42\tlocal',
    'backup/tank/a@kopiatomic-R1\tkopiatomic:run\tR1\treceived',
    'tank/u@x\tkopiatomic:run\tR9\tinherited from tank/u',
    'tank/b@kopiatomic-R2\tkopiatomic:run\tR2\tlocal',
    '',
  ].join('\n');
  assert.deepEqual(parseZfsGetOurs(out), [
    { name: 'tank/a@kopiatomic-R1', dataset: 'tank/a', snapshot: 'kopiatomic-R1', pool: 'tank', run: 'R1', owner: 'boot:42' },
    { name: 'tank/b@kopiatomic-R2', dataset: 'tank/b', snapshot: 'kopiatomic-R2', pool: 'tank', run: 'R2', owner: null },
  ]);
  assert.deepEqual(parseZfsGetOurs(''), []);
});

test('two-step scan: names first, then the properties of the candidates only, in bounded calls', async () => {
  const { candidateNames, zfsGetCandidatesArgv, zfsListSnapshotNamesArgv } = await import('../../src/safety/scan.js');
  assert.deepEqual(zfsListSnapshotNamesArgv(), ['zfs', 'list', '-H', '-t', 'snapshot', '-o', 'name']);
  const names = candidateNames('tank/a@autosnap_2026\ntank/a@kopiatomic-R1\ntank/b@kopiatomic-R1\ntank/kopiatomic-x@daily\n');
  assert.deepEqual(names, ['tank/a@kopiatomic-R1', 'tank/b@kopiatomic-R1']);
  const calls = zfsGetCandidatesArgv(['a@kopiatomic-1', 'b@kopiatomic-1', 'c@kopiatomic-1'], 2);
  assert.deepEqual(calls.map((c) => c.slice(6)), [['kopiatomic:run,kopiatomic:owner', 'a@kopiatomic-1', 'b@kopiatomic-1'], ['kopiatomic:run,kopiatomic:owner', 'c@kopiatomic-1']]);
  assert.deepEqual(zfsGetCandidatesArgv([]), []);
});
