import { test } from 'node:test';
import assert from 'node:assert/strict';
import { UsageError } from '../../src/core/errors.js';
import { checkNestedReachable } from '../../src/plan/nested.js';
import { ds } from './helpers.js';

const m = (source: string, target: string, fstype = 'zfs') => ({ source, target, fstype, root: '/' });

test('checkNestedReachable: A and A/B/C selected, A/B mounted in between and not selected: refused, naming A/B', () => {
  const mounts = [m('tank/a', '/a'), m('tank/a/b', '/a/b'), m('tank/a/b/c', '/a/b/c')];
  assert.throws(() => checkNestedReachable([ds('tank/a', '/a'), ds('tank/a/b/c', '/a/b/c')], mounts), (e: Error) => e instanceof UsageError && /tank\/a\/b\b/.test(e.message) && /\/a\/b\b/.test(e.message));
  // with A/B selected too, or A alone, or A/B/C alone: fine
  checkNestedReachable([ds('tank/a', '/a'), ds('tank/a/b', '/a/b'), ds('tank/a/b/c', '/a/b/c')], mounts);
  checkNestedReachable([ds('tank/a/b/c', '/a/b/c')], mounts);
  checkNestedReachable([ds('tank/a', '/a'), ds('tank/x', '/a/x')], [...mounts, m('tank/x', '/a/x')]);
});

test('checkNestedReachable: any filesystem in between counts (a tmpfs), the root dataset too', () => {
  assert.throws(() => checkNestedReachable([ds('rpool/ROOT', '/'), ds('rpool/cache', '/run/cache')], [m('rpool/ROOT', '/'), m('tmpfs', '/run', 'tmpfs'), m('rpool/cache', '/run/cache')]), /tmpfs \(tmpfs\) is mounted at \/run/);
  checkNestedReachable([ds('rpool/ROOT', '/'), ds('rpool/home', '/home')], [m('rpool/ROOT', '/'), m('tmpfs', '/run', 'tmpfs'), m('rpool/home', '/home')]);
});
