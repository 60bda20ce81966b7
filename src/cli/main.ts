/**
 * `app-media <task> [flags]`: the gulp tasks without gulp, for npm lifecycle
 * scripts. Same API, same flag table, same lines, `--json` and exit codes.
 * It loads only what the task needs: no gulp, no vinyl-fs (glob-watcher only
 * for watch).
 */
import { isAppMediaError } from '../core/errors.js';
import { readCommandLine } from './flags.js';
import { errorDocument } from '../core/error-document.js';
import { isSystemError, systemErrorLines } from '../core/system-errors.js';
import { flagName, flagsFor, plain, TASKS, taskDescriptions, type TaskName } from '../core/options.js';
import { taskRunners } from '../tasks.js';
import type { Logger, RunOptions } from '../core/types.js';
import { wantsColor } from '../core/util/color.js';

export interface CliIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
}

const processIo: CliIo = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
};

/** Runs the command; resolves to the exit status. Flags may stand before or after the task. */
export async function main(argv: readonly string[], io: CliIo = processIo, cwd?: string): Promise<number> {
  // What the line asks for is known before it is checked: a line that does not parse is reported as asked (--json,
  // --silent).
  const read = readCommandLine(argv);
  let task: string | null = read.asked.task ?? null;
  let { verbose, json, silent } = read.asked;
  try {
    const line = read.parse();
    task = line.task ?? null;
    ({ verbose, json } = line.flags);
    silent = line.silent;
    if (line.version) {
      io.stdout(`${await version()}\n`);
      return 0;
    }
    if (line.task === undefined) {
      io[line.help ? 'stdout' : 'stderr'](usage());
      return line.help ? 0 : 1;
    }
    if (line.help) {
      io.stdout(taskUsage(line.task));
      return 0;
    }
    const options: RunOptions = { ...line.flags.options, ...(cwd ? { cwd } : {}) };
    if (!json && !silent) options.logger = consoleLogger(io, wantsColor(process.stdout, process.env, argv));
    const report = await (await taskRunners[line.task]())(options);
    if (json) io.stdout(`${JSON.stringify(report, null, 2)}\n`);
    return report.failed ? 1 : 0;
  } catch (error) {
    const document = json ? errorDocument(task, error, cwd ?? process.cwd()) : undefined;
    if (document) io.stdout(`${JSON.stringify(document, null, 2)}\n`);
    if (isAppMediaError(error)) {
      if (silent) return 1;
      io.stderr(
        `${error.toString()}\n${
          verbose
            ? `${(error.stack ?? '')
                .split('\n')
                .filter((line) => /^\s+at /.test(line))
                .join('\n')}\n`
            : ''
        }`,
      );
      return 1;
    }
    if (silent) return 1;
    if (verbose && error instanceof Error) io.stderr(`${error.stack ?? String(error)}\n`);
    else if (isSystemError(error)) io.stderr(`${systemErrorLines(error, cwd ?? process.cwd())}\n`);
    else io.stderr(`${String(error)}\n`);
    return 1;
  }
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
  const rows = flagsFor(task, 'command')
    .filter((flag) => flag.name !== 'version')
    .map(
      (flag) =>
        [
          `${flagName(flag)}${flag.arg ? ` ${flag.arg}` : ''}${flag.short ? `, -${flag.short}` : ''}`,
          plain(flag.description),
        ] as const,
    );
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
    'app-media <task> --help lists the flags of a task; flags may come before or after the task.',
    'app-media --version prints the version. Exit status: 0 when all is well, 1 otherwise.',
    '',
  ].join('\n');
}

export function taskUsage(task: TaskName): string {
  return [`Usage: app-media ${task} [flags]`, '', taskDescriptions[task], '', 'Flags:', ...flagLines(task), ''].join(
    '\n',
  );
}

/**
 * This package's version: its package.json is one folder up from the bundle (dist/app-media.cjs), two from this file.
 */
async function version(): Promise<string> {
  const { readFile } = await import('node:fs/promises');
  for (const where of ['../package.json', '../../package.json']) {
    const text = await readFile(new URL(where, import.meta.url), 'utf8').catch(() => undefined);
    const pkg = text === undefined ? undefined : (JSON.parse(text) as { name?: string; version?: string });
    if (pkg?.name === 'gulp-app-media' && pkg.version !== undefined) return pkg.version;
  }
  throw new Error('internal: the package.json of gulp-app-media was not found');
}
