/**
 * The planner: from the configured apps and what the probe saw, decide what
 * happens to every entry of mediaRoot. Pure (no I/O): every decision about
 * data safety is made here and tested without a disk; apply only carries it out.
 */
import path from 'node:path';
import type { App } from '../core/discover.js';
import type { FolderId } from '../core/fs/folder.js';
import type { FileFacts, TreeFacts } from '../core/fs/walk.js';
import {
  linkRecord,
  normalizeLinkText,
  ownsCopy,
  ownsLink,
  recordedDirs,
  recordedSourceOf,
  recordMode,
  type CopyRecord,
  type OwnRecord,
  type PendingRecord,
} from '../core/records.js';
import {
  ancestorsAndSelf,
  planCopy,
  planCopyRemoval,
  provesCopy,
  recordStays,
  type CopyPlan,
  type OwnContents,
} from './copy-plan.js';
import type { AppFacts, EntryFacts, ProbeResult } from './probe.js';
import { newResult, resultOf, type AppResult } from '../core/report.js';
import type { AppStatus, EntryMode, Mode } from '../core/types.js';
import { describeSystemError, systemErrorHint, type SystemError } from '../core/system-errors.js';
import { listSome } from '../core/util/list.js';

export type Strategy = EntryMode;

export type Action =
  /** Make the entry, trying each strategy in turn (auto falls back on refusal). */
  | { op: 'create'; strategies: Strategy[]; copy: CopyPlan | 'walk' }
  /** Bring the tool's own copy in line with the source. */
  | { op: 'sync'; copy: CopyPlan }
  /** Remove the tool's own link (never what it points to). `linkText` must still match. */
  | { op: 'remove-link'; linkText: string }
  /** Remove the tool's own copy: the recorded, unchanged files, then empty folders. */
  | { op: 'remove-copy'; copy: CopyPlan }
  /** Put the tool's own copy aside, make a link; on refusal put the copy back and sync it. */
  | { op: 'copy-to-link'; strategies: Strategy[]; fallback: CopyPlan; own: OwnContents }
  /** The entry is right and was made under a pending record (a run was cut short): record it for good. */
  | { op: 'adopt'; record: OwnRecord };

/**
 * One app's plan: its result as it will be if apply succeeds (apply may turn `linked` into
 * `copied` on fallback), and the actions that make it so.
 */
export interface AppPlan extends AppResult {
  actions: Action[];
  /** Link texts apply must write: relative or absolute per config; junctions are always absolute. */
  linkText: string;
  absoluteText: string;
  /** The entry's record as the probe found it (apply keeps what it proves while a change is pending). */
  record?: OwnRecord;
  /** The media folder's device and inode as probed: a link made for it must lead there. */
  sourceId?: FolderId;
  /** The entry's own device and inode as probed: apply removes or changes only that very entry. */
  entryId?: FolderId;
}

/** What planning one app takes: the config's choices, and what the probe saw of mediaRoot and the project. */
export interface AppPlanInput {
  probed: Pick<ProbeResult, 'realMediaRoot' | 'realProjectRoot' | 'records'>;
  projectRoot: string;
  mode: Mode;
  relative: boolean;
  prune: boolean;
  platform: NodeJS.Platform;
}

export interface LinkPlanInput extends AppPlanInput {
  probed: ProbeResult;
}

export interface LinkPlan {
  apps: AppPlan[];
  /** True when the plan creates or changes anything (so mediaRoot must exist). */
  writes: boolean;
}

export function strategiesFor(mode: Mode, platform: NodeJS.Platform): Strategy[] {
  const links: Strategy[] = platform === 'win32' ? ['symlink', 'junction'] : ['symlink'];
  if (mode === 'copy') return ['copy'];
  if (mode === 'symlink') return links;
  return [...links, 'copy'];
}

/** The path a link should lead to: through the project's real path, so `..` steps work from the real mediaRoot. */
export function linkSourcePath(app: App, projectRoot: string, realProjectRoot: string, sourceReal: string): string {
  const rel = path.relative(projectRoot, app.mediaDir);
  if (rel === '' || rel.startsWith('..') || path.isAbsolute(rel)) return sourceReal;
  return path.join(realProjectRoot, rel);
}

export function planLink(input: LinkPlanInput): LinkPlan {
  return finishLinkPlan(
    input.probed.apps.map((facts) => planAppLink(facts, input)),
    input,
  );
}

