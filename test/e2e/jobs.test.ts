// Issue 11, "Must show": a configuration file with two restic jobs (one tree,
// one paths selected by the kopiatomic:backup property, two pools, two
// repositories) backs up with `kopiatomic --config F run`; each repository
// holds exactly its job's datasets (checked by a restore); one createtxg per
// pool per job (read from inside the backup); a dataset created after the
// config under a parent with kopiatomic:backup=on is backed up, one set to
// off is not, and `jobs` says why; `config check` on broken files exits 2
// with each problem's place, and nothing changes.
import assert from 'node:assert/strict';
import { chmodSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { CLEAN, events, KOPIATOMIC, leftovers, Pool, restic, resticRepo, run, scratchDir, script, zfs } from './lib.js';

/** Regular files below dir, relative, sorted. */
function files(dir: string): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    for (const name of readdirSync(join(dir, rel))) {
      const r = rel ? `${rel}/${name}` : name;
      if (lstatSync(join(dir, r)).isDirectory()) walk(r);
      else out.push(r);
    }
  };
  walk('');
  return out.sort();
}

function writeConfig(dir: string, text: string): string {
  const f = join(dir, 'kopiatomic.toml');
  writeFileSync(f, text);
  chmodSync(f, 0o600);
  return f;
}

test('two jobs from one file: tree and property-selected paths, two pools, two repositories', async (t) => {
  const p1 = Pool.create(['a', 'a/x', 'b', 'b/off', 'c']).destroyAfter(t);
  const p2 = Pool.create(['m', 'm/sub']).destroyAfter(t);
  const work = scratchDir('jobs');
  const treeRepo = resticRepo();
  const markedRepo = resticRepo();
  const pw = join(work, 'restic-pw');
  writeFileSync(pw, `${treeRepo['RESTIC_PASSWORD']}\n`);
  chmodSync(pw, 0o600);
  zfs('set', 'kopiatomic:backup=on', p1.ds('b'));
  zfs('set', 'kopiatomic:backup=off', p1.ds('b/off'));
  zfs('set', 'kopiatomic:backup=marked', p2.ds('m'));
  for (const [ds, f] of [['a', 'fa'], ['a/x', 'fx'], ['b', 'fb'], ['b/off', 'fo'], ['c', 'fc']] as const) writeFileSync(p1.path(`${ds}/${f}`), `${f}\n`);
  for (const [ds, f] of [['m', 'fm'], ['m/sub', 'fs']] as const) writeFileSync(p2.path(`${ds}/${f}`), `${f}\n`);

  // restic behind a wrapper that records, from inside the backup, the
  // createtxg of this run's snapshots as ZFS shows them.
  const wrapper = script(work, 'restic-rec', `if [ "$1" = backup ]; then zfs list -H -p -t snapshot -o name,createtxg | grep "@$KOPIATOMIC_SNAPSHOT\t" > ${work}/txg-$KOPIATOMIC_JOB; fi\nexec restic "$@"`);
  const cfg = writeConfig(
    work,
    `[defaults]
engine = "restic"
command = ["${wrapper}", "backup"]
env = { RESTIC_PASSWORD_FILE = "${pw}", RESTIC_CACHE_DIR = "${treeRepo['RESTIC_CACHE_DIR']}" }

[jobs.tree]
datasets = ["${p1.ds('a')}"]
recursive = true
mount_root = "/kt-jobs-tree"
env = { RESTIC_REPOSITORY = "${treeRepo['RESTIC_REPOSITORY']}" }

[jobs.marked]
select = "property"
layout = "paths"
mount_root = "/kt-jobs-marked"
env = { RESTIC_REPOSITORY = "${markedRepo['RESTIC_REPOSITORY']}" }
`,
  );
  // Created after the configuration was written: inherits kopiatomic:backup=on.
  zfs('create', p1.ds('b/new'));
  writeFileSync(p1.path('b/new/fn'), 'fn\n');

  const r = await run(KOPIATOMIC, ['--json', '--config', cfg, 'run'], { env: { RESTIC_PASSWORD: '', RESTIC_REPOSITORY: '' } });
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(leftovers([p1, p2], '/kt-jobs-tree'), CLEAN);
  assert.deepEqual(leftovers([p1, p2], '/kt-jobs-marked'), CLEAN);

  // Each repository holds exactly its job's datasets.
  restic(treeRepo, 'restore', 'latest', '--target', `${work}/tree`);
  assert.deepEqual(files(`${work}/tree`), [`kt-jobs-tree${p1.path('a/fa')}`, `kt-jobs-tree${p1.path('a/x/fx')}`]);
  restic(markedRepo, 'restore', 'latest', '--target', `${work}/marked`);
  assert.deepEqual(files(`${work}/marked`), [p1.path('b/fb'), p1.path('b/new/fn'), p2.path('m/fm'), p2.path('m/sub/fs')].map((p) => p.slice(1)).sort());
  assert.equal(JSON.parse(restic(treeRepo, 'snapshots', '--json')).length, 1);
  assert.equal(JSON.parse(restic(markedRepo, 'snapshots', '--json')).length, 1);

  // One transaction per pool per job.
  const txg = (job: string) => readFileSync(`${work}/txg-${job}`, 'utf8').trim().split('\n').map((l) => l.split('\t'));
  const tree = txg('tree');
  assert.deepEqual(tree.map(([n]) => n!.split('@')[0]).sort(), [p1.ds('a'), p1.ds('a/x')]);
  assert.equal(new Set(tree.map(([, t]) => t)).size, 1);
  const marked = txg('marked');
  assert.deepEqual(marked.map(([n]) => n!.split('@')[0]).sort(), [p1.ds('b'), p1.ds('b/new'), p2.ds('m'), p2.ds('m/sub')]);
  for (const p of [p1, p2]) assert.equal(new Set(marked.filter(([n]) => n!.startsWith(p.name + '/')).map(([, t]) => t)).size, 1, p.name);
  assert.notEqual(tree[0]![0]!.split('@')[1], marked[0]![0]!.split('@')[1], 'each job has its own snapshot');

  // `jobs` says why for both.
  const j = await run(KOPIATOMIC, ['--json', '--config', cfg, 'jobs', 'marked']);
  assert.equal(j.code, 0, j.stderr);
  const shown = events(j, 'jobs')[0]!['jobs'] as { job: string; datasets: { dataset: string; selected: boolean; why: string }[] }[];
  const why = Object.fromEntries(shown[0]!.datasets.map((d) => [d.dataset, d]));
  assert.deepEqual(why[p1.ds('b/new')], { dataset: p1.ds('b/new'), selected: true, why: `kopiatomic:backup=on inherited from ${p1.ds('b')}` });
  assert.deepEqual(why[p1.ds('b/off')], { dataset: p1.ds('b/off'), selected: false, why: 'kopiatomic:backup=off set locally' });
  assert.deepEqual(why[p2.ds('m/sub')], { dataset: p2.ds('m/sub'), selected: true, why: `kopiatomic:backup=marked inherited from ${p2.ds('m')}` });
});

