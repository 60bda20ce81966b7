/**
 * Carries out a link plan: nothing here decides what may be touched, only how.
 * One app's failure is recorded and the others go on.
 */
import { lstatSync, readlinkSync, renameSync } from 'node:fs';
import { withRealPaths } from '../core/fs/folder.js';
import { LinkMaker } from '../core/fs/link.js';
import { pause } from '../core/fs/pause.js';
import { saveRecords, type RecordChanges } from '../core/fs/records-file.js';
import { removeExact, unlinkEach } from '../core/fs/remove-exact.js';
import { removeEmptyFolder } from '../core/fs/workspace.js';
import { pendingRecord, recordedSourceOf } from '../core/records.js';
import { resultOf, type AppResult } from '../core/report.js';
import { describeSystemError, isSystemError, systemErrorHint } from '../core/system-errors.js';
import { turnTaker } from '../core/util/turns.js';
import { EntryChanged, leftCopyInPlace, openEntry, removeListed, SourceChanged, stillAt, syncCopy } from './copy.js';
import type { CopyPlan } from './copy-plan.js';
import {
  copyRecord,
  createEntry,
  EntryInTheWay,
  progressOf,
  readingMedia,
  requireApp,
  settle,
  stamped,
  type ApplyContext,
  type RunContext,
} from './entry.js';
import type { Action, AppPlan, LinkPlan } from './plan.js';
import { exists, putBack, swapCopyForLink } from './swap.js';

export interface ApplyResult {
  /** Each app's result, in plan order. */
  results: AppResult[];
  warnings: string[];
}

/** A link plan, or a clean plan (which may also drop records of entries already gone). */
export type Plan = LinkPlan & { forget?: readonly string[] };

export async function applyPlan(plan: Plan, ctx: ApplyContext): Promise<ApplyResult> {
  const warnings: string[] = [];
  const records: RecordChanges = new Map();
  for (const name of plan.forget ?? []) records.set(name, null);
  const pending = intentions(plan, ctx);
  try {
    saveRecords(ctx.ws, ctx.trust, pending);
  } catch (error) {
    // mediaRoot (or its records file) cannot be written: nothing was touched, and every app with
    // something to do fails alike, with the system's reason and a hint, not as a stack trace.
    withRealPaths(error);
    if (!isSystemError(error)) throw error;
    return { results: plan.apps.map((appPlan) => unwritable(appPlan, error, ctx.projectRoot)), warnings };
  }

  const live: RunContext = {
    ...ctx,
    links: new LinkMaker(ctx.ws.root),
    totals: { files: 0, bytes: 0 },
    discarded: [],
    fallback: { refused: new Map(), warned: false },
    records,
    warnings,
  };
  // The run's new links, written into the streams together, in plan order (each is still checked,
  // and falls back on a refusal, in its app's turn below).
  live.links.queue(
    plan.apps.filter(isFreshLink).map((appPlan) => {
      pause('link', appPlan.name);
      return { kind: 'symlink' as const, name: appPlan.name, text: appPlan.linkText };
    }),
  );
  const carryOut = async (appPlan: AppPlan): Promise<AppResult> => {
    const outcome = asPlanned(appPlan);
    try {
      for (const action of appPlan.actions) await runAction(action, appPlan, outcome, live);
    } catch (error) {
      withRealPaths(error);
      outcome.status = 'error';
      if (error instanceof EntryInTheWay || error instanceof EntryChanged) {
        outcome.status = 'conflict';
        outcome.reason = error.message;
        outcome.hint =
          'something else appeared at that path while app-media worked; it was left untouched. ' +
          'Run again to see what it is';
      } else if (error instanceof SourceChanged) {
        outcome.reason = error.message;
        outcome.hint =
          "a file of the app's media changed or vanished while app-media copied it: run again once the change is done";
      } else {
        describeError(error, outcome, ctx.projectRoot);
      }
      // Nothing was made: the pending record goes; what was there before keeps its old record.
      if (pending.has(appPlan.name) && !records.has(appPlan.name)) {
        const stillThere = exists(ctx.ws.root.at(appPlan.name));
        // A new copy in place, only still private: under its pending record, the next run's sync sets its mode.
        if (leftCopyInPlace(error)) records.set(appPlan.name, pending.get(appPlan.name) ?? null);
        else records.set(appPlan.name, stillThere ? (appPlan.record ?? null) : null);
      }
    }
    return outcome;
  };

  // In plan order, one at a time: the first refusal decides the mode of every later app, and a
  // copy's own files are already written several at a time. The links, queued above, are checked
  // here with synchronous calls (see core/fs/link.ts), so the event loop is given a turn now and then.
  const results: AppResult[] = [];
  const takeTurn = turnTaker();
  try {
    for (const appPlan of plan.apps) {
      results.push(await carryOut(appPlan));
      await takeTurn();
    }
  } finally {
    live.links.close();
    // A link renamed aside is a temporary name of this run: if this fails, the next run's sweep takes it.
    if (live.discarded.length > 0)
      await removeExact(ctx.ws.root.here(), live.discarded).catch((error: unknown) => {
        warnings.push(
          `could not remove ${live.discarded.length} link(s) set aside (${(error as Error).message}); ` +
            `the next run removes them`,
        );
      });
  }
  try {
    saveRecords(ctx.ws, ctx.trust, records);
  } catch (error) {
    throw withRealPaths(error);
  }
  return { results, warnings };
}

