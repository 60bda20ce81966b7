/**
 * The gulp tasks: thin wrappers that read the command-line flags, call the
 * programmatic API, log through gulp's logger and fail the task when the
 * report says so.
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import { isAppMediaError } from '../core/errors.js';
import { gulpFlags, TASKS, taskDescriptions, type TaskName } from '../core/options.js';
import { taskRunners } from '../tasks.js';
import type { Report, RunOptions } from '../core/types.js';
import { isFailing } from '../core/report.js';
import { errorDocument } from '../core/error-document.js';
import { isSystemError, systemErrorLines } from '../core/system-errors.js';
import { readGulpFlags } from './command-line.js';
import { progressLine } from './progress.js';
import { gulpLogger } from './log.js';

/**
 * A media task: an async function whose own `name` is `media:link` (so gulp shows it so inside a
 * series), with no `displayName`, so that `export const check = media.verify` registers it as
 * `check` (gulp registers an exported function under its displayName when it has one).
 */
export interface MediaTask {
  (): Promise<void>;
  /** `media:link` (the prefix, then the task). */
  readonly name: string;
  description: string;
  flags: Record<string, string>;
}

export type MediaTasks = Record<TaskName, MediaTask>;

export interface RegisterOptions extends RunOptions {
  /** Prefix of the registered task names (default `media:`). */
  prefix?: string;
  /**
   * Flags your gulpfile reads itself (`['production']`): with only media tasks on the command
   * line, any other unknown flag stops the run (see the README, "Flags under gulp").
   */
  allowFlags?: readonly string[];
}

/** The minimal part of gulp (4 or 5) we use. */
export interface GulpLike {
  task(name: string, fn: MediaTask): void;
}

/** What gulp's registry gives back for a name: its wrapper of the function (unwrap()), or the function. */
interface GulpRegistry {
  task(name: string): ((() => unknown) & { unwrap?: () => unknown }) | undefined;
}

/**
 * Every media task function made in this process, and which task it is: how a name on gulp's command line is known to
 * be ours.
 */
const ours = new WeakMap<object, TaskName>();

