/**
 * media:watch: keeps mediaRoot right while you work. It links once, then
 * watches each app's media folder (and its package.json) and the config with
 * glob-watcher, the watcher behind gulp.watch: a change runs media:link again,
 * debounced, one run at a time. In copy mode that mirrors adds, changes and
 * deletes; in every mode it links a media folder that appears and prunes one
 * that goes. Ctrl-C (or `signal`) ends it cleanly.
 */
import path from 'node:path';
import { link } from './api.js';
import { loadConfig } from './config/load.js';
import { discoverApps } from './discover.js';
import { isAppMediaError } from './errors.js';
import { formatLines } from './report.js';
import type { Report, RunOptions } from './types.js';

/** What to watch for the config as it stands: its file, and each app's media folder and package.json. */
function watchedPaths(options: RunOptions): string[] {
  const config = loadConfig(options);
  const paths = new Set<string>();
  paths.add(path.join(config.projectRoot, config.file ?? 'package.json'));
  for (const app of discoverApps(config)) {
    paths.add(path.join(app.appDir, app.mediaDirname));
    paths.add(path.join(app.appDir, 'package.json'));
  }
  return [...paths].sort();
}

export async function watch(options: RunOptions = {}): Promise<Report> {
  const { default: watchGlobs } = await import('glob-watcher');
  const logger = options.logger;
  let last = await link(options);
  let paths = watchedPaths(options);

  const rerun = async (): Promise<void> => {
    try {
      // Lines only for what changed, and a summary: a watch session should read like a log of changes.
      const { logger: _silent, ...quiet } = options;
      const report = await link(quiet);
      last = report;
      if (logger) {
        const changed = { ...report, apps: report.apps.filter((app) => app.status !== 'up-to-date') };
        for (const line of formatLines(changed, logger.color ?? false)) logger[line.level](line.text);
      }
      const next = watchedPaths(options);
      if (next.join('\n') !== paths.join('\n')) {
        paths = next;
        await restart();
      }
    } catch (error) {
      // A config being edited may be briefly wrong: say so and keep watching.
      logger?.error(isAppMediaError(error) ? error.toString() : String(error));
    }
  };

  let watcher = watchGlobs(paths, { ignoreInitial: true, queue: true, delay: 100, events: ['add', 'change', 'unlink', 'addDir', 'unlinkDir'] }, rerun);
  const restart = async (): Promise<void> => {
    await watcher.close();
    watcher = watchGlobs(paths, { ignoreInitial: true, queue: true, delay: 100, events: ['add', 'change', 'unlink', 'addDir', 'unlinkDir'] }, rerun);
  };
  logger?.info(`media:watch: watching ${paths.length} path${paths.length === 1 ? '' : 's'}; Ctrl-C to stop`);

  await new Promise<void>((resolve) => {
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
  await watcher.close();
  logger?.info('media:watch: stopped');
  return last;
}
