/**
 * The copy-to-link swap: the tool's own copy is set aside, checked to hold just what the plan
 * saw, replaced by a link, and emptied of the tool's files. Anything a person put there meanwhile
 * stops it (the copy goes back as it is) or is kept aside under a name no run removes, and said.
 */
import { lstatSync, renameSync, unlinkSync } from 'node:fs';
import path from 'node:path';
import { toDisplay } from '../core/display.js';
import { isAppMediaError } from '../core/errors.js';
import type { Folder } from '../core/fs/folder.js';
import { KEPT_MARK } from '../core/fs/temp.js';
import { walkTree, type TreeFacts } from '../core/fs/walk.js';
import { removeEmptyFolder } from '../core/fs/workspace.js';
import type { AppResult } from '../core/report.js';
import {
  EntryChanged,
  isCopyAt,
  leftCopyInPlace,
  markCopyInPlace,
  openEntry,
  removeListed,
  stillAt,
  syncCopy,
} from './copy.js';
import { sameFacts, type OwnContents } from './copy-plan.js';
import { copyRecord, createEntry, progressOf, readingMedia, requireApp, settle, stamped } from './entry.js';
import type { ApplyContext, Made, RunContext } from './entry.js';
import type { Action, AppPlan } from './plan.js';

type CopyToLink = Extract<Action, { op: 'copy-to-link' }>;

/** Where a copy set aside ended (putBackAsItWas). */
type PutBack = 'back' | 'private' | 'kept';

/** Replaces the tool's own copy at `plan.name` with a link; on a refusal the copy goes back and is synced. */
export async function swapCopyForLink(
  action: CopyToLink,
  plan: AppPlan,
  result: AppResult,
  ctx: RunContext,
): Promise<void> {
  const { ws, records } = ctx;
  const aside = ws.tempName(plan.name);
  const { moved, mode } = setAside(aside, action, plan, ctx);
  // Set aside, the copy can no longer change under its published name: it must be the folder the
  // plan saw and still hold just what the plan saw, or it goes back as it is (a person added or
  // changed a file meanwhile, or put another folder there).
  let changed: string | null;
  try {
    changed = changedSincePlan(await walkTree(moved.here()), action.own);
  } catch (error) {
    moved.close();
    // It could not be looked at: back where it was, as it is.
    throw backOrNot(putBackAsItWas(aside, plan, mode, ctx), plan, ctx, error);
  }
  if (changed) {
    moved.close();
    // Put back, it keeps its record; kept aside (its name was taken meanwhile), it has none.
    const back = putBackAsItWas(aside, plan, mode, ctx);
    throw backOrNot(
      back,
      plan,
      ctx,
      new EntryChanged(`${plan.name}: ${changed} in its copy since it was checked; the copy was left as it is`),
    );
  }
  let made: Made;
  try {
    made = await createEntry(
      plan,
      action.strategies.filter((s) => s !== 'copy'),
      'walk',
      ctx,
    );
  } catch (error) {
    moved.close();
    await fallBackToCopy(error, aside, mode, action, plan, result, ctx);
    return;
  }
  // The new link is made: it is recorded whatever happens to the old copy below.
  records.set(plan.name, made.record);
  try {
    await removeOldCopy(aside, moved, action.own, plan, ctx);
  } catch (error) {
    settle(result, plan, made);
    throw error;
  }
  settle(result, plan, made);
}

/**
 * The copy renamed aside and opened as the very folder the plan saw, private while it is aside (a crash's leftover is
 * then provably the run's to sweep).
 */