/**
 * One configured app's plan, as `planLink` makes it. A run plans each app as soon as the
 * probe has seen it (api.ts), so an app with nothing to do lets go of its walks at once.
 */
export function planAppLink(facts: AppFacts, input: AppPlanInput): AppPlan {
  return planApp(facts, input, strategiesFor(input.mode, input.platform), input.probed.records.entries[facts.app.name]);
}

/** The run's plan from its apps' plans: the tool's own entries that no configured app claims are pruned. */
export function finishLinkPlan(
  apps: AppPlan[],
  input: Pick<AppPlanInput, 'prune' | 'projectRoot'> & { probed: Pick<ProbeResult, 'unclaimed' | 'records'> },
): LinkPlan {
  const { probed } = input;
  if (input.prune) {
    for (const { name, entry, tree, unreadable } of probed.unclaimed) {
      // The tool's own copy that could not be walked cannot be pruned: said, not skipped in silence.
      const planned = unreadable
        ? unreadableEntry(newPlan(name, undefined, 'error', null), unreadable, input.projectRoot)
        : planUnclaimed(name, entry, probed.records.entries[name], tree);
      if (planned) apps.push(planned);
    }
  }
  const writes = apps.some((app) => app.actions.length > 0);
  return { apps, writes };
}

/** A plan with nothing to do yet. */
export function newPlan(name: string, app: App | undefined, status: AppStatus, mode: EntryMode | null = null): AppPlan {
  return { ...newResult(name, app, status, mode), actions: [], linkText: '', absoluteText: '' };
}

/** What a dry run reports of an app's plan: its result, with the files a copy would write. */
export function plannedResult(plan: AppPlan): AppResult {
  const copyFiles = plan.actions.flatMap((action) =>
    'copy' in action && action.copy !== 'walk' && action.op !== 'remove-copy' ? action.copy.writes : [],
  );
  return { ...resultOf(plan), files: copyFiles.length, bytes: copyFiles.reduce((sum, file) => sum + file.size, 0) };
}

function planApp(facts: AppFacts, input: AppPlanInput, strategies: Strategy[], record: OwnRecord | undefined): AppPlan {
  const { app, source } = facts;
  const plan = newPlan(app.name, app, 'up-to-date', null);
  if (record) plan.record = record;
  if (facts.entry.id) plan.entryId = facts.entry.id;
  if (facts.unreadable) return unreadableEntry(plan, facts.unreadable, input.projectRoot);

  if (source.kind !== 'dir' || source.real === undefined) {
    return planNoMedia(plan, facts, record, input);
  }

  const result = planEntry(facts, input, strategies, record, plan);
  return result.mode === 'copy' ? noteLeftOut(result, facts.sourceTree) : result;
}

/** What a copy leaves out is said: ignored files are counted, links that lead outside are named. */
export function noteLeftOut<T extends Pick<AppPlan, 'status' | 'reason' | 'ignored'>>(
  plan: T,
  tree: TreeFacts | undefined,
): T {
  if (!tree) return plan;
  if (tree.ignored > 0) plan.ignored = tree.ignored;
  if (plan.status === 'conflict') return plan;
  const notes: string[] = [];
  if (tree.escapes.length > 0)
    notes.push(
      `not copied: ${listSome(tree.escapes)} (link${tree.escapes.length === 1 ? '' : 's'} ` +
        `leading outside the media folder)`,
    );
  if (tree.skipped.length > 0)
    notes.push(
      `not copied: ${listSome(tree.skipped)} (a dangling or looping link, a link to a folder, or not a regular file)`,
    );
  for (const note of notes) plan.reason = plan.reason ? `${plan.reason}; ${note}` : note;
  return plan;
}

