/**
 * Carries out a link plan: nothing here decides what may be touched, only how.
 * One app's failure is recorded and the others go on.
 */
import { lstatSync, readlinkSync, renameSync, unlinkSync } from 'node:fs';
import path from 'node:path';
import { toDisplay } from '../core/display.js';
import { errors, isAppMediaError } from '../core/errors.js';
import { createCopy, EntryChanged, openEntry, removeListed, SourceChanged, stillAt, syncCopy, type CopyResult } from './copy.js';
import { withRealPaths } from '../core/fs/folder.js';
import { pause } from '../core/fs/pause.js';
import { MediaReader } from '../core/fs/source.js';
import { KEPT_MARK } from '../core/fs/temp.js';
import { checkLink, isLinkRefusal, LinkMaker } from '../core/fs/link.js';
import { saveRecords, type RecordChanges, type RecordsTrust } from '../core/fs/records-file.js';
import { removeExact } from '../core/fs/remove-exact.js';
import { removeEmptyFolder, type Workspace } from '../core/fs/workspace.js';
import { describeSystemError, isSystemError, systemErrorHint } from '../core/system-errors.js';
import { stampCopy } from '../core/fs/stamp.js';
import { walkTree, type TreeFacts } from '../core/fs/walk.js';
import { linkRecord, pendingRecord, recordedSource, type CopyRecord, type OwnRecord } from '../core/records.js';
import { copyRecordOf, noteLeftOut, planCopy, sameFacts, sameRecord, type Action, type AppPlan, type CopyPlan, type LinkPlan, type OwnContents, type Strategy } from './plan.js';
import { resultOf, type AppResult } from '../core/report.js';
import type { EntryMode } from '../core/types.js';
import { turnTaker } from '../core/util/turns.js';

export interface ApplyContext {
  projectRoot: string;
  mediaRoot: string;
  realMediaRoot: string;
  relative: boolean;
  ignore: readonly string[];
  /** mediaRoot held open, with this run's temporary names (made by the caller, which closes it). */
  ws: Workspace;
  /** Whose records file may be read back before each write. */
  trust: RecordsTrust;
  /** Told after each file a copy writes, with the run's totals so far. */
  onProgress?: (progress: { files: number; bytes: number }) => void;
}

/** What one application of a plan holds while it runs, beside its context. */
interface RunContext extends ApplyContext {
  /** The vinyl-fs stream the run's links are made through. */
  links: LinkMaker;
  /** Files and bytes copied so far, for the progress display. */
  totals: { files: number; bytes: number };
  /** Links of the tool's, renamed aside and checked, that `del` removes once the apps are done. */
  discarded: string[];
}

export interface ApplyResult {
  /** Each app's result, in plan order. */
  results: AppResult[];
  warnings: string[];
}

/** Strategies that failed with a refusal stay off for the rest of the run. */
interface Fallback {
  refused: Map<Strategy, NodeJS.ErrnoException>;
  warned: boolean;
}

class EntryInTheWay extends Error {}

/** A link plan, or a clean plan (which may also drop records of entries already gone). */
export type Plan = LinkPlan & { forget?: readonly string[] };