test('config check and run on broken configurations: exit 2, each problem with file:line:column, nothing changed', async (t) => {
  const pool = Pool.create(['a']).destroyAfter(t);
  const work = scratchDir('badcfg');
  const cases: { name: string; text: string; dropIn?: string; args?: string[]; want: (f: string) => RegExp }[] = [
    { name: 'unknown-key', text: `[jobs.x]\ndatasets = ["${pool.ds('a')}"]\nrecursiv = true\n`, want: (f) => new RegExp(`${f}:3:1: unknown key jobs\\.x\\.recursiv \\(did you mean recursive\\?\\)`) },
    { name: 'wrong-type', text: `[jobs.x]\ndatasets = ["${pool.ds('a')}"]\nrecursive = "yes"\n`, want: (f) => new RegExp(`${f}:3:1: jobs\\.x\\.recursive: expected boolean, got a string`) },
    { name: 'no-datasets', text: `[defaults]\nengine = "restic"\n\n[jobs.x]\nrecursive = true\n`, want: (f) => new RegExp(`${f}:4:1: job x: no datasets`) },
    { name: 'no-such-dataset', text: `[jobs.x]\nengine = "restic"\ndatasets = ["${pool.ds('nope')}"]\n`, want: (f) => new RegExp(`${f}:3:1: job x: no such ZFS filesystem: ${pool.ds('nope')}`) },
    { name: 'bad-drop-in', text: `[jobs.x]\nengine = "restic"\ndatasets = ["${pool.ds('a')}"]\n`, dropIn: '[jobs.y]\ndatasets = ["a"\n', want: (f) => new RegExp(`${join(f, '..', 'conf.d', '50-bad.toml')}:\\d+:\\d+: not valid TOML`) },
    { name: 'unknown-job', text: `[jobs.x]\nengine = "restic"\ndatasets = ["${pool.ds('a')}"]\n`, args: ['run', 'y'], want: () => /no job named "y" .*jobs: x/ },
  ];
  for (const c of cases) {
    const dir = join(work, c.name);
    mkdirSync(dir);
    const f = writeConfig(dir, c.text);
    if (c.dropIn) {
      mkdirSync(join(dir, 'conf.d'));
      writeFileSync(join(dir, 'conf.d', '50-bad.toml'), c.dropIn);
    }
    for (const args of c.args ? [c.args] : [['config', 'check'], ['run']]) {
      // config check takes no job flags (it would ignore them): the mount root goes with run only.
      const r = await run(KOPIATOMIC, ['--config', f, ...args, ...(args[0] === 'run' ? ['--mount-root', '/kt-badcfg'] : [])]);
      assert.equal(r.code, 2, `${c.name} ${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, c.want(f), `${c.name} ${args.join(' ')}`);
      assert.deepEqual(pool.snapshots(), [], `${c.name}: no snapshot`);
      assert.equal(existsSync('/kt-badcfg'), false, `${c.name}: no mount root`);
    }
  }
  // And a good one passes.
  const good = writeConfig(join(work, 'unknown-key'), `[jobs.x]\nengine = "restic"\ndatasets = ["${pool.ds('a')}"]\n`);
  const ok = await run(KOPIATOMIC, ['--config', good, 'config', 'check']);
  assert.equal(ok.code, 0, ok.stderr);
});