/** An app whose only action is a new entry that starts as a symbolic link: its link can be made with the others. */
function isFreshLink(appPlan: AppPlan): boolean {
  const [action, ...more] = appPlan.actions;
  return (
    more.length === 0 && action?.op === 'create' && action.strategies[0] === 'symlink' && appPlan.app !== undefined
  );
}

/** An app's result as its plan says, before anything is carried out: nothing written yet. */
export function asPlanned(appPlan: AppPlan): AppResult {
  return { ...resultOf(appPlan), files: 0, bytes: 0 };
}

/** The outcome of an app when mediaRoot could not be written at all: an error if it had something to do. */
function unwritable(appPlan: AppPlan, error: unknown, projectRoot: string): AppResult {
  const outcome = asPlanned(appPlan);
  if (appPlan.actions.length === 0) return outcome;
  outcome.status = 'error';
  describeError(error, outcome, projectRoot);
  return outcome;
}

/**
 * Before any entry is made, a pending record for it: a run killed between
 * making an entry and recording it leaves an entry the next run can still
 * prove its own (see PendingRecord).
 */
function intentions(plan: Plan, ctx: ApplyContext): RecordChanges {
  const pending: RecordChanges = new Map();
  for (const appPlan of plan.apps) {
    if (!appPlan.app || !appPlan.actions.some((action) => action.op === 'create' || action.op === 'copy-to-link'))
      continue;
    const texts = [
      appPlan.linkText,
      appPlan.absoluteText,
      ...appPlan.actions.flatMap((action) => (action.op === 'remove-link' ? [action.linkText] : [])),
    ];
    pending.set(
      appPlan.name,
      pendingRecord(recordedSourceOf(ctx.projectRoot, appPlan.app.mediaDir), texts, appPlan.record),
    );
  }
  return pending;
}

/** One action of an app's plan, carried out; what it makes or removes is set in the run's records. */
async function runAction(action: Action, plan: AppPlan, result: AppResult, ctx: RunContext): Promise<void> {
  switch (action.op) {
    case 'adopt':
      ctx.records.set(plan.name, action.record);
      return;
    case 'remove-link':
      removeLink(ctx, plan, action.linkText);
      ctx.records.set(plan.name, null);
      return;
    case 'create': {
      const made = await createEntry(plan, action.strategies, action.copy, ctx);
      settle(result, plan, made);
      ctx.records.set(plan.name, made.record);
      return;
    }
    case 'sync':
      return syncEntry(action.copy, plan, result, ctx);
    case 'remove-copy':
      return removeCopy(action.copy, plan, ctx);
    case 'copy-to-link':
      return swapCopyForLink(action, plan, result, ctx);
  }
}

