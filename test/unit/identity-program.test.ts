// The identity program's answer: what OpenZFS 2.1 printed for `zfs program -n -j`
// (bench/zcp-probe.sh), parsed into the guid as `zfs list -p` prints it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { identityProgram, IDENTITY_PROGRAM, parseIdentities } from '../../src/zfs/identity-program.js';

test('identityProgram: read-only (-n), JSON (-j), the names after the program\'s "-"', () => {
  assert.deepEqual(identityProgram('tank', ['tank@s', 'tank/a@s']), {
    kind: 'exec',
    mutates: false,
    argv: ['zfs', 'program', '-n', '-j', 'tank', '-', 'tank@s', 'tank/a@s'],
    input: IDENTITY_PROGRAM,
  });
  assert.doesNotMatch(IDENTITY_PROGRAM, /zfs\.sync\./, 'reads only');
});

test('parseIdentities: a negative guid (above 2^63) comes back unsigned; a name that does not exist is left out', () => {
  const out = '{"return":{"probe/home/u0090@s":"-7975585072447769468 101 1796575915","probe@s":"5844374885283656047 101 1796575914"}}\n';
  const m = parseIdentities(out, ['probe@s', 'probe/home/u0090@s', 'probe/gone@s']);
  assert.deepEqual([...m], [
    ['probe/home/u0090@s', { guid: String(2n ** 64n - 7975585072447769468n), txg: '101', creation: 1796575915 }],
    ['probe@s', { guid: '5844374885283656047', txg: '101', creation: 1796575914 }],
  ]);
});

test('parseIdentities: none found is an empty answer; anything unexpected is an error, never a guess', () => {
  assert.equal(parseIdentities('{}\n', ['t@s']).size, 0);
  assert.equal(parseIdentities('{"return":{}}', ['t@s']).size, 0);
  assert.throws(() => parseIdentities('Channel program fully executed', ['t@s']), /cannot parse/);
  assert.throws(() => parseIdentities('{"return":{"t/other@s":"1 2 3"}}', ['t@s']), /t\/other@s/, 'a name not asked for');
  assert.throws(() => parseIdentities('{"return":{"t@s":"1 2"}}', ['t@s']), /t@s/, 'a value of another shape');
  assert.throws(() => parseIdentities('{"return":{"t@s":7}}', ['t@s']));
  assert.throws(() => parseIdentities('{"return":"x"}', ['t@s']));
});
