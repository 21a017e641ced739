// Shell completions for kopiatomic and restomic, from the command
// declarations and the flag table: commands, each command's own flags, the
// values of flags (files, directories, engines, layouts), datasets for the
// flag form and job names (`jobs --names`, with the --config given) for the
// commands that take jobs.
import type { CommandSpec } from '../command.js';
import { FLAG, FLAGS, GENERAL_FLAGS, type Flag } from '../flags.js';

/** The key a command is known by in the scripts: "run", "config show"; "" = the flag form. */
const keyOf = (c: CommandSpec) => c.words.join(' ');
const flagsOf = (c: CommandSpec): Flag[] => [...c.flags, ...GENERAL_FLAGS].map((l) => FLAG.get(l)!);
const spellings = (f: Flag) => [...(f.short ? [`-${f.short}`] : []), `--${f.long}`];
/** Flags whose value is the next word (not the optional-valued ones). */
const valueFlags = () => FLAGS.filter((f) => f.value !== undefined && f.bare === undefined);
const shortValueLetters = () => FLAGS.filter((f) => f.short && f.value !== undefined).map((f) => f.short!).join('');
const firstWords = (commands: readonly CommandSpec[]) => [...new Set(commands.flatMap((c) => c.words.slice(0, 1)))];
const groups = (commands: readonly CommandSpec[]) => firstWords(commands).filter((w) => commands.filter((c) => c.words[0] === w).length > 1);
const jobTakers = (commands: readonly CommandSpec[]) => commands.filter((c) => c.completes === 'job').map(keyOf);
const sq = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

function byCompletion(kind: (f: Flag) => boolean): string[] {
  return valueFlags().filter(kind).flatMap(spellings);
}
const isList = (f: Flag): f is Flag & { complete: readonly string[] } => Array.isArray(f.complete);

/**
 * The shell lines (the same in bash and zsh) that read the words before the
 * cursor: the command ($cmd, "flagform" for datasets), its subcommand ($sub)
 * and the --config value ($config), skipping the values of flags.
 */
function scanWords(commands: readonly CommandSpec[], array: string, from: number, cursor: string): string {
  return `  for ((i = ${from}; i < ${cursor}; i++)); do
    w=\${${array}[i]}
    if [[ -n $skip ]]; then
      skip=
      [[ $flag == --config ]] && config=$w
      continue
    fi
    case $w in
      --) cmd=\${cmd:-flagform}; break ;;
      --config=*) config=\${w#--config=} ;;
      ${valueFlags().map((f) => `--${f.long}`).join('|')}) skip=1; flag=$w ;;
      -[!-]*[${shortValueLetters()}]) skip=1; flag=$w ;;
      -*) ;;
      *)
        if [[ -z $cmd ]]; then
          case $w in
            ${firstWords(commands).join('|')}) cmd=$w ;;
            *) cmd=flagform ;;
          esac
        elif [[ -z $sub && ( ${groups(commands).map((g) => `$cmd == ${g}`).join(' || ')} ) ]]; then
          sub=$w
        fi ;;
    esac
  done
`;
}

export function bashCompletion(commands: readonly CommandSpec[]): string {
  const cases = commands.map((c) => `      ${JSON.stringify(keyOf(c))}) flags=${sq(flagsOf(c).flatMap(spellings).join(' '))} ;;`).join('\n');
  const lists = valueFlags()
    .filter(isList)
    .map((f) => `    ${spellings(f).join('|')}) COMPREPLY=($(compgen -W ${sq(f.complete.join(' '))} -- "$cur")); return ;;`)
    .join('\n');
  return `# bash completion for kopiatomic and restomic; made by \`npm run build\` from the
# flag table (src/cli/flags.ts) and the commands' declarations: do not edit.

_kopiatomic_datasets() {
  command -v zfs >/dev/null 2>&1 && zfs list -H -o name -t filesystem 2>/dev/null
}

_kopiatomic() {
  local cur=\${COMP_WORDS[COMP_CWORD]} prev=
  ((COMP_CWORD > 0)) && prev=\${COMP_WORDS[COMP_CWORD-1]}
  local prog=\${COMP_WORDS[0]} cmd= sub= config= skip= flag= w i
${scanWords(commands, 'COMP_WORDS', 1, 'COMP_CWORD')}  COMPREPLY=()
  case $prev in
    ${byCompletion((f) => f.complete === 'file').join('|')}) COMPREPLY=($(compgen -f -- "$cur")); return ;;
    ${byCompletion((f) => f.complete === 'dir').join('|')}) COMPREPLY=($(compgen -d -- "$cur")); return ;;
    ${byCompletion((f) => f.complete === 'program').join('|')}) COMPREPLY=($(compgen -c -- "$cur")); return ;;
    ${byCompletion((f) => f.complete === 'dataset').join('|')}) COMPREPLY=($(compgen -W "$(_kopiatomic_datasets)" -- "$cur")); return ;;
${lists}
    ${byCompletion((f) => f.complete === 'none' || f.complete === undefined).join('|')}) return ;;
  esac
  local key=$cmd
  [[ $cmd == flagform ]] && key=
  [[ -n $sub ]] && key="$cmd $sub"
  if [[ $cur == -* ]]; then
    local flags=
    case $key in
${cases}
    esac
    COMPREPLY=($(compgen -W "$flags" -- "$cur"))
    return
  fi
  case $key in
    '') COMPREPLY=($(compgen -W "${firstWords(commands).join(' ')} $(_kopiatomic_datasets)" -- "$cur")) ;;
    flagform | '') ;;
${groups(commands).map((g) => `    ${g}) COMPREPLY=($(compgen -W ${sq(commands.filter((c) => c.words[0] === g).map((c) => c.words[1]).join(' '))} -- "$cur")) ;;`).join('\n')}
    ${jobTakers(commands).map((k) => JSON.stringify(k)).join(' | ')})
      # The path as typed: quoted, or with escaped spaces (no eval of what was typed).
      config=\${config//\\\\ / }
      [[ $config == \\'*\\' || $config == \\"*\\" ]] && config=\${config:1:\${#config}-2}
      COMPREPLY=($(compgen -W "$("$prog" \${config:+--config "$config"} jobs --names 2>/dev/null)" -- "$cur")) ;;
  esac
  if [[ $cmd == flagform || -z $cmd ]]; then
    [[ $cur == /* || $cur == .* ]] && COMPREPLY+=($(compgen -d -- "$cur"))
    [[ $cmd == flagform ]] && COMPREPLY+=($(compgen -W "$(_kopiatomic_datasets)" -- "$cur"))
  fi
  return 0
}

complete -F _kopiatomic kopiatomic restomic
`;
}