function makeTask(
  task: TaskName,
  options: RunOptions,
  prefix: string,
  allowFlags: readonly string[],
  gulpOf: () => GulpRegistry | undefined,
): MediaTask {
  const shownAs = `${prefix}${task}`;
  const work = async (): Promise<void> => {
    let verbose = options.verbose ?? false;
    let json = false;
    try {
      const flags = readGulpFlags(process.argv.slice(2), {
        task,
        allowFlags,
        mediaTasksOnCommandLine: (positionals) => mediaTasksOnCommandLine(gulpOf(), positionals),
      });
      verbose = flags.verbose || verbose;
      json = flags.json;
      const runner = await taskRunners[task]();
      const progress = json || (task !== 'link' && task !== 'watch') ? undefined : progressLine(shownAs);
      const report = await runner({
        ...options,
        ...flags.options,
        ...(json ? {} : { logger: options.logger ?? gulpLogger() }),
        ...(progress ? { onProgress: progress.onProgress } : {}),
      }).finally(() => progress?.stop());
      if (json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
      if (report.failed) throw new TaskFailure(failureLine(shownAs, report), report);
    } catch (error) {
      const root = options.cwd ?? process.cwd();
      const document = json ? errorDocument(task, error, root) : undefined;
      if (document) process.stdout.write(`${JSON.stringify(document, null, 2)}\n`);
      throw forGulp(error, verbose, root);
    }
  };
  // gulp runs each task inside a Node `domain`, which adds bookkeeping to every
  // promise the task makes (a large part of a big copy's time; bench/). The work
  // starts outside it; its errors still reach gulp through the returned promise.
  const fn = (): Promise<void> => {
    const domain = (process as { domain?: { enter(): void; exit(): void } | null }).domain;
    if (!domain) return work();
    domain.exit();
    try {
      return work();
    } finally {
      domain.enter();
    }
  };
  Object.defineProperty(fn, 'name', { value: shownAs });
  ours.set(fn, task);
  return Object.assign(fn, { description: taskDescriptions[task], flags: gulpFlags(task) });
}

/**
 * For each task named on gulp's command line (`default` when none is), which media task it is.
 * A word that is no registered task is the value of some other flag (gulp would have refused
 * to start otherwise). Without gulp's registry nothing can be told.
 */
function mediaTasksOnCommandLine(
  gulp: GulpRegistry | undefined,
  positionals: readonly string[],
): Array<{ name: string; task: TaskName | undefined }> {
  if (!gulp) return [];
  const lookup = (name: string): ReturnType<GulpRegistry['task']> => {
    try {
      return gulp.task(name);
    } catch {
      return undefined;
    }
  };
  const registered = positionals.filter((name) => lookup(name) !== undefined);
  return (registered.length > 0 ? registered : ['default']).map((name) => {
    const found = lookup(name);
    const fn = typeof found?.unwrap === 'function' ? found.unwrap() : found;
    return { name, task: typeof fn === 'function' ? ours.get(fn) : undefined };
  });
}

/**
 * The gulp instance the gulp CLI loaded: gulp-cli requires `gulp` as resolved from the folder
 * it runs in, and so does a gulpfile there. Only one already loaded counts (none: no gulp CLI).
 */
function loadedGulp(): GulpRegistry | undefined {
  try {
    const require = createRequire(path.join(process.cwd(), 'gulpfile.js'));
    const resolved = require.resolve('gulp');
    if (!require.cache[resolved]) return undefined;
    const gulp = require(resolved) as Partial<GulpRegistry>;
    return typeof gulp.task === 'function' ? (gulp as GulpRegistry) : undefined;
  } catch {
    return undefined;
  }
}

/** The tasks as functions, to compose with gulp.series/parallel or export under names of your choosing. */
export function mediaTasks(options: RegisterOptions = {}): MediaTasks {
  return createTasks(options, undefined);
}

function createTasks(options: RegisterOptions, gulp: GulpRegistry | undefined): MediaTasks {
  const { prefix = 'media:', allowFlags = [], ...runOptions } = options;
  const gulpOf = (): GulpRegistry | undefined => gulp ?? loadedGulp();
  return Object.fromEntries(
    TASKS.map((task) => [task, makeTask(task, runOptions, prefix, allowFlags, gulpOf)]),
  ) as MediaTasks;
}

/** Registers media:link (and the other tasks) on the given gulp instance. */
export function registerMediaTasks(gulp: GulpLike, options: RegisterOptions = {}): MediaTasks {
  const registry =
    typeof (gulp as Partial<GulpRegistry>).task === 'function' ? (gulp as unknown as GulpRegistry) : undefined;
  const tasks = createTasks(options, registry);
  for (const task of Object.values(tasks)) gulp.task(task.name, task);
  return tasks;
}

/** A task that did its work but found conflicts or errors: gulp prints our line, no stack. */
export class TaskFailure extends Error {
  override readonly name = 'AppMediaError';
  readonly showStack = false;
  readonly report: Report;
  constructor(message: string, report: Report) {
    super(message);
    this.report = report;
  }
  override toString(): string {
    return this.message;
  }
}

/** A run that failed as a whole on a system error: gulp prints this line and hint, no stack. */
class RunFailure extends Error {
  readonly showStack = false;
  override toString(): string {
    return this.message;
  }
}

/** The task's error line names what failed; the summary line above already gave the counts. */
function failureLine(taskName: string, report: Report): string {
  const failed = report.apps.filter((app) => isFailing(report.task, app.status));
  return `${taskName} failed: ${failed.map((app) => `${app.name} (${app.status})`).join(', ')}`;
}

/** gulp prints `error.toString()` when `showStack` is a boolean: our one line and hint, unless --verbose. */
function forGulp(error: unknown, verbose: boolean, projectRoot: string): unknown {
  // A system call that failed the whole run (EACCES on a folder the look needed): its line and hint.
  if (isSystemError(error) && !verbose) return new RunFailure(systemErrorLines(error, projectRoot));
  if (!isAppMediaError(error)) return error;
  if (verbose) {
    // gulp prints the stack: lead it with the same coded line and hint.
    const frames = (error.stack ?? '').split('\n').filter((line) => /^\s+at /.test(line));
    error.stack = [error.oneLine(), `  hint: ${error.hint}`, ...frames].join('\n');
    error.showStack = undefined;
    return error;
  }
  return error;
}
