// The man pages: kopiatomic(8) and restomic(8) from the command declarations
// and the flag table, kopiatomic.toml(5) from the configuration's JSON Schema.
import type { Flavour } from '../../config/job.js';
import type { CommandSpec } from '../command.js';
import { FLAGS, fillHelp, GENERAL_FLAGS, type Flag } from '../flags.js';
import { EXIT_CODES_TEXT, helpWords, synopsis } from '../help.js';
import { bold, italic, paragraphs, roff } from './roff.js';

function flagTerm(f: Flag): string {
  const names = [f.short ? bold(`-${f.short}`) : null, bold(`--${f.long}`)].filter(Boolean).join(', ');
  const value = f.value === undefined ? '' : f.bare !== undefined ? `[=${italic(f.value)}]` : ` ${italic(f.value)}`;
  return names + value;
}

function takers(commands: readonly CommandSpec[], f: Flag): string {
  if ((GENERAL_FLAGS as readonly string[]).includes(f.long)) return 'every command';
  return commands.filter((c) => c.flags.includes(f.long)).map((c) => (c.words.length ? c.words.join(' ') : 'the flag form')).join(', ');
}

export function programPage(commands: readonly CommandSpec[], f: Flavour, version: string): string {
  const w = helpWords(f);
  const NAME = f.name.toUpperCase();
  const flagForm = commands.find((c) => !c.words.length)!;
  const other = f.name === 'kopiatomic' ? 'restomic' : 'kopiatomic';
  const out: string[] = [
    `.TH ${NAME} 8 "" "${f.name} ${version}" "System Administration"`,
    // Flags and paths are not to be hyphenated.
    '.nh',
    '.SH NAME',
    `${f.name} \\- atomic backups of ZFS datasets with ${[f.engine, ...['kopia', 'restic'].filter((e) => e !== f.engine)].join(', ')} or any command`,
    '.SH SYNOPSIS',
    commands.map((c) => `.B ${f.name}\n${roff(synopsis(c, f.name).slice(f.name.length + 1))}`).join('\n.br\n'),
    '.SH DESCRIPTION',
    paragraphs(fillHelp(flagForm.about, w)),
    '.PP',
    `${bold(f.name)} and ${bold(other)} are one program: they differ only in the default engine and mount root (${roff(f.mountRoot)} here).`,
    '.SH COMMANDS',
  ];
  for (const c of commands.filter((c) => c.words.length)) {
    out.push('.TP', `${bold(c.words.join(' '))}${c.operands ? ` ${italic(c.operands)}` : ''}`, paragraphs(fillHelp(c.about, w)).replace(/\n\.PP\n/g, '\n.IP\n'));
    const fl = c.flags.map((l) => `\\-\\-${roff(l)}`);
    out.push('.IP', fl.length ? `Flags: ${fl.join(', ')}.` : 'Takes no flags.');
  }
  out.push('.SH OPTIONS');
  for (const fl of FLAGS) out.push('.TP', flagTerm(fl), roff(fillHelp(fl.help, w)), '.IP', `Taken by: ${roff(takers(commands, fl))}.`);
  out.push(
    '.SH EXIT STATUS',
    paragraphs(EXIT_CODES_TEXT.replace(/^Exit codes: /, '')),
    '.SH FILES',
    '.TP',
    bold(w.config),
    `The configuration (see ${bold('kopiatomic.toml')}(5)), and ${roff('conf.d/*.toml')} beside it. FreeBSD: ${roff('/usr/local/etc/kopiatomic/kopiatomic.toml')}.`,
    '.TP',
    bold(w.statusFile),
    `The last run of each job, read by ${bold('status')}. FreeBSD: ${roff('/var/db/kopiatomic/status.json')}.`,
    '.TP',
    bold('/var/lib/kopiatomic'),
    'The journals of runs, from which an interrupted run is undone.',
    '.SH SEE ALSO',
    `${bold(other)}(8), ${bold('kopiatomic.toml')}(5), ${bold('kopia')}(1), ${bold('restic')}(1), ${bold('zfs')}(8), ${bold('systemd.timer')}(5)`,
  );
  return out.join('\n') + '\n';
}

