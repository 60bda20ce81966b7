/**
 * The clean planner: which entries of mediaRoot the tool proves are its own
 * and may remove. Pure; everything not proven is listed as `foreign` and left.
 */
import { ownsCopy, ownsLink, recordedDirs, recordMode, type Records } from '../core/records.js';
import { planCopyRemoval, provesCopy } from './copy-plan.js';
import { newPlan, unreadableEntry, type AppPlan } from './plan.js';
import type { RootEntry } from './probe.js';
import { listSome } from '../core/util/list.js';

export interface CleanPlan {
  apps: AppPlan[];
  /** Records whose entry is already gone: dropped without a report line. */
  forget: string[];
  writes: boolean;
}

export function planClean(
  entries: readonly RootEntry[],
  records: Records,
  force: boolean,
  projectRoot: string,
): CleanPlan {
  const apps: AppPlan[] = [];
  const forget: string[] = [];
  for (const { name, entry, tree, unreadable } of entries) {
    const record = records.entries[name];
    const plan = newPlan(name, undefined, 'foreign');
    if (entry.id) plan.entryId = entry.id;

    if (unreadable) {
      // It could not be looked at (a folder of its copy, or the entry itself): left as it is, and
      // said; the other entries are cleaned.
      apps.push(unreadableEntry(plan, unreadable, projectRoot));
      continue;
    }
    if (entry.kind === 'missing') {
      if (record) forget.push(name);
      continue;
    }
    if (entry.kind === 'symlink' && ownsLink(record, entry.linkText ?? '')) {
      plan.status = 'removed';
      plan.mode = recordMode(record, 'symlink');
      plan.actions.push({ op: 'remove-link', linkText: entry.linkText ?? '' });
    } else if (entry.kind === 'dir' && ownsCopy(record) && tree && provesCopy(record, tree, undefined)) {
      const removal = planCopyRemoval(tree, record, force);
      const edited = removal.kept.filter((file) => file.why === 'edited').map((file) => file.rel);
      const added = removal.kept.filter((file) => file.why === 'foreign').map((file) => file.rel);
      plan.mode = 'copy';
      if (edited.length > 0) {
        plan.status = 'kept';
        plan.reason = `files in the copy were changed by hand since app-media wrote them: ${listSome(edited)}`;
        plan.hint = 'save the changes you want to keep, then run media:clean --force';
      } else {
        plan.actions.push({ op: 'remove-copy', copy: removal });
        const madeDirs = recordedDirs(record);
        const addedDirs = tree.dirs.filter((dir) => !madeDirs.has(dir)).map((dir) => `${dir}/`);
        const others = [...added, ...tree.skipped, ...addedDirs];
        if (others.length > 0) {
          plan.status = 'kept';
          plan.reason =
            `its files are removed, but not ${listSome(others)} (not made by app-media), ` + `so the folder stays`;
          plan.hint = 'remove those by hand if they are yours to remove';
        } else {
          plan.status = 'removed';
        }
      }
    } else {
      plan.reason = record
        ? "it changed since app-media made it, so it is not provably the tool's; left as it is"
        : 'not made by app-media; left as it is';
    }
    apps.push(plan);
  }
  return { apps, forget, writes: forget.length > 0 || apps.some((app) => app.actions.length > 0) };
}
