// The generated man pages and shell completions (`npm run build` writes them
// to dist/man and dist/completions from the flag table and the schema): each
// page renders with every warning on and gives none; the bash completion,
// loaded in a real bash, completes commands, flags, values and the job names
// of a configuration file; the zsh completion, run by zsh's own completion
// system in an interactive zsh on a pseudo-terminal, does the same; the fish
// one too.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { references } from '../../src/cli/reference/emit.js';
import { COMMANDS } from '../../src/cli/commands.js';
import { FLAGS } from '../../src/cli/flags.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const BIN = join(ROOT, 'dist/app/bin/kopiatomic.js');
const has = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;

test('the build wrote exactly the generated files, and they are up to date', () => {
  for (const [path, text] of Object.entries(references())) {
    assert.ok(existsSync(join(ROOT, path)), `${path} is missing: npm run build writes it`);
    assert.equal(readFileSync(join(ROOT, path), 'utf8'), text, `${path} is stale: npm run build`);
  }
  assert.deepEqual(Object.keys(references()).sort(), [
    'dist/completions/_kopiatomic', 'dist/completions/kopiatomic.bash', 'dist/completions/kopiatomic.fish', 'dist/completions/restomic.bash',
    'dist/man/kopiatomic.8', 'dist/man/kopiatomic.toml.5', 'dist/man/restomic.8',
  ]);
});

test('each man page renders with warnings on and gives no warning', () => {
  assert.ok(has('groff'), 'groff is needed (apt-get install groff-base)');
  for (const page of ['kopiatomic.8', 'restomic.8', 'kopiatomic.toml.5']) {
    const file = join(ROOT, 'dist/man', page);
    const r = spawnSync('groff', ['-ww', '-z', '-man', file], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr, '', `${page}: ${r.stderr}`);
    const text = spawnSync('groff', ['-man', '-Tutf8', file], { encoding: 'utf8', env: { ...process.env, MANWIDTH: '80' } }).stdout.replace(/.\x08/g, '');
    if (page === 'kopiatomic.toml.5') {
      for (const key of ['datasets', 'engine', 'mount_root', 'schedule', 'status_file', 'env_files']) assert.match(text, new RegExp(`^ {7}${key} \\(`, 'm'), key);
    } else {
      for (const f of FLAGS) assert.ok(text.includes(`--${f.long}`), `${page} documents --${f.long}`);
      for (const c of COMMANDS.filter((c) => c.words.length)) assert.ok(text.includes(c.words.join(' ')), `${page} documents ${c.words.join(' ')}`);
    }
  }
});

/** What the bash completion offers for these words (the last is the one being completed). */
function complete(words: string[], path = process.env['PATH']!): string[] {
  const script = `source ${JSON.stringify(join(ROOT, 'dist/completions/kopiatomic.bash'))}
COMP_WORDS=("$@"); COMP_CWORD=$((\${#COMP_WORDS[@]} - 1)); _kopiatomic; printf '%s\\n' "\${COMPREPLY[@]}"`;
  const r = spawnSync('bash', ['-c', script, 'bash', ...words], { encoding: 'utf8', env: { ...process.env, PATH: path } });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.split('\n').filter(Boolean).sort();
}