/** What an app with a media folder needs at its entry: dispatched on what is there now. */
function planEntry(
  facts: AppFacts,
  input: AppPlanInput,
  strategies: Strategy[],
  record: OwnRecord | undefined,
  plan: AppPlan,
): AppPlan {
  const { app, source, entry } = facts;
  if (source.real === undefined) return plan;
  const target = linkSourcePath(app, input.projectRoot, input.probed.realProjectRoot, source.real);
  plan.absoluteText = target;
  plan.linkText = input.relative ? path.relative(input.probed.realMediaRoot, target) || '.' : target;
  if (source.id) plan.sourceId = source.id;
  const want: Wanted = {
    strategies,
    first: strategies[0] as Strategy,
    source: recordedSourceOf(input.projectRoot, app.mediaDir),
  };
  switch (entry.kind) {
    case 'missing':
      return planCreate(plan, facts, want);
    case 'symlink':
      return planOverLink(plan, facts, want, record, input.platform);
    case 'dir':
      return planOverFolder(plan, facts, want, record);
    default:
      return conflict(
        plan,
        `a ${entry.kind === 'file' ? 'file' : 'special file'} not made by app-media is in the way`,
        'move or remove it by hand (app-media never deletes what it did not create), or rename the app',
      );
  }
}

/**
 * What the config wants of an app's entry: the strategies to try, in turn, and its media folder as the records name it.
 */
interface Wanted {
  strategies: Strategy[];
  first: Strategy;
  source: string;
}

/** Nothing at the entry: make it (a copy's files listed when its source was walked, else walked when it is made). */
function planCreate(plan: AppPlan, facts: AppFacts, want: Wanted): AppPlan {
  plan.status = want.first === 'copy' ? 'copied' : 'linked';
  plan.mode = want.first;
  plan.actions.push(createAction(facts, want));
  return plan;
}

function createAction(facts: AppFacts, want: Wanted): Action {
  return {
    op: 'create',
    strategies: want.strategies,
    copy: facts.sourceTree ? planCopy(facts.sourceTree, undefined, undefined) : 'walk',
  };
}

/**
 * A link at the entry: the tool's own is kept, or replaced when it leads elsewhere or is written otherwise; anyone
 * else's is left.
 */
function planOverLink(
  plan: AppPlan,
  facts: AppFacts,
  want: Wanted,
  record: OwnRecord | undefined,
  platform: NodeJS.Platform,
): AppPlan {
  const { source, entry } = facts;
  const text = entry.linkText ?? '';
  const pointsRight = entry.resolved === source.real;
  const wantsLink = want.first !== 'copy';
  if (ownsLink(record, text)) {
    // Junctions exist only on Windows. Elsewhere an absolute link under a pending record (a
    // run cut short) is a symbolic link made with `relative: false`, and follows the config.
    const isJunction =
      platform === 'win32' &&
      (record.kind === 'junction' ||
        (record.kind === 'pending' && sameText(text, plan.absoluteText) && !sameText(text, plan.linkText)));
    const expected = isJunction ? plan.absoluteText : plan.linkText;
    if (wantsLink && pointsRight && sameText(text, expected)) {
      plan.mode = isJunction ? 'junction' : recordMode(record, 'symlink');
      if (record.kind === 'pending')
        plan.actions.push({
          op: 'adopt',
          record: linkRecord(plan.mode === 'junction' ? 'junction' : 'symlink', text, want.source),
        });
      return plan;
    }
    plan.status = 'relinked';
    plan.mode = want.first;
    plan.reason = !pointsRight
      ? entry.resolved === null
        ? 'its link was dangling'
        : 'its link pointed elsewhere'
      : wantsLink
        ? 'its link text did not match the "relative" setting'
        : 'it was a link and the mode is copy';
    plan.actions.push({ op: 'remove-link', linkText: text }, createAction(facts, want));
    return plan;
  }
  if (pointsRight) {
    plan.mode = 'symlink';
    plan.reason = "a link made outside this tool already leads to the app's media folder; left as it is";
    return plan;
  }
  return conflict(
    plan,
    entry.resolved === null
      ? `a dangling link not made by app-media is in the way (${text})`
      : `a link not made by app-media is in the way (it leads to ${text})`,
    `remove it by hand if it is yours to remove, or rename the app with "name" in its apps entry`,
  );
}

/**
 * A folder at the entry: the tool's own copy is brought in line (copy mode) or replaced by a link; any other folder is
 * left.
 */
function planOverFolder(plan: AppPlan, facts: AppFacts, want: Wanted, record: OwnRecord | undefined): AppPlan {
  const { entryTree, sourceTree } = facts;
  if (!ownsCopy(record) || !entryTree || !sourceTree || !provesCopy(record, entryTree, sourceTree)) {
    return conflict(
      plan,
      facts.entry.empty
        ? 'an empty folder not made by app-media is in the way'
        : 'a folder not made by app-media is in the way',
      'move or remove that folder by hand (app-media never deletes what it did not create), or rename the app',
    );
  }
  const sync = planCopy(sourceTree, entryTree, record);
  if (want.first === 'copy') return planSync(plan, sync, sourceTree, want, record);
  if (sync.kept.length > 0) return leftAlone(plan, sync, 'cannot replace the copy with a link: ');
  return planCopyToLink(plan, sync, sourceTree, entryTree, want, record);
}