/**
 * One `_describe` entry: the first colon that is not escaped ends the word, so
 * only a colon inside the word is escaped (escaping the separator too made the
 * whole line, description and all, the word zsh inserted).
 */
const zq = (word: string, description: string) => sq(`${word.replace(/:/g, '\\:')}:${description}`);
/** A help text without the program's own words ({engine}...), which differ between kopiatomic and restomic. */
const brief = (help: string) => help.replace(/ ?\(default \{\w+\}\)/g, '').replace(/default \{\w+\}; /g, '').replace(/\{\w+\}/g, '');

export function zshCompletion(commands: readonly CommandSpec[]): string {
  const cases = commands
    .map((c) => `      (${sq(keyOf(c))}) flags=(${flagsOf(c).flatMap((f) => spellings(f).map((s) => zq(s, brief(f.help).slice(0, 70)))).join(' ')}) ;;`)
    .join('\n');
  const top = commands.filter((c) => c.words.length).map((c) => c.words[0]!);
  const described = [...new Set(top)].map((w) => {
    const c = commands.filter((x) => x.words[0] === w);
    return zq(w, c.length > 1 ? c.map((x) => x.words[1]).join(', ') : c[0]!.summary);
  });
  const lists = valueFlags()
    .filter(isList)
    .map((f) => `    (${spellings(f).join('|')}) compadd -- ${f.complete.join(' ')}; return ;;`)
    .join('\n');
  return `#compdef kopiatomic restomic
# zsh completion for kopiatomic and restomic; made by \`npm run build\` from the
# flag table (src/cli/flags.ts) and the commands' declarations: do not edit.

_kopiatomic_datasets() {
  local -a ds
  (( $+commands[zfs] )) && ds=(\${(f)"$(zfs list -H -o name -t filesystem 2>/dev/null)"})
  (( \${#ds} )) && compadd -- $ds
}

_kopiatomic() {
  local cmd= sub= config= skip= flag= w i
${scanWords(commands, 'words', 2, 'CURRENT')}  local prev=\${words[CURRENT-1]} cur=\${words[CURRENT]}
  case $prev in
    (${byCompletion((f) => f.complete === 'file').join('|')}) _files; return ;;
    (${byCompletion((f) => f.complete === 'dir').join('|')}) _directories; return ;;
    (${byCompletion((f) => f.complete === 'program').join('|')}) _command_names -e; return ;;
    (${byCompletion((f) => f.complete === 'dataset').join('|')}) _kopiatomic_datasets; return ;;
${lists}
    (${byCompletion((f) => f.complete === 'none' || f.complete === undefined).join('|')}) return ;;
  esac
  local key=$cmd
  [[ $cmd == flagform ]] && key=
  [[ -n $sub ]] && key="$cmd $sub"
  if [[ $cur == -* ]]; then
    local -a flags
    case $key in
${cases}
    esac
    _describe -t options option flags
    return
  fi
  case $key in
    ('')
      local -a cmds
      cmds=(${described.join(' ')})
      _describe -t commands command cmds
      [[ -z $cmd ]] && _kopiatomic_datasets ;;
${groups(commands).map((g) => `    (${g}) compadd -- ${commands.filter((c) => c.words[0] === g).map((c) => c.words[1]).join(' ')} ;;`).join('\n')}
    (${jobTakers(commands).map(sq).join('|')})
      local -a jobs
      jobs=(\${(f)"$(\${words[1]} \${config:+--config} \${config:+\${(Q)config}} jobs --names 2>/dev/null)"})
      (( \${#jobs} )) && compadd -- $jobs ;;
  esac
  [[ $cmd == flagform ]] && { _kopiatomic_datasets; _files -/ }
  return 0
}

_kopiatomic "$@"
`;
}