test('bash completion: commands, subcommands, flags of the command, flag values, job names of the config', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kt-complete-'));
  const config = join(dir, 'k.toml');
  writeFileSync(config, '[jobs.home]\nengine = "command"\ncommand = "true"\ndatasets = ["tank/home"]\n[jobs.srv-data]\nengine = "command"\ncommand = "true"\ndatasets = ["tank/srv"]\n');
  // The completion asks the program the user typed for the job names.
  const bin = join(dir, 'bin');
  spawnSync('mkdir', [bin]);
  writeFileSync(join(bin, 'kopiatomic'), `#!/bin/sh\nexec ${JSON.stringify(process.execPath)} ${JSON.stringify(BIN)} "$@"\n`);
  chmodSync(join(bin, 'kopiatomic'), 0o755);
  const path = `${bin}:${process.env['PATH']}`;
  assert.deepEqual(complete(['kopiatomic', 'ru']), ['run']);
  assert.deepEqual(complete(['kopiatomic', 'sch']), ['schedule']);
  assert.deepEqual(complete(['kopiatomic', 'config', '']), ['check', 'show']);
  assert.deepEqual(complete(['kopiatomic', 'schedule', 's']), ['show']);
  assert.deepEqual(complete(['restomic', 'status', '--m']), ['--max-age']);
  assert.deepEqual(complete(['kopiatomic', 'run', '--dr']), ['--dry-run']);
  assert.deepEqual(complete(['kopiatomic', 'status', '--dr']), [], 'status takes no --dry-run');
  assert.deepEqual(complete(['kopiatomic', 'schedule', 'show', '--c']), ['--config', '--cron']);
  assert.deepEqual(complete(['kopiatomic', 'schedule', 'install', '--c']), ['--config']);
  assert.deepEqual(complete(['kopiatomic', '--c']), ['--command']);
  assert.deepEqual(complete(['kopiatomic', '-r', 'tank', '--lay']), ['--layout']);
  assert.deepEqual(complete(['kopiatomic', '--engine', '']), ['command', 'kopia', 'restic']);
  assert.deepEqual(complete(['kopiatomic', '--layout', 'p']), ['paths']);
  assert.deepEqual(complete(['kopiatomic', 'run', '--config', join(dir, 'k.')]), [config]);
  assert.deepEqual(complete(['kopiatomic', '-o', '--tag', '--js']), ['--json'], 'a value that starts with - is not a flag');
  assert.deepEqual(complete(['kopiatomic', '--config', config, 'run', ''], path), ['home', 'srv-data']);
  assert.deepEqual(complete(['kopiatomic', 'run', '--config', config, 's'], path), ['srv-data']);
  assert.deepEqual(complete(['kopiatomic', '--config', config, 'schedule', 'show', 'h'], path), ['home']);
  assert.deepEqual(complete(['kopiatomic', '--config', config, 'status', ''], path), ['home', 'srv-data']);
  assert.deepEqual(complete(['kopiatomic', '--config', config, 'cleanup', ''], path), [], 'cleanup takes no jobs');
  // A configuration path as typed, escaped or quoted (the words keep the quoting).
  mkdirSync(join(dir, 'a dir'));
  copyFileSync(config, join(dir, 'a dir', 'k.toml'));
  assert.deepEqual(complete(['kopiatomic', '--config', join(dir, 'a\\ dir', 'k.toml'), 'run', ''], path), ['home', 'srv-data']);
  assert.deepEqual(complete(['kopiatomic', '--config', `'${join(dir, 'a dir', 'k.toml')}'`, 'status', 'h'], path), ['home']);
  // A configuration that cannot be read completes nothing and prints nothing.
  assert.deepEqual(complete(['kopiatomic', '--config', join(dir, 'none.toml'), 'run', ''], path), []);
});

test('zsh and fish completions parse', (t) => {
  for (const [shell, file] of [['zsh', '_kopiatomic'], ['fish', 'kopiatomic.fish']] as const) {
    if (!has(shell)) {
      t.diagnostic(`${shell} is not installed: its completion was not checked (apt-get install ${shell})`);
      continue;
    }
    const r = spawnSync(shell, ['-n', join(ROOT, 'dist/completions', file)], { encoding: 'utf8' });
    assert.equal(r.status, 0, `${shell}: ${r.stderr}`);
  }
});

/**
 * Types each LINE and a TAB into one interactive `zsh -f` (on a
 * pseudo-terminal, zsh/zpty) whose compinit finds dist/completions/_kopiatomic;
 * for each, prints the words the completion added (compadd wrapped to print
 * them) and the command line after the TAB (a widget bound to ^T prints it,
 * then clears it for the next line): the real completion system runs the
 * function, _describe and all, as a user's shell would.
 */
const ZSH_HARNESS = `zmodload zsh/zpty
zpty z zsh -f -i
zpty -w z "PS1='%% '; fpath=(\${(q)1} \\$fpath); autoload -Uz compinit; compinit -u -D"
zpty -w z 'compadd() { if [[ \${@[1,(i)(-|--)]} == *-(O|A|D)\\ * ]]; then builtin compadd "$@"; return $?; fi; local -a __h; builtin compadd -A __h "$@"; local x; for x in $__h; do print -r -- "<M>$x</M>" >/dev/tty; done; builtin compadd "$@"; }'
zpty -w z '__kt_buffer() { print -r -- "<B>$BUFFER</B>" >/dev/tty; BUFFER=; }; zle -N __kt_buffer; bindkey "^T" __kt_buffer'
zpty -w z 'zstyle ":completion:*" list-prompt ""; setopt nolistbeep nobeep; print -r -- "<RE""ADY>"'
zpty -r z out '*<READY>*'
shift
for line; do
  zpty -w -n z "$line"$'\\t\\C-t'
  zpty -r z out '*</B>*'
  print -r -- "<L>\${out//$'\\r'/}</L>"
done
zpty -d z
`;

