/**
 * What every run on mediaRoot shares (link, clean): who may have written its records, the lock
 * and mediaRoot held open while it writes, and the last two phases, "carry out" and "report".
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, realpathSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ResolvedConfig } from '../core/config/load.js';
import { toDisplay } from '../core/display.js';
import { errors } from '../core/errors.js';
import { openFolder, type Folder } from '../core/fs/folder.js';
import { acquireLock } from '../core/fs/lock.js';
import { realpathOfPath } from '../core/fs/real-paths.js';
import type { RecordsTrust } from '../core/fs/records-file.js';
import { sweepLeftovers } from '../core/fs/sweep.js';
import { otherWriter } from '../core/fs/trust.js';
import { Workspace } from '../core/fs/workspace.js';
import { RECORDS_FILE } from '../core/records.js';
import { buildReport, logReport, reportOf, type AppResult } from '../core/report.js';
import type { Report, RunOptions, TaskName } from '../core/types.js';
import { applyPlan, asPlanned, type Plan } from './apply.js';
import { plannedResult } from './plan.js';

export interface Session {
  warnings: string[];
  /** mediaRoot held open, with the run's temporary names (its lock's token). */
  ws: Workspace;
  close(): Promise<void>;
}

/** Who may have written the records file (core/fs/records-file.ts), and how it is named in messages. */
export function recordsTrust(config: ResolvedConfig): RecordsTrust {
  let rootOwner: number | undefined;
  try {
    rootOwner = statSync(config.mediaRoot).uid;
  } catch {
    rootOwner = undefined;
  }
  return {
    shared: config.sharedMediaRoot,
    rootOwner,
    display: toDisplay(config.projectRoot, path.join(config.mediaRoot, RECORDS_FILE)),
  };
}

/**
 * A writing run first makes sure no one else can write mediaRoot or a folder on the way to it
 * (core/fs/trust.ts), unless the config says it is shared; then it holds mediaRoot's lock (two runs at
 * once end as one run would) and mediaRoot itself, open, and sweeps what an interrupted run
 * left. Where mediaRoot cannot be written at all, the run goes on unlocked: it can only report.
 */
export async function openSession(
  config: ResolvedConfig,
  task: string,
  create: boolean,
  options: RunOptions,
): Promise<Session | undefined> {
  const mediaRoot = config.mediaRoot;
  {
    // With sharedMediaRoot, mediaRoot itself may be shared; the folders above it still may not be.
    const writer = otherWriter(mediaRoot, undefined, { sharedLast: config.sharedMediaRoot });
    if (writer) {
      const isRoot =
        path.resolve(writer.folder) === realpathOfPath(mediaRoot) ||
        path.resolve(writer.folder) === path.resolve(mediaRoot);
      throw errors.sharedRoot(config.file, toDisplay(config.projectRoot, writer.folder), writer.who, isRoot, task);
    }
  }
  try {
    if (create) mkdirSync(mediaRoot, { recursive: true });
    const lock = await acquireLock(mediaRoot, {
      display: toDisplay(config.projectRoot, mediaRoot),
      onWait: (pid) =>
        options.logger?.warn(`waiting for another app-media run (pid ${pid}) to finish with this mediaRoot`),
    });
    let ws: Workspace | undefined;
    try {
      ws = new Workspace(openFolder(mediaRoot, { follow: true }), lock.token);
      const swept = await sweepLeftovers(ws, config.sharedMediaRoot);
      const warnings: string[] = [];
      if (swept.removed > 0)
        warnings.push(
          `removed ${swept.removed} temporary file${swept.removed === 1 ? '' : 's'} left by an interrupted run`,
        );
      if (swept.leftFiles.length > 0) {
        const shown = swept.leftFiles.map((name) => toDisplay(config.projectRoot, path.join(mediaRoot, name)));
        warnings.push(
          `left ${shown.join(', ')}` +
            ` (at the name of an interrupted run's temporary file, but not this user's or not removable: ` +
            `put there by someone else in a shared mediaRoot); look, then remove by hand`,
        );
      }
      if (swept.left.length > 0) {
        warnings.push(
          `left ` +
            `${swept.left.map((name) => `${toDisplay(config.projectRoot, path.join(mediaRoot, name))}/`).join(', ')}` +
            ` (temporary folder${swept.left.length === 1 ? '' : 's'} of an interrupted run that app-media ` +
            `cannot prove ${swept.left.length === 1 ? 'is' : 'are'} its own: not private to this user, ` +
            `or mediaRoot is shared); look, then remove ${swept.left.length === 1 ? 'it' : 'them'} by hand`,
        );
      }
      const held = ws;
      return {
        warnings,
        ws: held,
        close: async () => {
          try {
            held.close();
          } finally {
            held.root.close();
            await lock.release();
          }
        },
      };
    } catch (error) {
      ws?.root.close();
      await lock.release(); // not held by a run that goes on unlocked, or fails
      throw error;
    }
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EACCES' || code === 'EROFS' || code === 'EPERM' || (code === 'ENOENT' && !create)) return undefined;
    throw error;
  }
}