/** Copy mode, over the tool's own copy: write what changed; files changed by hand are kept and said. */
function planSync(
  plan: AppPlan,
  sync: CopyPlan,
  sourceTree: TreeFacts,
  want: Wanted,
  record: CopyRecord | PendingRecord,
): AppPlan {
  plan.mode = 'copy';
  const changes = sync.writes.length + sync.deletes.length + sync.mkdirs.length + (sync.touch?.length ?? 0);
  plan.status = changes > 0 ? 'copied' : 'up-to-date';
  // Nothing to write and nothing new to record: a no-change run writes nothing at all.
  // (A sync that leaves files changed by hand alone is still planned, so the plan shows them.)
  if (changes > 0 || sync.kept.length > 0 || !recordStays(sync, want.source, record))
    plan.actions.push({ op: 'sync', copy: sync });
  // Files changed by hand, or in the way of the app's own, keep the copy from matching: a conflict.
  // Files only added beside the app's are left and named; media:verify still reports them.
  const inTheWay = sync.kept.some((kept) => kept.why === 'edited' || occupies(sourceTree, kept.rel));
  if (inTheWay || sync.kept.length === 0) return leftAlone(plan, sync);
  plan.reason = `kept ${listSome(sync.kept.map((kept) => kept.rel))} (added by hand, not part of the app's media)`;
  plan.hint =
    "they are published with the copy: move them into the app's media folder, " +
    'or remove them (media:verify reports them as drift)';
  return plan;
}

/**
 * A link wanted where the tool's own copy is. Only what the tool wrote goes when the copy is
 * replaced: the files the sync would keep as the tool's (same as the source, or as recorded), and
 * folders that the record, the source or those files account for. Any other folder was made by
 * hand (even an empty one): it blocks the switch, as a file added by hand does.
 */
function planCopyToLink(
  plan: AppPlan,
  sync: CopyPlan,
  sourceTree: TreeFacts,
  entryTree: TreeFacts,
  want: Wanted,
  record: CopyRecord | PendingRecord,
): AppPlan {
  const ownFiles = [
    ...sync.unchanged.keys(),
    ...sync.writes.map((file) => file.rel).filter((rel) => entryTree.files.has(rel)),
    ...sync.deletes,
  ];
  const held = recordedDirs(record);
  for (const dir of sourceTree.dirs) held.add(dir);
  for (const rel of ownFiles) for (const dir of ancestorsAndSelf(rel).slice(0, -1)) held.add(dir);
  const handDirs = entryTree.dirs.filter((dir) => !held.has(dir));
  if (handDirs.length > 0) {
    plan.status = 'conflict';
    plan.reason =
      `cannot replace the copy with a link: ${handDirs.length} folder(s) in the copy were not made by app-media: ` +
      `${listSome(handDirs.map((dir) => `${dir}/`))}`;
    plan.hint = "move them into the app's media folder or remove them by hand, then run media:link again";
    return plan;
  }
  const seen = new Map(ownFiles.map((rel) => [rel, entryTree.files.get(rel) as FileFacts]));
  const own: OwnContents = { files: ownFiles, dirs: [...entryTree.dirs].sort().reverse(), seen };
  plan.status = 'relinked';
  plan.mode = want.first;
  plan.reason = 'its copy is replaced by a link';
  plan.actions.push({ op: 'copy-to-link', strategies: want.strategies, fallback: sync, own });
  return plan;
}

