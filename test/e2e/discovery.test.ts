// Issue 3: targets, discovery and skips, bad input, the tree, the dry run.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { test } from 'node:test';
import { splitWords } from '../../src/core/words.js';
import { argvLogger, CLEAN, events, KOPIATOMIC, leftovers, mountsUnder, Pool, run, scratchDir, sh, zfs, script } from './lib.js';

test('the tree: nested datasets nest, legacy mounts come from the mount table, mounts are read-only, root is 0700', async (t) => {
  const pool = Pool.create(['a', 'a/inner', { name: 'legacy', props: { mountpoint: 'legacy' } }]);
  const work = scratchDir('tree');
  t.after(() => {
    sh('umount', '/mnt/kt-legacy');
    pool.destroy();
  });
  mkdirSync('/mnt/kt-legacy', { recursive: true });
  sh('mount', '-t', 'zfs', pool.ds('legacy'), '/mnt/kt-legacy');
  writeFileSync('/mnt/kt-legacy/l.txt', 'legacy\n');
  writeFileSync(pool.path('a/inner/i.txt'), 'inner\n');
  const rec = script(work, 'look', `stat -c %a "$1" > ${work}/mode; cat "$1"/mnt/kt-legacy/l.txt "$1"${pool.path('a/inner/i.txt')} > ${work}/content; touch "$1"${pool.path('a/x')} 2> /dev/null && echo writable > ${work}/ro || echo readonly > ${work}/ro; findmnt -rn -o TARGET,SOURCE | grep "^$1" > ${work}/mounts`);
  const r = await run(KOPIATOMIC, ['--json', '--mount-root', '/kt-tree', '--engine', 'command', '-c', rec, '-r', pool.name]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(readFileSync(`${work}/mode`, 'utf8'), '700\n');
  assert.equal(readFileSync(`${work}/content`, 'utf8'), 'legacy\ninner\n');
  assert.equal(readFileSync(`${work}/ro`, 'utf8'), 'readonly\n');
  const m = readFileSync(`${work}/mounts`, 'utf8');
  assert.match(m, new RegExp(`^/kt-tree/mnt/kt-legacy ${pool.ds('legacy')}@kopiatomic-`, 'm'));
  assert.match(m, new RegExp(`^/kt-tree${pool.path('a/inner')} ${pool.ds('a/inner')}@kopiatomic-`, 'm'));
  assert.deepEqual(leftovers([pool], '/kt-tree'), CLEAN);
  assert.equal(existsSync('/kt-tree'), false, 'a mount root this run created is removed');
});

test('skipped datasets are named with the reason, and are neither snapshotted nor mounted: canmount=off, mountpoint=none, not mounted, key unavailable', async (t) => {
  const pool = Pool.create([
    { name: 'off', props: { canmount: 'off' } },
    'off/child',
    { name: 'none', props: { mountpoint: 'none' } },
    { name: 'noauto', props: { canmount: 'noauto' } },
  ]).destroyAfter(t);
  const work = scratchDir('skip');
  writeFileSync(`${work}/key`, 'a-long-enough-passphrase\n');
  zfs('create', '-o', 'encryption=on', '-o', 'keyformat=passphrase', '-o', `keylocation=file://${work}/key`, pool.ds('locked'));
  zfs('unmount', pool.ds('locked'));
  zfs('unload-key', pool.ds('locked'));
  const look = seenBySnapshotAndMount(work, pool);
  const r = await run(KOPIATOMIC, ['--json', '--mount-root', '/kt-skip', '--engine', 'command', '-c', look, '-r', pool.name]);
  assert.equal(r.code, 0, r.stderr);
  // What the backup saw: the snapshots that existed and were mounted while it ran.
  assert.deepEqual(readSeen(work, 'snapshots'), [pool.ds(), pool.ds('off/child')]);
  assert.deepEqual(readSeen(work, 'mounted'), [pool.ds(), pool.ds('off/child')]);
  const skipped = Object.fromEntries(events(r, 'skip').map((e) => [e['dataset'], e['reason']]));
  assert.deepEqual(skipped, {
    [pool.ds('off')]: 'canmount=off',
    [pool.ds('none')]: 'mountpoint=none',
    [pool.ds('noauto')]: 'not mounted',
    [pool.ds('locked')]: 'encrypted and its key is not loaded (keystatus=unavailable)',
  });
  assert.deepEqual(leftovers([pool], '/kt-skip'), CLEAN);
});

test('names and paths: a path resolves to the dataset mounted there; spaces and unicode survive', async (t) => {
  const pool = Pool.create([{ name: 'with space', props: { mountpoint: '/kt ünï code/mp' } }]);
  const work = scratchDir('names');
  t.after(() => {
    pool.destroy();
    sh('rm', '-rf', '/kt ünï code');
  });
  writeFileSync('/kt ünï code/mp/f', 'x\n');
  const rec = script(work, 'look', `cat "$1/kt ünï code/mp/f" > ${work}/content`);
  const r = await run(KOPIATOMIC, ['--json', '--mount-root', '/kt-names', '--engine', 'command', '-c', rec, '/kt ünï code/mp']);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(events(r, 'plan')[0]!['datasets'], [pool.ds('with space')]);
  assert.equal(readFileSync(`${work}/content`, 'utf8'), 'x\n');
  assert.deepEqual(leftovers([pool], '/kt-names'), CLEAN);
});

test('bad input: one clear line, a usage hint, exit 2, nothing created', async (t) => {
  const pool = Pool.create(['a']).destroyAfter(t);
  mkdirSync(pool.path('a/sub'));
  const cmd = ['--engine', 'command', '-c', 'true'];
  const cases: [string[], RegExp][] = [
    [['--bogus'], /unknown option '--bogus'/],
    [[], /no datasets or paths given/],
    [[...cmd, `${pool.name}/nope`], /no such ZFS filesystem: kt\S+\/nope/],
    [[...cmd, '/no/such/path'], /no such file or directory: \/no\/such\/path/],
    [[...cmd, pool.path('a/sub')], new RegExp(`inside ${pool.ds('a')} \\(mounted at ${pool.path('a')}\\)`)],
    [['-c', '/no/such/engine', pool.ds('a')], /not installed: \/no\/such\/engine not found/],
    [['--engine', 'kopia', pool.ds('a')], /kopia is not installed/],
    [[...cmd, '--exclude', `${pool.name}/nope`, pool.ds('a')], /no such ZFS filesystem/],
  ];
  for (const [args, msg] of cases) {
    const r = await run(KOPIATOMIC, ['--mount-root', '/kt-bad', ...args]);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, msg);
    assert.match(r.stderr, /^usage: kopiatomic/m);
  }
  assert.deepEqual(leftovers([pool], '/kt-bad'), CLEAN);
  assert.equal(existsSync('/kt-bad'), false);
});