function setAside(aside: string, action: CopyToLink, plan: AppPlan, ctx: RunContext): { moved: Folder; mode: number } {
  const { ws } = ctx;
  const changed = (error: unknown): unknown =>
    error instanceof EntryChanged
      ? Object.assign(new EntryChanged(`${plan.name} is no longer the copy that was checked; it was left as it is`), {
          copyInPlace: leftCopyInPlace(error),
        })
      : error;
  // Made private before it leaves its name (through the folder opened there, proven the copy), so that at the
  // temporary name it is provably the run's own should the run be killed (the sweep leaves a folder there that is
  // not private). A run killed before the rename leaves it private in place, under its pending record: the next
  // run's sync gives it its mode again (syncCopy).
  let published: Folder;
  try {
    published = openEntry(ws.root, plan.name, plan.entryId);
  } catch (error) {
    throw changed(error);
  }
  try {
    const mode = published.stat().mode & 0o7777;
    published.chmod(0o700);
    // From here, on any failure the copy gets its mode back through the folder held open, wherever it is now; where
    // that fails too, the error says so, and the copy keeps its pending record (apply.ts) for the next run's sync.
    const failed = (error: unknown): unknown => {
      try {
        published.chmod(mode);
        return error;
      } catch {
        return markCopyInPlace(error);
      }
    };
    // The name keeps the copy's record (its old one, or its pending one where its mode could not be given back) only
    // if what is there is proven the copy: a folder swapped in at either name is never taken for it.
    const unlessCopyThere = (): void => {
      if (!isCopyAt(ws.root, plan.name, published)) ctx.records.set(plan.name, null);
    };
    try {
      renameSync(ws.root.at(plan.name), ws.root.at(aside));
    } catch (error) {
      const told = failed(error);
      unlessCopyThere();
      throw told;
    }
    try {
      return { moved: openEntry(ws.root, aside, plan.entryId), mode };
    } catch (error) {
      // Not the copy made private (something put at its name just before the rename), or it cannot be opened: back,
      // then its mode back (a folder held by path is found at its name again).
      let told: unknown;
      try {
        if (!putBack(aside, plan.name, ctx, ctx.warnings)) ctx.records.set(plan.name, null);
      } finally {
        told = failed(error);
        unlessCopyThere();
      }
      throw changed(told);
    }
  } finally {
    published.close();
  }
}

/**
 * No link could be made: the copy goes back where it was and, where links are refused and the mode allows a copy, is
 * brought up to date.
 */
async function fallBackToCopy(
  error: unknown,
  aside: string,
  mode: number,
  action: CopyToLink,
  plan: AppPlan,
  result: AppResult,
  ctx: RunContext,
): Promise<void> {
  const back = putBackAsItWas(aside, plan, mode, ctx);
  if (back === 'kept') {
    ctx.records.set(plan.name, null);
    throw error;
  }
  if (!(isAppMediaError(error) && error.code === 'APP_MEDIA_LINK_REFUSED') || !action.strategies.includes('copy'))
    throw error;
  const app = requireApp(plan);
  const synced = await readingMedia(plan, (reader) =>
    syncCopy(
      ctx.ws,
      reader,
      app.mediaDir,
      plan.name,
      action.fallback,
      plan.entryId,
      progressOf(ctx),
      // A copy back without its mode (still private) gets it from the sync, as a pending one does.
      plan.record?.kind === 'pending' || back === 'private',
    ),
  );
  result.status = synced.files > 0 ? 'copied' : 'up-to-date';
  result.mode = 'copy';
  result.reason = null;
  result.files = synced.files;
  result.bytes = synced.bytes;
  ctx.records.set(
    plan.name,
    stamped(copyRecord(ctx, plan, action.fallback), ctx, plan.name, action.fallback, plan.record),
  );
}

/**
 * The copy held only the tool's own files and folders (checked before the link was made): those
 * are removed, in the very folder that was checked. Whatever is left appeared in the last
 * moments: kept under a name no run sweeps, and said. A file edited in these moments stops the
 * removal: it stays, with the rest, in the kept folder.
 */
async function removeOldCopy(
  aside: string,
  moved: Folder,
  own: OwnContents,
  plan: AppPlan,
  ctx: RunContext,
): Promise<void> {
  const { ws, warnings } = ctx;
  try {
    await removeListed(moved, aside, { deletes: own.files, rmdirs: own.dirs, seen: own.seen }).catch(
      (error: unknown) => {
        if (!(error instanceof EntryChanged)) throw error;
      },
    );
    stillAt(ws.root, aside, moved);
  } catch (error) {
    // The old copy was swapped for something else at its temporary name meanwhile: a link put
    // there is removed (it is only a link), anything else is left, and the app says so.
    dropLink(ctx, aside);
    if (lstatSync(ws.root.at(aside), { throwIfNoEntry: false })?.isDirectory())
      keepAside(aside, plan.name, ctx, warnings);
    throw error instanceof EntryChanged
      ? error
      : new EntryChanged(
          `${plan.name}: its old copy was replaced while it was being removed; what is there now was left as it is`,
        );
  } finally {
    moved.close();
  }
  if (!removeEmptyFolder(ws.root, aside)) keepAside(aside, plan.name, ctx, warnings);
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
  const edited = [...tree.files].filter(
    ([rel, facts]) => own.seen.has(rel) && !sameFacts(facts, own.seen.get(rel)),
  ).length;
  const dirs = new Set(own.dirs);
  const folders = tree.dirs.filter((dir) => !dirs.has(dir)).length;
  const parts = [
    added > 0 ? `${added} file${added === 1 ? '' : 's'} added` : '',
    edited > 0 ? `${edited} file${edited === 1 ? '' : 's'} changed` : '',
    folders > 0 ? `${folders} folder${folders === 1 ? '' : 's'} added` : '',
  ].filter(Boolean);
  return parts.length > 0 ? parts.join(', ') : null;
}

