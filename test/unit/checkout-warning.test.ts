// `schedule install` warns when the program it would schedule lives in a git
// checkout (a clone, or a worktree whose .git is a file), and only then.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { scheduleAction } from '../../src/cli/schedule.js';
import { gitCheckoutOf } from '../../src/ops/checkout-warning.js';
import { FakeRunner } from './helpers.js';

function tree(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'kt-checkout-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, 'clone/dist/app/bin'), { recursive: true });
  mkdirSync(join(dir, 'clone/.git'));
  mkdirSync(join(dir, 'worktree/dist/app/bin'), { recursive: true });
  writeFileSync(join(dir, 'worktree/.git'), 'gitdir: /elsewhere\n');
  mkdirSync(join(dir, 'usr/lib/kopiatomic/dist/app/bin'), { recursive: true });
  return dir;
}

test('the checkout holding a path: a clone, a worktree, none', (t) => {
  const dir = tree(t);
  assert.equal(gitCheckoutOf(join(dir, 'clone/dist/app/bin/kopiatomic.js')), join(dir, 'clone'));
  assert.equal(gitCheckoutOf(join(dir, 'worktree/dist/app/bin/kopiatomic.js')), join(dir, 'worktree'));
  assert.equal(gitCheckoutOf(join(dir, 'usr/lib/kopiatomic/dist/app/bin/kopiatomic.js')), null);
});

test('schedule install and show warn about a program in a checkout, remove and an installed program do not', async (t) => {
  const dir = tree(t);
  const run = async (action: string, script: string) => {
    const err: string[] = [];
    const unitDir = join(dir, `units-${action}`);
    mkdirSync(unitDir, { recursive: true });
    const code = await scheduleAction([action, 'home'], {
      configPath: '/etc/kopiatomic/kopiatomic.toml',
      jobs: [{ name: 'home', schedule: 'daily' }],
      runner: new FakeRunner(() => ({ code: 0, stdout: '', stderr: '' })),
      out: () => {},
      err: (l: string) => err.push(l),
      platform: 'linux',
      node: '/usr/bin/node',
      script,
      unitDir,
      systemd: true,
    });
    assert.equal(code, 0, err.join('\n'));
    return err.join('\n');
  };
  const inClone = join(dir, 'clone/dist/app/bin/kopiatomic.js');
  assert.match(await run('install', inClone), new RegExp(`warning: ${inClone} is in the git checkout ${join(dir, 'clone')}`));
  assert.match(await run('show', inClone), /git checkout/);
  assert.doesNotMatch(await run('remove', inClone), /git checkout/);
  assert.equal(await run('install', join(dir, 'usr/lib/kopiatomic/dist/app/bin/kopiatomic.js')), '');
});