export async function applyPlan(plan: Plan, ctx: ApplyContext): Promise<ApplyResult> {
  const warnings: string[] = [];
  const fallback: Fallback = { refused: new Map(), warned: false };
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

  const live: RunContext = { ...ctx, links: new LinkMaker(ctx.ws.root), totals: { files: 0, bytes: 0 }, discarded: [] };
  // The run's new links, written into the stream together (each is still checked, and falls back
  // on a refusal, in its app's turn below).
  live.links.queue(plan.apps.filter(isFreshLink).map((appPlan) => {
    pause('link', appPlan.name);
    return { kind: 'symlink' as const, name: appPlan.name, text: appPlan.linkText };
  }));
  const carryOut = async (appPlan: AppPlan): Promise<AppResult> => {
    const outcome = asPlanned(appPlan);
    try {
      for (const action of appPlan.actions) await run(action, appPlan, outcome, live, fallback, records, warnings);
    } catch (error) {
      withRealPaths(error);
      outcome.status = 'error';
      if (error instanceof EntryInTheWay || error instanceof EntryChanged) {
        outcome.status = 'conflict';
        outcome.reason = error.message;
        outcome.hint = 'something else appeared at that path while app-media worked; it was left untouched. Run again to see what it is';
      } else if (error instanceof SourceChanged) {
        outcome.reason = error.message;
        outcome.hint = 'a file of the app\'s media changed or vanished while app-media copied it: run again once the change is done';
      } else {
        describeError(error, outcome, ctx.projectRoot);
      }
      // Nothing was made: the pending record goes; what was there before keeps its old record.
      if (pending.has(appPlan.name) && !records.has(appPlan.name)) {
        const stillThere = exists(ctx.ws.root.at(appPlan.name));
        records.set(appPlan.name, stillThere ? appPlan.record ?? null : null);
      }
    }
    return outcome;
  };

  // In plan order, one at a time: the first refusal decides the mode of every later app, and a
  // copy's own files already go 8 at a time. Links are made with synchronous calls (see
  // fs/link.ts), so the event loop gets a turn every few dozen milliseconds.
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
    if (live.discarded.length > 0) await removeExact(ctx.ws.root.here(), live.discarded).catch((error: unknown) => {
      warnings.push(`could not remove ${live.discarded.length} link(s) set aside (${(error as Error).message}); the next run removes them`);
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
  return more.length === 0 && action?.op === 'create' && action.strategies[0] === 'symlink' && appPlan.app !== undefined;
}

/** An app's result as its plan says, before anything is carried out: nothing written yet. */
function asPlanned(appPlan: AppPlan): AppResult {
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
    if (!appPlan.app || !appPlan.actions.some((action) => action.op === 'create' || action.op === 'copy-to-link')) continue;
    const texts = [appPlan.linkText, appPlan.absoluteText, ...appPlan.actions.flatMap((action) => (action.op === 'remove-link' ? [action.linkText] : []))];
    pending.set(appPlan.name, pendingRecord(recordedSource(toDisplay(ctx.projectRoot, appPlan.app.mediaDir)), texts, appPlan.record));
  }
  return pending;
}

async function run(action: Action, plan: AppPlan, outcome: AppResult, ctx: RunContext, fallback: Fallback,
  records: RecordChanges, warnings: string[]): Promise<void> {
  const { ws } = ctx;
  switch (action.op) {
    case 'adopt':
      records.set(plan.name, action.record);
      return;
    case 'remove-link': {
      removeLink(ctx, plan, action.linkText);
      records.set(plan.name, null);
      return;
    }
    case 'create': {
      const made = await createEntry(plan, action.strategies, action.copy, ctx, fallback, warnings);
      settle(outcome, plan, made);
      records.set(plan.name, made.record);
      return;
    }
    case 'sync': {
      const app = requireApp(plan);
      const result = await readingMedia(plan, (reader) => syncCopy(ws, reader, app.mediaDir, plan.name, action.copy, plan.entryId, progressOf(ctx)));
      outcome.files = result.files;
      outcome.bytes = result.bytes;
      records.set(plan.name, stamped(copyRecord(ctx, plan, action.copy), ctx, plan.name, action.copy, plan.record));
      return;
    }
    case 'remove-copy': {
      // Every file the record lists goes (remove-copy is planned only when none was edited),
      // so the record goes too, even when files added by hand keep the folder.
      const entry = openEntry(ws.root, plan.name, plan.entryId);
      try {
        await removeListed(entry, plan.name, action.copy);
        stillAt(ws.root, plan.name, entry);
      } finally {
        entry.close();
      }
      removeEmptyFolder(ws.root, plan.name);
      records.set(plan.name, null);
      return;
    }
    case 'copy-to-link': {
      const aside = ws.tempName(plan.name);
      renameSync(ws.root.at(plan.name), ws.root.at(aside));
      // Set aside, the copy can no longer change under its published name: it must be the folder the
      // plan saw and still hold just what the plan saw, or it goes back as it is (a person added or
      // changed a file meanwhile, or put another folder there).
      let moved;
      try {
        moved = openEntry(ws.root, aside, plan.entryId);
        // Private while it is set aside (a leftover of a crash is then provably the run's to sweep).
        moved.chmod(0o700);
      } catch (error) {
        if (!putBack(aside, plan.name, ctx, warnings)) records.set(plan.name, null);
        throw error instanceof EntryChanged ? new EntryChanged(`${plan.name} is no longer the copy that was checked; it was left as it is`) : error;
      }
      let changed: string | null;
      try {
        changed = changedSincePlan(await walkTree(moved.here()), action.own);
      } catch (error) {
        moved.close();
        // It could not be looked at: back where it was, as it is.
        if (!putBack(aside, plan.name, ctx, warnings)) records.set(plan.name, null);
        throw error;
      }
      if (changed) {
        moved.close();
        // Put back, it keeps its record; kept aside (its name was taken meanwhile), it has none.
        if (!putBack(aside, plan.name, ctx, warnings)) records.set(plan.name, null);
        throw new EntryChanged(`${plan.name}: ${changed} in its copy since it was checked; the copy was left as it is`);
      }
      let made: Made;
      try {
        made = await createEntry(plan, action.strategies.filter((s) => s !== 'copy'), 'walk', ctx, fallback, warnings);
      } catch (error) {
        moved.close();
        // No link could be made: the copy goes back where it was and is brought up to date.
        if (!putBack(aside, plan.name, ctx, warnings)) {
          records.set(plan.name, null);
          throw error;
        }
        if (!(isAppMediaError(error) && error.code === 'APP_MEDIA_LINK_REFUSED') || !action.strategies.includes('copy')) throw error;
        const app = requireApp(plan);
        const result = await readingMedia(plan, (reader) => syncCopy(ws, reader, app.mediaDir, plan.name, action.fallback, plan.entryId, progressOf(ctx)));
        outcome.status = result.files > 0 ? 'copied' : 'up-to-date';
        outcome.mode = 'copy';
        outcome.reason = null;
        outcome.files = result.files;
        outcome.bytes = result.bytes;
        records.set(plan.name, stamped(copyRecord(ctx, plan, action.fallback), ctx, plan.name, action.fallback, plan.record));
        return;
      }
      // The copy held only the tool's own files and folders (checked above): remove those, in the
      // very folder that was checked. Whatever is left appeared in the last moments: kept under a
      // name no run sweeps, and said. A file edited in these moments stops the removal: it stays,
      // with the rest, in the kept folder.
      // The new link is made: it is recorded whatever happens to the old copy below.
      records.set(plan.name, made.record);
      try {
        await removeListed(moved, aside, { deletes: action.own.files, rmdirs: action.own.dirs, seen: action.own.seen }).catch((error: unknown) => {
          if (!(error instanceof EntryChanged)) throw error;
        });
        stillAt(ws.root, aside, moved);
      } catch (error) {
        // The old copy was swapped for something else at its temporary name meanwhile: a link put
        // there is removed (it is only a link), anything else is left, and the app says so.
        dropLink(ctx, aside);
        if (lstatSync(ws.root.at(aside), { throwIfNoEntry: false })?.isDirectory()) keepAside(aside, plan.name, ctx, warnings);
        settle(outcome, plan, made);
        throw error instanceof EntryChanged ? error : new EntryChanged(`${plan.name}: its old copy was replaced while it was being removed; what is there now was left as it is`);
      } finally {
        moved.close();
      }
      if (!removeEmptyFolder(ws.root, aside)) keepAside(aside, plan.name, ctx, warnings);
      settle(outcome, plan, made);
      return;
    }
  }
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
  const same = stat !== undefined && movedText === linkText && (plan.entryId === undefined || (stat.ino === plan.entryId.ino && stat.dev === plan.entryId.dev));
  if (!same) {
    if (stat && !putBack(aside, plan.name, ctx, [])) {
      throw new EntryInTheWay(`${plan.name} changed since it was checked, and its name was taken meanwhile; what was there is kept aside`);
    }
    throw new EntryInTheWay(`${plan.name} changed since it was checked`);
  }
  // The tool's own link, checked: removed with `del`, by its exact name, with the others the run removes.
  ctx.discarded.push(aside);
}

/** A link at one of the run's temporary names (put there by someone else) is removed: it is only a link. */
function dropLink(ctx: ApplyContext, name: string): void {
  try {
    if (lstatSync(ctx.ws.root.at(name), { throwIfNoEntry: false })?.isSymbolicLink()) unlinkSync(ctx.ws.root.at(name));
  } catch {
    // nothing to drop
  }
}

/** What differs between a copy set aside and what the plan saw of it ("1 file added"), or null. */
export function changedSincePlan(tree: TreeFacts, own: OwnContents): string | null {
  const added = [...tree.files.keys()].filter((rel) => !own.seen.has(rel)).length + tree.skipped.length;
  const edited = [...tree.files].filter(([rel, facts]) => own.seen.has(rel) && !sameFacts(facts, own.seen.get(rel))).length;
  const dirs = new Set(own.dirs);
  const folders = tree.dirs.filter((dir) => !dirs.has(dir)).length;
  const parts = [
    added > 0 ? `${added} file${added === 1 ? '' : 's'} added` : '',
    edited > 0 ? `${edited} file${edited === 1 ? '' : 's'} changed` : '',
    folders > 0 ? `${folders} folder${folders === 1 ? '' : 's'} added` : '',
  ].filter(Boolean);
  return parts.length > 0 ? parts.join(', ') : null;
}

/** What was set aside, back under its name; if something took that name meanwhile, kept aside (never swept). */
export function putBack(aside: string, name: string, ctx: Pick<ApplyContext, 'mediaRoot' | 'projectRoot' | 'ws'>, warnings: string[]): boolean {
  // rename() would replace an empty folder made there meanwhile: look first (a folder is a folder).
  if (!exists(ctx.ws.root.at(name))) {
    try {
      renameSync(ctx.ws.root.at(aside), ctx.ws.root.at(name));
      return true;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== 'EEXIST' && code !== 'ENOTEMPTY' && code !== 'ENOTDIR' && code !== 'EISDIR') throw error;
    }
  }
  keepAside(aside, name, ctx, warnings, 'taken');
  return false;
}