/**
 * The copy set aside, back under its name with the mode it had (it was made private while aside), through the folder
 * opened there and proven the copy. A run killed between the two leaves it private under its pending record: the next
 * run's sync sets its mode (syncCopy). 'kept': it was kept aside, or what is back at the name is not the copy;
 * 'private': back, but its mode could not be given back.
 */
function putBackAsItWas(aside: string, plan: AppPlan, mode: number, ctx: RunContext): PutBack {
  const proven = (): boolean => plan.entryId !== undefined && isCopyAt(ctx.ws.root, plan.name, plan.entryId);
  try {
    if (!putBack(aside, plan.name, ctx, ctx.warnings)) return 'kept';
  } catch (error) {
    // Neither back nor kept aside (what was at the temporary name went meanwhile): whatever holds the name now gets
    // the copy's record only if it is the copy.
    if (!proven()) ctx.records.set(plan.name, null);
    throw error;
  }
  try {
    const entry = openEntry(ctx.ws.root, plan.name, plan.entryId);
    try {
      entry.chmod(mode);
    } finally {
      entry.close();
    }
  } catch (error) {
    // What was at the temporary name and is now at the name is not the copy (swapped there meanwhile): it is left as it
    // is, and no record of the copy's is given to it.
    if (!proven()) return 'kept';
    ctx.warnings.push(
      `${plan.name}: its copy is back in place but its mode could not be given back yet ` +
        `(${(error as NodeJS.ErrnoException).code ?? String(error)}); app-media sets it on its next sync of the copy`,
    );
    return 'private';
  }
  return 'back';
}

/**
 * What a failed swap that put the copy back ends with: no record for the name where the copy was not put back there;
 * the copy's pending record kept (apply.ts) where it is back but still private, so the next run's sync sets its mode.
 */
function backOrNot(back: PutBack, plan: AppPlan, ctx: RunContext, error: unknown): unknown {
  if (back === 'kept') ctx.records.set(plan.name, null);
  return back === 'private' ? markCopyInPlace(error) : error;
}

/** What was set aside, back under its name; if something took that name meanwhile, kept aside (never swept). */
export function putBack(
  aside: string,
  name: string,
  ctx: Pick<ApplyContext, 'mediaRoot' | 'projectRoot' | 'ws'>,
  warnings: string[],
): boolean {
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
export function exists(file: string): boolean {
  return lstatSync(file, { throwIfNoEntry: false }) !== undefined;
}

/** What was set aside that holds files a person put there: renamed so no run sweeps it, and named in a warning. */
export function keepAside(
  aside: string,
  name: string,
  ctx: Pick<ApplyContext, 'mediaRoot' | 'projectRoot' | 'ws'>,
  warnings: string[],
  why: 'files-added' | 'taken' = 'files-added',
): string {
  const keptName =
    `${KEPT_MARK}${name.slice(0, 64)}-${new Date().toISOString().replace(/[:.]/g, '-')}-` +
    `${ctx.ws.token.slice(0, 8)}`;
  renameSync(ctx.ws.root.at(aside), ctx.ws.root.at(keptName));
  const kept = path.join(ctx.mediaRoot, keptName);
  const where = `${toDisplay(ctx.projectRoot, kept)}/`;
  warnings.push(
    why === 'taken'
      ? `${name}: something took its place while its old copy was set aside; ` +
          `the old copy is kept in ${where} (remove it when you no longer need it: no run removes it)`
      : `${name}: files were put in its copy while it was being replaced; ` +
          `they are kept in ${where} (move what you need, then remove that folder: no run removes it)`,
  );
  return kept;
}