/**
 * Carries out a plan (or, in a dry run, reports it as it stands: the same path with the writes
 * switched off), then reports. A plan that writes needs the session's workspace; a run that could
 * not take one (mediaRoot cannot be written) gets a workspace that fails each write with the reason.
 */
export async function carryOut(
  task: TaskName,
  plan: Plan,
  config: ResolvedConfig,
  looked: { realMediaRoot: string; ignored?: readonly string[] | undefined },
  options: RunOptions,
  started: number,
  session: Session | undefined,
): Promise<Report> {
  const dryRun = options.dryRun ?? false;
  let applied: { results: AppResult[]; warnings: string[] };
  if (dryRun) {
    applied = { results: plan.apps.map(plannedResult), warnings: [] };
  } else if (!plan.writes && (plan.forget?.length ?? 0) === 0) {
    // Nothing to write and nothing to forget: every app is as planned, and mediaRoot is not opened.
    applied = { results: plan.apps.map(asPlanned), warnings: [] };
  } else {
    const unlocked = session ? undefined : unlockedWorkspace(config.mediaRoot, plan.writes);
    try {
      applied = await applyPlan(plan, {
        projectRoot: config.projectRoot,
        mediaRoot: config.mediaRoot,
        realMediaRoot: looked.realMediaRoot,
        relative: config.relative,
        ignore: config.ignore,
        ws: session?.ws ?? (unlocked as Workspace),
        trust: recordsTrust(config),
        ...(options.onProgress ? { onProgress: options.onProgress } : {}),
      });
    } finally {
      unlocked?.root.close();
    }
  }
  const report = buildReport({
    task,
    dryRun,
    projectRoot: config.projectRoot,
    mediaRoot: config.mediaRoot,
    started,
    warnings: [...ignoredRecords(looked.ignored), ...(session?.warnings ?? []), ...applied.warnings],
    ...(options.conflicts ? { conflicts: options.conflicts } : {}),
    apps: applied.results.map((result) => reportOf(result, config.projectRoot, config.mediaRoot)),
  });
  logReport(report, options.logger, options.verbose ?? false);
  return report;
}

/** The records file's entries that were not taken (core/records.ts), as a warning. */
export function ignoredRecords(ignored: readonly string[] | undefined): string[] {
  if (!ignored || ignored.length === 0) return [];
  const shown = ignored.slice(0, 5).join(', ');
  return [
    `the records file lists ${ignored.length} entr${ignored.length === 1 ? 'y' : 'ies'} that ` +
      `app-media does not take (nothing was done with ${ignored.length === 1 ? 'it' : 'them'}): ` +
      `${shown}${ignored.length > 5 ? `, and ${ignored.length - 5} more` : ''}`,
  ];
}

/**
 * A run that has something to write but could not take the lock (mediaRoot cannot be written:
 * EACCES, a read-only file system) still carries out its plan, so that each app with something
 * to do says why it failed. mediaRoot is opened if it can be; else a folder that fails each call.
 */
function unlockedWorkspace(mediaRoot: string, writes: boolean): Workspace {
  try {
    if (writes) mkdirSync(mediaRoot, { recursive: true }); // its error (EACCES) is each app's reason
    return new Workspace(openFolder(mediaRoot, { follow: true }), randomBytes(8).toString('hex'));
  } catch (error) {
    return new Workspace(failingFolder(mediaRoot, error), randomBytes(8).toString('hex'));
  }
}

function failingFolder(mediaRoot: string, error: unknown): Folder {
  const fail = (): never => {
    throw error;
  };
  return {
    path: mediaRoot,
    dev: 0,
    ino: 0,
    at: fail,
    open: fail,
    stat: fail,
    here: fail,
    list: fail,
    chmod: fail,
    setTimes: fail,
    close: () => undefined,
  };
}

export function realHome(): string {
  try {
    return realpathSync(os.homedir());
  } catch {
    return os.homedir();
  }
}