/** Whether anything (a link included) is at `file`. */
function exists(file: string): boolean {
  return lstatSync(file, { throwIfNoEntry: false }) !== undefined;
}

/** What was set aside that holds files a person put there: renamed so no run sweeps it, and named in a warning. */
export function keepAside(aside: string, name: string, ctx: Pick<ApplyContext, 'mediaRoot' | 'projectRoot' | 'ws'>, warnings: string[],
  why: 'files-added' | 'taken' = 'files-added'): string {
  const keptName = `${KEPT_MARK}${name.slice(0, 64)}-${new Date().toISOString().replace(/[:.]/g, '-')}-${ctx.ws.token.slice(0, 8)}`;
  renameSync(ctx.ws.root.at(aside), ctx.ws.root.at(keptName));
  const kept = path.join(ctx.mediaRoot, keptName);
  const where = `${toDisplay(ctx.projectRoot, kept)}/`;
  warnings.push(why === 'taken'
    ? `${name}: something took its place while its old copy was set aside; the old copy is kept in ${where} (remove it when you no longer need it: no run removes it)`
    : `${name}: files were put in its copy while it was being replaced; they are kept in ${where} (move what you need, then remove that folder: no run removes it)`);
  return kept;
}

interface Made {
  mode: EntryMode;
  record: ReturnType<typeof linkRecord> | CopyRecord;
  result: CopyResult;
  /** The source tree a fallback copy walked (the plan had none). */
  walked?: TreeFacts;
}

