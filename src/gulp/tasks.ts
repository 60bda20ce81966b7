/**
 * The gulp tasks: thin wrappers that read the command-line flags, call the
 * programmatic API, log through gulp's logger and fail the task when the
 * report says so.
 */
import { clean, link, verify } from '../api.js';
import { find } from '../find.js';
import { watch } from '../watch.js';
import { AppMediaError, isAppMediaError } from '../errors.js';
import { gulpFlags, taskDescriptions } from '../options.js';
import type { Report, RunOptions, TaskName } from '../types.js';
import { isFailing } from '../report.js';
import { errorDocument } from '../error-document.js';
import { isSystemError, systemErrorLines } from '../system-errors.js';
import { readFlags } from './flags.js';
import { progressLine } from './progress.js';
import { gulpLogger } from './log.js';

export interface MediaTask {
  (): Promise<void>;
  displayName: string;
  description: string;
  flags: Record<string, string>;
}

export interface MediaTasks {
  link: MediaTask;
  clean: MediaTask;
  verify: MediaTask;
  find: MediaTask;
  watch: MediaTask;
}

export interface RegisterOptions extends RunOptions {
  /** Prefix of the registered task names (default `media:`). */
  prefix?: string;
}

/** The minimal part of gulp (4 or 5) we use. */
export interface GulpLike {
  task(name: string, fn: MediaTask): void;
}


type Runner = (options: RunOptions) => Promise<Report>;

function makeTask(task: TaskName, runner: Runner, options: RunOptions, prefix: string): MediaTask {
  const work = async (): Promise<void> => {
    let verbose = options.verbose ?? false;
    let json = false;
    try {
      const flags = readFlags(process.argv.slice(2), task);
      verbose = flags.verbose || verbose;
      json = flags.json;
      const progress = json || (task !== 'link' && task !== 'watch') ? undefined : progressLine(`${prefix}${task}`);
      const report = await runner({
        ...options,
        ...flags.options,
        ...(json ? {} : { logger: options.logger ?? gulpLogger() }),
        ...(progress ? { onProgress: progress.onProgress } : {}),
      }).finally(() => progress?.stop());
      if (json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
      if (report.failed) throw new TaskFailure(failureLine(`${prefix}${task}`, report), report);
    } catch (error) {
      const root = options.cwd ?? process.cwd();
      const document = json ? errorDocument(task, error, root) : undefined;
      if (document) process.stdout.write(`${JSON.stringify(document, null, 2)}\n`);
      throw forGulp(error, verbose, root);
    }
  };
  // gulp runs each task inside a Node `domain`, which adds bookkeeping to every
  // promise the task makes (measured: a third of a big copy's time). The work
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
  return Object.assign(fn, {
    displayName: `${prefix}${task}`,
    description: taskDescriptions[task],
    flags: gulpFlags(task),
  });
}

/** The tasks as functions, to compose with gulp.series/parallel or export under names of your choosing. */
export function mediaTasks(options: RegisterOptions = {}): MediaTasks {
  const { prefix = 'media:', ...runOptions } = options;
  return {
    link: makeTask('link', link, runOptions, prefix),
    clean: makeTask('clean', clean, runOptions, prefix),
    verify: makeTask('verify', verify, runOptions, prefix),
    find: makeTask('find', find, runOptions, prefix),
    watch: makeTask('watch', watch, runOptions, prefix),
  };
}

/** Registers media:link (and the other tasks) on the given gulp instance. */
export function registerMediaTasks(gulp: GulpLike, options: RegisterOptions = {}): MediaTasks {
  const tasks = mediaTasks(options);
  for (const task of Object.values(tasks)) gulp.task(task.displayName, task);
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
