/**
 * `app-media <task> [flags]`: the gulp tasks without gulp, for npm lifecycle
 * scripts. Same API, same flag table, same lines, `--json` and exit codes.
 * It loads only what the task needs: no gulp, no vinyl-fs (glob-watcher only
 * for watch).
 */
import { errors, isAppMediaError } from './errors.js';
import { readFlags } from './gulp/flags.js';
import { errorDocument } from './error-document.js';
import { isSystemError, systemErrorLines } from './system-errors.js';
import { flagsFor, TASKS, taskDescriptions } from './options.js';
import type { Logger, Report, RunOptions, TaskName } from './types.js';
import { wantsColor } from './util/color.js';
import { nearest } from './util/nearest.js';

/** Flags of the command itself, beside the task flags of the table. */
const OWN_FLAGS = ['help', 'silent', 'version', 'color', 'no-color'];

export interface CliIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
}

const processIo: CliIo = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
};

/** Runs the command; resolves to the exit status. */
export async function main(argv: readonly string[], io: CliIo = processIo, cwd?: string): Promise<number> {
  const task = argv.find((arg) => !arg.startsWith('-'));
  const wantsHelp = argv.includes('--help') || argv.includes('-h');
  const verbose = argv.includes('--verbose');
  const json = argv.includes('--json');
  const silent = argv.includes('--silent');
  try {
    if (argv.includes('--version')) {
      io.stdout(`${await version()}\n`);
      return 0;
    }
    if (task === undefined) {
      io[wantsHelp ? 'stdout' : 'stderr'](usage());
      return wantsHelp ? 0 : 1;
    }
    if (!(TASKS as readonly string[]).includes(task)) {
      const close = nearest(task, TASKS);
      throw errors.badFlag(task, `unknown task "${task}"`, close ? `did you mean "app-media ${close}"? (app-media --help lists the tasks)` : 'app-media --help lists the tasks');
    }
    const name = task as TaskName;
    if (wantsHelp) {
      io.stdout(taskUsage(name));
      return 0;
    }
    checkFlags(argv, name);
    const flags = readFlags(argv, name);
    const options: RunOptions = { ...flags.options, ...(cwd ? { cwd } : {}) };
    if (!json && !silent) options.logger = consoleLogger(io, wantsColor(process.stdout, process.env, argv));
    const report = await run(name, options);
    if (json) io.stdout(`${JSON.stringify(report, null, 2)}\n`);
    return report.failed ? 1 : 0;
  } catch (error) {
    const document = json ? errorDocument(task ?? null, error, cwd ?? process.cwd()) : undefined;
    if (document) io.stdout(`${JSON.stringify(document, null, 2)}\n`);
    if (isAppMediaError(error)) {
      if (silent) return 1;
      io.stderr(`${error.toString()}\n${verbose ? `${(error.stack ?? '').split('\n').filter((line) => /^\s+at /.test(line)).join('\n')}\n` : ''}`);
      return 1;
    }
    if (silent) return 1;
    if (verbose && error instanceof Error) io.stderr(`${error.stack ?? String(error)}\n`);
    else if (isSystemError(error)) io.stderr(`${systemErrorLines(error, cwd ?? process.cwd())}\n`);
    else io.stderr(`${String(error)}\n`);
    return 1;
  }
}

/** Only the modules of the task at hand are loaded. */
async function run(task: TaskName, options: RunOptions): Promise<Report> {
  switch (task) {
    case 'link': return (await import('./api.js')).link(options);
    case 'clean': return (await import('./api.js')).clean(options);
    case 'verify': return (await import('./api.js')).verify(options);
    case 'find': return (await import('./find.js')).find(options);
    case 'watch': return (await import('./watch.js')).watch(options);
  }
}

/** Unlike gulp's command line (which also holds gulp's flags), ours is strict: a typo is an error that names the nearest flag. */
function checkFlags(argv: readonly string[], task: TaskName): void {
  const known = new Set([...OWN_FLAGS, ...flagsFor(task).map((flag) => (flag.negated ? `no-${flag.name}` : flag.name))]);
  const stringFlags = new Set(flagsFor(task).filter((flag) => flag.kind === 'string').map((flag) => flag.name));
  let seenTask = false;
  for (let index = 0; index < argv.length; index++) {
    const arg = argv[index] ?? '';
    if (!arg.startsWith('-')) {
      if (seenTask) throw errors.badFlag(arg, `unexpected argument "${arg}"`, `app-media ${task} takes flags only; see app-media ${task} --help`);
      seenTask = true;
      continue;
    }
    const name = arg.replace(/^--?/, '').split('=')[0] ?? '';
    if (arg === '-h') continue;
    if (!known.has(name)) {
      const other = flagsOfOtherTasks(task).includes(name);
      const close = known.has(`no-${name}`) ? `no-${name}` : nearest(name, [...known]);
      throw errors.badFlag(`--${name}`, other ? `--${name} is not a flag of app-media ${task}` : `unknown flag --${name}`,
        close ? `did you mean --${close}? (app-media ${task} --help lists its flags)` : `app-media ${task} --help lists its flags`);
    }
    if (stringFlags.has(name) && !arg.includes('=')) index++; // its value
  }
}

function flagsOfOtherTasks(task: TaskName): string[] {
  return TASKS.filter((other) => other !== task).flatMap((other) => flagsFor(other).map((flag) => flag.name));
}

function consoleLogger(io: CliIo, color: boolean): Logger {
  return {
    color,
    debug: () => undefined,
    // As gulp's command line does: notices on stdout with the rest, errors on stderr.
    info: (message) => io.stdout(`${message}\n`),
    warn: (message) => io.stdout(`${message}\n`),
    error: (message) => io.stderr(`${message}\n`),
  };
}

function flagLines(task: TaskName): string[] {
  const rows = flagsFor(task).map((flag) => [`--${flag.negated ? 'no-' : ''}${flag.name}${flag.arg ? ` ${flag.arg}` : ''}`, flag.description] as const);
  rows.push(['--silent', 'print nothing (the exit status still tells)'], ['--help', 'this help']);
  const width = Math.max(...rows.map(([name]) => name.length));
  return rows.map(([name, description]) => `  ${name.padEnd(width)}  ${description}`);
}

export function usage(): string {
  const width = Math.max(...TASKS.map((task) => task.length));
  return [
    'Usage: app-media <task> [flags]',
    '',
    'Tasks (the same as the gulp tasks media:<task>):',
    ...TASKS.map((task) => `  ${task.padEnd(width)}  ${taskDescriptions[task]}`),
    '',
    'app-media <task> --help lists the flags of a task. Exit status: 0 when all is well, 1 otherwise.',
    '',
  ].join('\n');
}

export function taskUsage(task: TaskName): string {
  return [`Usage: app-media ${task} [flags]`, '', taskDescriptions[task], '', 'Flags:', ...flagLines(task), ''].join('\n');
}

async function version(): Promise<string> {
  const { readFile } = await import('node:fs/promises');
  const pkg = JSON.parse(await readFile(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}