function settle(outcome: AppResult, plan: AppPlan, made: Made): void {
  outcome.mode = made.mode;
  outcome.files = made.result.files;
  outcome.bytes = made.result.bytes;
  if (plan.status === 'linked' || plan.status === 'copied') outcome.status = made.mode === 'copy' ? 'copied' : 'linked';
  if (made.walked) noteLeftOut(outcome, made.walked);
}

/** Tries each strategy in turn; a refusal moves to the next one and is remembered for the rest of the run. */
async function createEntry(plan: AppPlan, strategies: Strategy[], copy: CopyPlan | 'walk', ctx: RunContext,
  fallback: Fallback, warnings: string[]): Promise<Made> {
  const app = requireApp(plan);
  const usable = strategies.filter((strategy) => !fallback.refused.has(strategy));
  let lastRefusal: NodeJS.ErrnoException | undefined = [...fallback.refused.values()].pop();
  for (const strategy of usable) {
    if (strategy === 'copy') {
      if (fallback.refused.size > 0 && !fallback.warned) {
        fallback.warned = true;
        warnings.push(`links are refused here (${describeRefusal(fallback.refused)}); copying instead. Entries stay correct but are not live: run media:link again after changing app media.`);
      }
      const walked = copy === 'walk' ? await walkTree(app.mediaDir, { ignore: ctx.ignore, followInternalLinks: true }) : undefined;
      const copyPlan = walked ? planCopy(walked, undefined, undefined) : copy as CopyPlan;
      const result = await readingMedia(plan, (reader) => createCopy(ctx.ws, reader, app.mediaDir, plan.name, copyPlan, progressOf(ctx))).catch((error: unknown) => {
        if ((error as NodeJS.ErrnoException).code === 'EEXIST') throw new EntryInTheWay(`${plan.name} appeared while it was being copied`);
        throw error;
      });
      const made: Made = { mode: 'copy', result, record: stamped(copyRecord(ctx, plan, copyPlan), ctx, plan.name, copyPlan, plan.record) };
      if (walked) made.walked = walked;
      return made;
    }
    const text = strategy === 'junction' ? plan.absoluteText : plan.linkText;
    try {
      const link = { kind: strategy, name: plan.name, text };
      if (!ctx.links.isQueued(link)) pause('link', plan.name);
      await ctx.links.make(link);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') throw new EntryInTheWay(`${plan.name} appeared while it was being linked`);
      if (!isLinkRefusal(error)) throw error;
      fallback.refused.set(strategy, error);
      lastRefusal = error;
      continue;
    }
    const check = checkLink(ctx.ws.root, plan.name, text, app.mediaDir, app.appDir, plan.sourceId);
    if (!check.ok) throw new EntryInTheWay(`${plan.name}: ${check.why}`);
    if (strategy === 'junction' && !fallback.warned) {
      fallback.warned = true;
      warnings.push(`symbolic links are refused here (${describeRefusal(fallback.refused)}); made junctions instead.`);
    }
    return { mode: strategy, result: { files: 0, bytes: 0 }, record: linkRecord(strategy, text, recordedSource(toDisplay(ctx.projectRoot, app.mediaDir))) };
  }
  throw errors.linkRefused(lastRefusal ?? Object.assign(new Error('no link strategy left'), { code: 'EPERM' }));
}