test('zsh completion, run by compinit in an interactive zsh: commands, flags, values and job names, inserted as words', (t) => {
  if (!has('zsh')) return t.skip('zsh is not installed (apt-get install zsh)');
  const dir = mkdtempSync(join(tmpdir(), 'kt-zsh-'));
  const harness = join(dir, 'harness.zsh');
  writeFileSync(harness, ZSH_HARNESS);
  const config = join(dir, 'k.toml');
  writeFileSync(config, '[jobs.home]\nengine = "command"\ncommand = "true"\ndatasets = ["tank/home"]\n[jobs.srv-data]\nengine = "command"\ncommand = "true"\ndatasets = ["tank/srv"]\n');
  mkdirSync(join(dir, 'a dir'));
  const spaced = join(dir, 'a dir', 'k.toml');
  copyFileSync(config, spaced);
  const bin = join(dir, 'bin');
  spawnSync('mkdir', [bin]);
  for (const name of ['kopiatomic', 'restomic']) {
    writeFileSync(join(bin, name), `#!/bin/sh\nexec ${JSON.stringify(process.execPath)} ${JSON.stringify(BIN)} "$@"\n`);
    chmodSync(join(bin, name), 0o755);
  }
  const cases: [line: string, words: string[], after?: string][] = [
    // One match: the word alone is inserted, with a space (not "run:its description").
    ['kopiatomic ru', ['run'], 'kopiatomic run '],
    ['kopiatomic run --dr', ['--dry-run'], 'kopiatomic run --dry-run '],
    ['restomic status --m', ['--max-age'], 'restomic status --max-age '],
    ['kopiatomic status --dr', []], // status takes no --dry-run
    ['kopiatomic config ', ['check', 'show']],
    ['kopiatomic schedule show --c', ['--config', '--cron']],
    ['kopiatomic --engine ', ['command', 'kopia', 'restic']],
    ['kopiatomic --layout p', ['paths'], 'kopiatomic --layout paths '],
    [`kopiatomic --config ${config} run `, ['home', 'srv-data']],
    [`kopiatomic run --config ${config} s`, ['srv-data'], `kopiatomic run --config ${config} srv-data `],
    [`kopiatomic --config ${config} cleanup `, []], // cleanup takes no jobs
    // A configuration path as typed, quoted or escaped: the words keep the quoting, the program gets the path.
    [`kopiatomic --config '${spaced}' run `, ['home', 'srv-data']],
    [`kopiatomic --config ${spaced.replace(/ /g, '\\ ')} run h`, ['home']],
    // The commands, with the flag form's datasets (none: no zfs on PATH here).
    ['kopiatomic ', [...new Set(COMMANDS.filter((c) => c.words.length).map((c) => c.words[0]!))].sort()],
  ];
  const r = spawnSync('zsh', ['-f', harness, join(ROOT, 'dist/completions'), ...cases.map(([line]) => line)], {
    encoding: 'utf8',
    timeout: 60_000,
    env: { PATH: `${bin}:/usr/bin:/bin`, HOME: dir, TERM: 'dumb' },
  });
  assert.equal(r.status, 0, `zsh: ${r.stderr}${r.error ?? ''}\n${r.stdout}`);
  const answers = [...r.stdout.replace(/\r/g, '').matchAll(/<L>([^]*?)<\/L>/g)].map(([, chunk]) => ({
    words: [...chunk!.matchAll(/<M>([^<]*)<\/M>/g)].map((m) => m[1]!).sort(),
    line: chunk!.match(/<B>([^<]*)<\/B>/)?.[1],
  }));
  assert.equal(answers.length, cases.length, r.stdout);
  cases.forEach(([line, words, after], i) => {
    assert.deepEqual(answers[i]!.words, words, `completing ${JSON.stringify(line)}`);
    if (after !== undefined) assert.equal(answers[i]!.line, after, `the line after completing ${JSON.stringify(line)}`);
  });
});

test('fish completion: commands, flags and job names', (t) => {
  if (!has('fish')) return t.skip('fish is not installed');
  const dir = mkdtempSync(join(tmpdir(), 'kt-fish-'));
  const config = join(dir, 'k.toml');
  writeFileSync(config, '[jobs.home]\nengine = "command"\ncommand = "true"\ndatasets = ["tank/home"]\n');
  writeFileSync(join(dir, 'kopiatomic'), `#!/bin/sh\nexec ${JSON.stringify(process.execPath)} ${JSON.stringify(BIN)} "$@"\n`);
  chmodSync(join(dir, 'kopiatomic'), 0o755);
  const completeFish = (line: string) => {
    const r = spawnSync('fish', ['-c', `source ${JSON.stringify(join(ROOT, 'dist/completions/kopiatomic.fish'))}; complete -C${JSON.stringify(line)}`], {
      encoding: 'utf8',
      env: { ...process.env, PATH: `${dir}:${process.env['PATH']}` },
    });
    return r.stdout.split('\n').filter(Boolean).map((l) => l.split('\t')[0]).sort();
  };
  assert.deepEqual(completeFish('kopiatomic ru'), ['run']);
  assert.deepEqual(completeFish('kopiatomic config '), ['check', 'show']);
  assert.deepEqual(completeFish('kopiatomic status --dr'), []);
  assert.deepEqual(completeFish('kopiatomic run --dr'), ['--dry-run']);
  assert.deepEqual(completeFish(`kopiatomic --config ${config} run `), ['home']);
});
