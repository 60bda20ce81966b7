/**
 * media:watch: keeps mediaRoot right while you work. It links once, then
 * watches each app's media folder (and its package.json) and the config with
 * glob-watcher, the watcher behind gulp.watch: a change runs media:link again,
 * debounced, one run at a time. In copy mode that mirrors adds, changes and
 * deletes; in every mode it links a media folder that appears and prunes one
 * that goes. Ctrl-C (or `signal`) ends it cleanly.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { link } from './link.js';
import { loadConfig } from '../core/config/load.js';
import { discoverApps } from '../core/discover.js';
import { isAppMediaError } from '../core/errors.js';
import { formatLines } from '../core/report.js';
import type { Report, RunOptions } from '../core/types.js';

/**
 * What to watch for the config as it stands. Only paths that exist are given
 * to the watcher (chokidar signals "ready" too early when asked to watch a
 * missing path): each app's media folder and package.json and the config,
 * deep; and, shallow, the folder of an app whose media folder is missing yet,
 * to see it appear.
 */
interface Watched {
  deep: string[];
  shallow: string[];
}

async function watchedPaths(options: RunOptions): Promise<Watched> {
  const config = await loadConfig(options);
  const deep = new Set<string>();
  const shallow = new Set<string>();
  const add = (file: string, orParent: boolean): void => {
    if (existsSync(file)) deep.add(file);
    else if (orParent && existsSync(path.dirname(file))) shallow.add(path.dirname(file));
  };
  add(path.join(config.projectRoot, config.file ?? 'package.json'), false);
  for (const app of discoverApps(config)) {
    add(path.join(app.appDir, app.mediaDirname), true);
    add(path.join(app.appDir, 'package.json'), false);
  }
  return { deep: [...deep].sort(), shallow: [...shallow].sort() };
}

const EVENTS = ['add', 'change', 'unlink', 'addDir', 'unlinkDir'];

export async function watch(options: RunOptions = {}): Promise<Report> {
  const { default: watchGlobs } = await import('glob-watcher');
  const logger = options.logger;
  let last = await link(options);
  let paths = await watchedPaths(options);
  let watchers: Array<ReturnType<typeof watchGlobs>> = [];

  const rerun = async (): Promise<void> => {
    try {
      // When what to watch changes (a media folder appeared or went), the watchers restart, and
      // whatever appeared while they were starting up is seen by one more look.
      // Lines only for what changed, and a summary: a watch session should read like a log of changes.
      const { logger: _silent, ...quiet } = options;
      for (let round = 0; round < 5; round++) {
        const report = await link(quiet);
        last = report;
        const changed = { ...report, apps: report.apps.filter((app) => app.status !== 'up-to-date') };
        if (logger && (round === 0 || changed.apps.some((app) => app.status !== 'no-media'))) {
          for (const line of formatLines(changed, logger.color ?? false)) logger[line.level](line.text);
        }
        const next = await watchedPaths(options);
        if (JSON.stringify(next) === JSON.stringify(paths)) return;
        paths = next;
        await start();
      }
    } catch (error) {
      // A config being edited may be briefly wrong: say so and keep watching.
      logger?.error(isAppMediaError(error) ? error.toString() : String(error));
    }
  };

  /** (Re)starts the watchers and resolves once they have scanned: only then is a change sure to be seen. */
  const start = async (): Promise<void> => {
    await Promise.all(watchers.map((watcher) => watcher.close()));
    watchers = [];
    if (paths.deep.length > 0)
      watchers.push(watchGlobs(paths.deep, { ignoreInitial: true, queue: true, delay: 100, events: EVENTS }, rerun));
    if (paths.shallow.length > 0)
      watchers.push(
        watchGlobs(paths.shallow, { ignoreInitial: true, queue: true, delay: 100, events: EVENTS, depth: 0 }, rerun),
      );
    await Promise.all(
      watchers.map((watcher) => new Promise<void>((resolve) => watcher.once('ready', () => resolve()))),
    );
  };
  await start();
  // Ctrl-C is caught before the line that says it may be pressed: a signal sent as soon as the
  // line shows (a script, a test, a quick user) must stop the watch, not kill the process.
  const stopped = new Promise<void>((resolve) => {
    const stop = (): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      options.signal?.removeEventListener('abort', stop);
      resolve();
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    if (options.signal?.aborted) stop();
    else options.signal?.addEventListener('abort', stop, { once: true });
  });
  const count = paths.deep.length + paths.shallow.length;
  logger?.info(`media:watch: watching ${count} path${count === 1 ? '' : 's'}; Ctrl-C to stop`);
  await stopped;
  await Promise.all(watchers.map((watcher) => watcher.close()));
  logger?.info('media:watch: stopped');
  return last;
}