function describeRefusal(refused: Map<Strategy, NodeJS.ErrnoException>): string {
  return [...refused].map(([strategy, error]) => `${strategy}: ${error.code ?? error.message}`).join(', ');
}

/** Per-file callback that keeps the run's totals for the progress display. */
function progressOf(ctx: RunContext): ((bytes: number) => void) | undefined {
  const report = ctx.onProgress;
  if (!report) return undefined;
  return (bytes) => {
    ctx.totals.files += 1;
    ctx.totals.bytes += bytes;
    report({ ...ctx.totals });
  };
}

function copyRecord(ctx: ApplyContext, plan: AppPlan, copy: CopyPlan): CopyRecord {
  return copyRecordOf(copy, recordedSource(toDisplay(ctx.projectRoot, requireApp(plan).mediaDir)));
}

/**
 * The record of a copy just carried out, with its folder stamps (core/fs/stamp.ts): new ones when
 * the copy's folders changed; when nothing in them did and the record says the same, the old
 * ones (still true); none otherwise.
 */
function stamped(record: CopyRecord, ctx: ApplyContext, name: string, copy: CopyPlan, before: OwnRecord | undefined): CopyRecord {
  const changed = copy.writes.length + copy.deletes.length + copy.mkdirs.length + copy.rmdirs.length > 0;
  const previous = before?.kind === 'copy' ? before.stamps : undefined;
  const stamps = !changed && before?.kind === 'copy' && sameRecord(record, before) ? previous : stampCopy(ctx.ws.root, name, record, previous);
  if (stamps) record.stamps = stamps;
  return record;
}

/** Runs `work` with the app's media folder held open (core/fs/source.ts, MediaReader), then lets it go. */
async function readingMedia<T>(plan: AppPlan, work: (reader: MediaReader) => Promise<T>): Promise<T> {
  const app = requireApp(plan);
  const reader = MediaReader.open(app.mediaDir, app.appDir, plan.sourceId);
  try {
    return await work(reader);
  } finally {
    reader.close();
  }
}

function requireApp(plan: AppPlan): NonNullable<AppPlan['app']> {
  if (!plan.app) throw new Error(`internal: no app for entry ${plan.name}`);
  return plan.app;
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