export function fishCompletion(commands: readonly CommandSpec[]): string {
  const out: string[] = [
    '# fish completion for kopiatomic and restomic; made by `npm run build` from the',
    "# flag table (src/cli/flags.ts) and the commands' declarations: do not edit.",
    '',
    '# The command the words so far name: "run", "config show"; "" = none yet; "flagform" = datasets.',
    'function __kopiatomic_key',
    '    set -l toks (commandline -opc)',
    '    set -e toks[1]',
    '    set -l skip 0',
    '    set -l words',
    '    for t in $toks',
    '        if test $skip = 1',
    '            set skip 0',
    '            continue',
    '        end',
    '        switch $t',
    "            case '--'",
    '                break',
    `            case ${valueFlags().map((f) => sq(`--${f.long}`)).join(' ')}`,
    '                set skip 1',
    `            case ${FLAGS.filter((f) => f.short && f.value !== undefined).map((f) => sq(`-*${f.short}`)).join(' ')}`,
    "                string match -q -- '--*' $t; or set skip 1",
    "            case '-*'",
    '            case \'*\'',
    '                set -a words $t',
    '        end',
    '    end',
    '    if test (count $words) = 0',
    "        echo ''",
    `    else if test (count $words) -ge 2; and contains -- $words[1] ${groups(commands).join(' ')}`,
    '        echo "$words[1] $words[2]"',
    `    else if contains -- $words[1] ${firstWords(commands).join(' ')}`,
    '        echo $words[1]',
    '    else',
    '        echo flagform',
    '    end',
    'end',
    '',
    'function __kopiatomic_is',
    '    contains -- (__kopiatomic_key) $argv',
    'end',
    '',
    'function __kopiatomic_jobs',
    '    set -l toks (commandline -opc)',
    '    set -l config',
    '    set -l i (contains -i -- --config $toks)',
    '    and set config --config $toks[(math $i + 1)]',
    '    command -q $toks[1]; or return',
    '    command $toks[1] $config jobs --names 2>/dev/null',
    'end',
    '',
    'function __kopiatomic_datasets',
    '    command -q zfs; and zfs list -H -o name -t filesystem 2>/dev/null',
    'end',
    '',
  ];
  const c = (cond: string, rest: string) => out.push(`complete -c kopiatomic -n ${sq(cond)} ${rest}`);
  const firsts = firstWords(commands);
  for (const w of firsts) {
    const g = commands.filter((x) => x.words[0] === w);
    c(`__kopiatomic_is ''`, `-f -a ${w} -d ${sq(g.length > 1 ? g.map((x) => x.words[1]).join(', ') : g[0]!.summary)}`);
  }
  // Files only where a path may go: the flag form's operands, and file-valued flags (-r -F).
  out.push('complete -c kopiatomic -f');
  c(`__kopiatomic_is '' flagform`, `-F -a '(__kopiatomic_datasets)'`);
  for (const g of groups(commands)) for (const x of commands.filter((y) => y.words[0] === g && y.words[1])) c(`__kopiatomic_is ${g}`, `-f -a ${x.words[1]} -d ${sq(x.summary)}`);
  for (const k of jobTakers(commands)) c(`__kopiatomic_is ${sq(k)}`, `-f -a '(__kopiatomic_jobs)'`);
  for (const f of FLAGS) {
    const takers = commands.filter((x) => [...x.flags, ...GENERAL_FLAGS].includes(f.long)).map((x) => (x.words.length ? sq(keyOf(x)) : `'' flagform`));
    let value = '';
    if (f.value !== undefined && f.bare === undefined) {
      value = isList(f) ? ` -x -a ${sq(f.complete.join(' '))}` : f.complete === 'file' ? ' -r -F' : f.complete === 'dir' ? " -x -a '(__fish_complete_directories)'" : f.complete === 'program' ? " -x -a '(__fish_complete_command)'" : f.complete === 'dataset' ? " -x -a '(__kopiatomic_datasets)'" : ' -x';
    }
    c(`__kopiatomic_is ${takers.join(' ')}`, `${f.short ? `-s ${f.short} ` : ''}-l ${f.long}${value} -d ${sq(f.help.replace(/\{\w+\}/g, '').split(/[;(]/)[0]!.trim())}`);
  }
  out.push('complete -c restomic -w kopiatomic', '');
  return out.join('\n');
}