/** The tool's own copy brought in line with its source. */
async function syncEntry(copy: CopyPlan, plan: AppPlan, result: AppResult, ctx: RunContext): Promise<void> {
  const app = requireApp(plan);
  const synced = await readingMedia(plan, (reader) =>
    syncCopy(
      ctx.ws,
      reader,
      app.mediaDir,
      plan.name,
      copy,
      plan.entryId,
      progressOf(ctx),
      plan.record?.kind === 'pending',
    ),
  );
  result.files = synced.files;
  result.bytes = synced.bytes;
  ctx.records.set(plan.name, stamped(copyRecord(ctx, plan, copy), ctx, plan.name, copy, plan.record));
}

/**
 * The tool's own copy removed. Every file the record lists goes (remove-copy is planned only when
 * none was edited), so the record goes too, even when files added by hand keep the folder.
 */
async function removeCopy(copy: CopyPlan, plan: AppPlan, ctx: RunContext): Promise<void> {
  const { ws } = ctx;
  const entry = openEntry(ws.root, plan.name, plan.entryId);
  try {
    await removeListed(entry, plan.name, copy);
    stillAt(ws.root, plan.name, entry);
  } finally {
    entry.close();
  }
  removeEmptyFolder(ws.root, plan.name);
  ctx.records.set(plan.name, null);
}

/**
 * The tool's own link at `plan.name`, removed: renamed aside first, then checked to be the very
 * link the plan saw (a link, same text, same inode), and only then unlinked. Anything else found
 * there is put back as it was.
 */
function removeLink(ctx: RunContext, plan: AppPlan, linkText: string): void {
  const { ws } = ctx;
  let text: string | undefined;
  try {
    text = readlinkSync(ws.root.at(plan.name));
  } catch {
    text = undefined;
  }
  if (text !== linkText) throw new EntryInTheWay(`${plan.name} changed since it was checked`);
  pause('unlink', plan.name);
  const aside = ws.tempName(plan.name);
  renameSync(ws.root.at(plan.name), ws.root.at(aside));
  const stat = lstatSync(ws.root.at(aside), { throwIfNoEntry: false });
  let movedText: string | undefined;
  try {
    movedText = stat?.isSymbolicLink() ? readlinkSync(ws.root.at(aside)) : undefined;
  } catch {
    movedText = undefined;
  }
  const same =
    stat !== undefined &&
    movedText === linkText &&
    (plan.entryId === undefined || (stat.ino === plan.entryId.ino && stat.dev === plan.entryId.dev));
  if (!same) {
    if (stat && !putBack(aside, plan.name, ctx, [])) {
      throw new EntryInTheWay(
        `${plan.name} changed since it was checked, and its name was taken meanwhile; what was there is kept aside`,
      );
    }
    throw new EntryInTheWay(`${plan.name} changed since it was checked`);
  }
  // The tool's own link, checked: removed with `del`, by its exact name, with the others the run removes.
  // Where others may write mediaRoot, at once and by unlink(2) alone (core/fs/remove-exact.ts): the
  // name could be swapped before the run's end, and `del` would empty what a swapped-in link leads to.
  if (ctx.trust.shared) {
    if (unlinkEach(ctx.ws.root, [aside]).length > 0)
      throw new EntryInTheWay(`${plan.name} was set aside, and what is at that name now could not be removed`);
    return;
  }
  ctx.discarded.push(aside);
}

function describeError(error: unknown, outcome: AppResult, projectRoot: string): void {
  if (error instanceof Error && 'hint' in error && 'code' in error) {
    outcome.reason = `${String(error.code)}: ${error.message}`;
    outcome.hint = String(error.hint);
    return;
  }
  const errno = error as NodeJS.ErrnoException;
  outcome.reason = errno?.code ? describeSystemError(errno, projectRoot) : String(errno?.message ?? error);
  outcome.hint = systemErrorHint(errno?.code);
}