function planNoMedia(plan: AppPlan, facts: AppFacts, record: OwnRecord | undefined, input: AppPlanInput): AppPlan {
  const { app, source, entry } = facts;
  const expected = `${app.mediaDirname}/${app.name}/`;
  if (source.kind === 'escape') {
    plan.status = 'escape';
    plan.reason = `${expected} leads outside the app's folder (to ${source.real ?? '?'}): nothing of it is published`;
    plan.hint = "replace the link with the folder itself, inside the app; a media folder must be the app's own";
  } else {
    plan.status = 'no-media';
    plan.reason = source.kind === 'not-dir' ? `${expected} is not a folder` : `the app has no ${expected} folder`;
    if (source.misnamed) plan.hint = `found ${source.misnamed.found}: ${source.misnamed.fix}`;
  }
  // The app's own entry outlived its media folder (or would publish what lies outside the app): removed like an
  // unclaimed one.
  const pruned =
    input.prune || source.kind === 'escape' ? planUnclaimed(app.name, entry, record, facts.entryTree) : undefined;
  if (pruned) {
    pruned.app = app;
    if (source.kind === 'escape') pruned.status = 'escape';
    pruned.reason = `${plan.reason}; its old entry is removed`;
    pruned.hint = plan.hint;
    return pruned;
  }
  return plan;
}

/**
 * The tool's own entry that no configured app claims (or whose app lost its media): remove it if it is provably ours.
 */
function planUnclaimed(
  name: string,
  entry: EntryFacts,
  record: OwnRecord | undefined,
  tree: TreeFacts | undefined,
): AppPlan | undefined {
  if (entry.kind === 'symlink' && ownsLink(record, entry.linkText ?? '')) {
    const plan = newPlan(name, undefined, 'pruned', recordMode(record, 'symlink'));
    if (entry.id) plan.entryId = entry.id;
    plan.reason = entry.resolved === null ? 'its link was dangling' : 'no configured app claims it';
    plan.actions.push({ op: 'remove-link', linkText: entry.linkText ?? '' });
    return plan;
  }
  if (entry.kind === 'dir' && ownsCopy(record) && tree && provesCopy(record, tree, undefined)) {
    const removal = planCopyRemoval(tree, record, false);
    const plan = newPlan(name, undefined, 'pruned', 'copy');
    if (entry.id) plan.entryId = entry.id;
    if (removal.kept.some((kept) => kept.why === 'edited')) {
      const kept = leftAlone(plan, removal, 'the copy of an app no longer configured was kept: ');
      kept.hint = 'save the changes you want, then run media:clean --force to remove the copy (or remove it by hand)';
      return kept;
    }
    plan.reason =
      removal.kept.length > 0
        ? `no configured app claims it; ${removal.kept.length} file(s) added by hand were kept, ` +
          `and the folder with them`
        : 'no configured app claims it';
    plan.actions.push({ op: 'remove-copy', copy: removal });
    return plan;
  }
  return undefined;
}

/**
 * A look that failed on a system call (EACCES on a folder in the app's media folder or in its
 * copy): this app, or entry, is an error, and nothing is done for it. The others go on.
 */
export function unreadableEntry(plan: AppPlan, error: SystemError, projectRoot: string): AppPlan {
  plan.status = 'error';
  plan.reason = describeSystemError(error, projectRoot);
  plan.hint = systemErrorHint(error.code);
  plan.actions = [];
  return plan;
}

function conflict(plan: AppPlan, reason: string, hint: string): AppPlan {
  plan.status = 'conflict';
  plan.reason = reason;
  plan.hint = hint;
  plan.actions = [];
  return plan;
}

function leftAlone(plan: AppPlan, copy: CopyPlan, prefix = ''): AppPlan {
  if (copy.kept.length === 0) return plan;
  const listed = listSome(
    copy.kept.map((kept) => `${kept.rel} (${kept.why === 'edited' ? 'changed by hand' : 'not written by app-media'})`),
  );
  plan.status = 'conflict';
  plan.reason = `${prefix}${copy.kept.length} file(s) in the copy were left alone: ${listed}`;
  plan.hint =
    "edit files in the app's media folder, not in the copy; move your changes there, " +
    "then remove the copy's file by hand";
  if (prefix) plan.actions = [];
  return plan;
}

function sameText(a: string, b: string): boolean {
  return normalizeLinkText(a) === normalizeLinkText(b);
}

/** Whether the source has something at `rel`, above it or below it: a file or folder there is in its way. */
function occupies(source: TreeFacts, rel: string): boolean {
  if (source.files.has(rel) || source.dirs.includes(rel)) return true;
  if (ancestorsAndSelf(rel).some((part) => source.files.has(part))) return true;
  const below = `${rel}/`;
  return [...source.files.keys()].some((file) => file.startsWith(below));
}