type JsonSchema = {
  description?: string;
  type?: string;
  enum?: unknown[];
  default?: unknown;
  anyOf?: JsonSchema[];
  items?: JsonSchema;
  properties?: Record<string, JsonSchema>;
  additionalProperties?: JsonSchema | boolean;
};

function typeOf(s: JsonSchema): string {
  if (s.enum) return s.enum.map((e) => JSON.stringify(e)).join(' | ');
  if (s.anyOf) return s.anyOf.map(typeOf).join(' or ');
  if (s.type === 'array') return `array of ${s.items ? typeOf(s.items) : 'values'}`;
  if (s.type === 'object') return 'table';
  return s.type ?? 'value';
}

function keys(props: Record<string, JsonSchema>): string[] {
  const out: string[] = [];
  for (const [k, s] of Object.entries(props)) {
    const dflt = s.default !== undefined ? `; default ${JSON.stringify(s.default)}` : '';
    out.push('.TP', `${bold(k)} (${roff(typeOf(s) + dflt)})`, roff(s.description ?? ''));
  }
  return out;
}

export function configPage(schema: JsonSchema, version: string): string {
  const top = schema.properties ?? {};
  const { defaults, jobs, ...rest } = top;
  const job = (jobs?.additionalProperties && typeof jobs.additionalProperties === 'object' ? jobs.additionalProperties : defaults) ?? {};
  const jobKeys = job.properties ?? {};
  const defaultsOnly = Object.fromEntries(Object.entries(defaults?.properties ?? {}).filter(([k]) => !(k in jobKeys)));
  return [
    `.TH KOPIATOMIC.TOML 5 "" "kopiatomic ${version}" "File Formats"`,
    '.nh',
    '.SH NAME',
    'kopiatomic.toml \\- the jobs of kopiatomic and restomic',
    '.SH SYNOPSIS',
    bold('/etc/kopiatomic/kopiatomic.toml'),
    '.br',
    bold('/etc/kopiatomic/conf.d/*.toml'),
    '.SH DESCRIPTION',
    `A TOML file read by the commands ${bold('run')}, ${bold('jobs')}, ${bold('config')}, ${bold('status')} and ${bold('schedule')} of ${bold('kopiatomic')}(8) (${bold('--config')} ${italic('FILE')} names another; FreeBSD: ${roff('/usr/local/etc/kopiatomic/kopiatomic.toml')}). The files in ${roff('conf.d')} beside it are read after it, in name order: later files win key by key, tables merge, lists and values replace.`,
    '.PP',
    `Each ${roff('[jobs.NAME]')} table is one job: what to back up, with which engine, and where. The ${roff('[defaults]')} table holds settings every job inherits unless it sets them itself. ${bold('kopiatomic config check')} validates the files and names each problem's file, line and column; ${bold('kopiatomic config show')} prints the jobs as resolved.`,
    '.SH TOP-LEVEL KEYS',
    ...keys(rest),
    '.SH "[defaults]"',
    paragraphs(defaults?.description ?? ''),
    '.PP',
    `Every key of a job, and:`,
    ...keys(defaultsOnly),
    '.SH "[jobs.NAME]"',
    paragraphs(job.description ?? ''),
    ...keys(jobKeys),
    '.SH EXAMPLE',
    '.EX',
    roff(`[defaults]
engine = "restic"
env_files = { RESTIC_PASSWORD = "/etc/kopiatomic/restic.pass" }
env = { RESTIC_REPOSITORY = "/srv/restic-repo" }

[jobs.home]
datasets = ["tank/home"]
recursive = true
schedule = "daily"`),
    '.EE',
    '.SH SEE ALSO',
    `${bold('kopiatomic')}(8), ${bold('restomic')}(8)`,
  ].join('\n') + '\n';
}