test('--exclude leaves out a dataset and its descendants: never snapshotted, never mounted', async (t) => {
  const pool = Pool.create(['a', 'b', 'b/c', 'b/c/d']).destroyAfter(t);
  const work = scratchDir('exclude');
  const look = seenBySnapshotAndMount(work, pool);
  const r = await run(KOPIATOMIC, ['--mount-root', '/kt-ex', '--engine', 'command', '-c', look, '-r', pool.name, '--exclude', pool.ds('b/c')]);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(readSeen(work, 'snapshots'), [pool.ds(), pool.ds('a'), pool.ds('b')]);
  assert.deepEqual(readSeen(work, 'mounted'), [pool.ds(), pool.ds('a'), pool.ds('b')]);
  assert.deepEqual(leftovers([pool], '/kt-ex'), CLEAN);
});

test('dry run changes nothing, and its commands are the ones a real run then runs, as logged by wrappers on PATH', async (t) => {
  const pool = Pool.create(['a', 'a/b', 'c']).destroyAfter(t);
  const work = scratchDir('dry');
  // zfs, mount, umount and perl (the batch mounts' and unmount's carrier) wrappers first on PATH, each logging its argv.
  const { env, bin, log, logged, clear } = argvLogger(work, ['zfs', 'mount', 'umount', 'perl']);
  const engine = script(bin, 'engine', `{ printf '%s' "$0"; for a in "$@"; do printf '\\037%s' "$a"; done; printf '\\n'; } >> ${log}`);
  const snapsBefore = pool.snapshots();
  const args = ['--json', '--mount-root', '/kt-dry', '--engine', 'command', '-c', engine, '-p', `echo pre >> ${log}`, '-q', `echo post >> ${log}`, '-r', pool.name];
  const dry = await run(KOPIATOMIC, ['-n', ...args], { env });
  assert.equal(dry.code, 0, dry.stderr);
  assert.deepEqual(pool.snapshots(), snapsBefore);
  assert.equal(existsSync('/kt-dry'), false);
  assert.deepEqual(mountsUnder('/kt-dry'), []);
  const readOnly = (argv: string[]) => argv[0] === 'zfs' && (argv[1] === 'list' || argv[1] === 'get');
  assert.deepEqual(logged().filter((a) => !readOnly(a)), [], 'the dry run ran nothing but zfs list');
  clear();

  const real = await run(KOPIATOMIC, args, { env });
  assert.equal(real.code, 0, real.stderr);
  const norm = (w: string) => w.replace(/kopiatomic-\d{8}T\d{6}Z-\d+-[0-9a-f]{6}/g, 'SNAP').replace(/\d{8}T\d{6}Z-\d+-[0-9a-f]{6}/g, 'RUN').replace(/[0-9a-f-]{36}:\d+/g, 'OWNER').replace(/kopiatomic:proof=[0-9a-f]{64}/g, 'kopiatomic:proof=PROOF');
  // The destroy program's identity words (after `zfs program -j POOL - RUN OWNER`, a name, its
  // guid as g<signed> and its createtxg each) are slots in the dry run, filled once the snapshots exist.
  const slots = (a: string[]) => {
    const at = a.indexOf('-') + 3;
    return a[0] === 'zfs' && a[1] === 'program'
      ? a.map((w, i) => (i < at ? w : (i - at) % 3 === 1 && /^g-?\d+$/.test(w) ? '{guid}' : (i - at) % 3 === 2 && /^\d+$/.test(w) ? '{createtxg}' : w))
      : a;
  };
  const plan = events(dry, 'plan')[0]!;
  // The plan's commands as argv (folders and mount tables are written in-process: no program to log).
  const planned = (plan['commands'] as { phase: string; command: string }[])
    .filter((c) => c.phase !== 'mkdir' && c.phase !== 'rmdir' && c.phase !== 'mount-table')
    // A command with its input on stdin (a channel program) and its fallback (`<<'END' || {`, then
    // the input): what runs is the command; the fallback only if it fails. `&` stays: it runs beside.
    .map((c) => (c.phase === 'pre-hook' ? ['pre'] : c.phase === 'post-hook' ? ['post'] : splitWords(c.command.split('\n')[0]!.replace(/ <<'KOPIATOMIC_PROGRAM'( \|\| .*)?/, ''))).map(norm));
  // What really ran, from the pre hook on (before it: discovery and recovery, read-only).
  const ran = logged();
  const from = ran.findIndex((a) => a[0] === 'pre');
  assert.ok(from >= 0, 'the pre hook ran');
  assert.ok(ran.slice(0, from).every(readOnly), 'only zfs list/get before the pre hook');
  // Commands that run side by side (from a `… &` up to its `wait`) may start in any order within
  // their group: each group is compared as a set, and its commands without `&` also in their order.
  type Group = { all: string[][]; inOrder: string[][] };
  const groups: Group[] = [];
  let open: Group | null = null;
  for (const c of planned) {
    if (c.length === 1 && c[0] === 'wait') {
      if (open) groups.push(open);
      open = null;
    } else if (c.at(-1) === '&') {
      (open ??= { all: [], inOrder: [] }).all.push(c.slice(0, -1));
    } else if (open) {
      open.all.push(c);
      open.inOrder.push(c);
    } else groups.push({ all: [c], inOrder: [c] });
  }
  assert.equal(open, null, 'every `&` has its `wait`');
  assert.equal(groups.filter((g) => g.all.length > g.inOrder.length).length, 2, 'the hold and identity program beside the mounts, the release beside the unmount');
  const key = (a: string[]) => JSON.stringify(a);
  let at = from;
  for (const g of groups) {
    const got = ran.slice(at, (at += g.all.length)).map((a) => slots(a.map(norm)));
    assert.deepEqual(got.map(key).sort(), g.all.map(key).sort());
    const ordered = new Set(g.inOrder.map(key));
    assert.deepEqual(got.filter((a) => ordered.has(key(a))), g.inOrder);
  }
  assert.equal(at, ran.length, 'nothing ran that the plan does not show');
  assert.ok(planned.some((c) => c[0] === 'zfs' && c[1] === 'snapshot') && planned.some((c) => c[0] === 'zfs' && c[1] === 'program'));
  // Both batches are perl: the mounts carry the type word zfs and a snapshot, the unmount only targets.
  assert.ok(planned.some((c) => c[0] === 'perl' && c.includes('zfs') && c.some((w) => w.endsWith('@SNAP'))), 'the batch mounts');
  assert.ok(planned.some((c) => c[0] === 'perl' && !c.includes('zfs') && c.some((w) => w.startsWith('/kt-dry/'))), 'the batch unmount');
  assert.deepEqual(leftovers([pool], '/kt-dry'), CLEAN);
});

/** A backup command that records the snapshots that exist, and those mounted, while it runs. */
function seenBySnapshotAndMount(work: string, pool: Pool): string {
  return script(
    work,
    'look',
    `zfs list -H -o name -t snapshot -r ${pool.name} | grep @kopiatomic- | sed 's/@.*//' | sort > ${work}/snapshots\n` +
      `findmnt -rn -o SOURCE | grep -E "^${pool.name}(/[^@]*)?@kopiatomic-" | sed 's/@.*//' | sort > ${work}/mounted`,
  );
}

function readSeen(work: string, what: 'snapshots' | 'mounted'): string[] {
  return readFileSync(`${work}/${what}`, 'utf8').split('\n').filter(Boolean);
}
