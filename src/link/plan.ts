/**
 * The planner: from the configured apps and what the probe saw, decide what
 * happens to every entry of mediaRoot. Pure (no I/O): every decision about
 * data safety is made here and tested without a disk; apply only carries it out.
 */
import path from 'node:path';
import type { App } from '../core/discover.js';
import type { FolderId } from '../core/fs/folder.js';
import { copyMode } from '../core/fs/source.js';
import type { FileFacts, TreeFacts } from '../core/fs/walk.js';
import { toDisplay } from '../core/display.js';
import { linkRecord, normalizeLinkText, ownsCopy, ownsLink, recordedDirs, recordedFiles, recordedSource, recordMode, type CopyRecord, type OwnRecord, type PendingRecord } from '../core/records.js';
import type { AppFacts, EntryFacts, ProbeResult } from './probe.js';
import { newResult, resultOf, type AppResult } from '../core/report.js';
import type { AppStatus, EntryMode, Mode } from '../core/types.js';
import { describeSystemError, systemErrorHint, type SystemError } from '../core/system-errors.js';
import { listSome } from '../core/util/list.js';

export type Strategy = EntryMode;

export interface CopyPlan {
  /** Folders to create, parents first. */
  mkdirs: string[];
  writes: Array<{ rel: string } & FileFacts>;
  /** Files the tool wrote earlier whose source is gone. */
  deletes: string[];
  /** Folders no longer in the source, deepest first; removed only if empty. */
  rmdirs: string[];
  /** Files left alone, with why. */
  kept: Array<{ rel: string; why: 'edited' | 'foreign' }>;
  /** Files already right: relative path → facts (they stay in the record). */
  unchanged: Map<string, FileFacts>;
  /** Files the tool wrote that were changed by hand since: left alone, but still recorded as the tool's. */
  edited: Map<string, [number, number]>;
  /** Folders the copy has once the plan is carried out (recorded, so clean can remove them). */
  dirs?: string[];
  /** Files whose contents are right but whose time (`--checksum`) or mode is not: only those are set. */
  touch?: Array<{ rel: string; mtimeMs: number; mode: number }>;
  /**
   * What the copy held, when the plan was made, at each path it writes over or deletes
   * (null: nothing): apply looks again right before, and leaves alone a file changed since.
   */
  seen?: Map<string, FileFacts | null>;
  /** Files of the source that are links to a file inside it: read at the real path they lead to. */
  links?: ReadonlyMap<string, string>;
}

/** What a copy held when the plan was made, all of it the tool's: what `copy-to-link` may remove. */
export interface OwnContents {
  files: string[];
  /** Deepest first. */
  dirs: string[];
  /** Each file's size and mtime as the plan saw them: a file changed since is not removed. */
  seen: Map<string, FileFacts>;
}

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
  probed: Pick<ProbeResult, 'realMediaRoot' | 'realProjectRoot' | 'manifest'>;
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
  return finishLinkPlan(input.probed.apps.map((facts) => planAppLink(facts, input)), input);
}

/**
 * One configured app's plan, as `planLink` makes it. A run plans each app as soon as the
 * probe has seen it (api.ts), so an app with nothing to do lets go of its walks at once.
 */
export function planAppLink(facts: AppFacts, input: AppPlanInput): AppPlan {
  return planApp(facts, input, strategiesFor(input.mode, input.platform), input.probed.manifest.entries[facts.app.name]);
}

/** The run's plan from its apps' plans: the tool's own entries that no configured app claims are pruned. */
export function finishLinkPlan(apps: AppPlan[], input: Pick<AppPlanInput, 'prune' | 'projectRoot'> & { probed: Pick<ProbeResult, 'unclaimed' | 'manifest'> }): LinkPlan {
  const { probed } = input;
  if (input.prune) {
    for (const { name, entry, tree, unreadable } of probed.unclaimed) {
      // The tool's own copy that could not be walked cannot be pruned: said, not skipped in silence.
      const planned = unreadable
        ? unreadableEntry(newPlan(name, undefined, 'error', null), unreadable, input.projectRoot)
        : planUnclaimed(name, entry, probed.manifest.entries[name], tree);
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
  const copyFiles = plan.actions.flatMap((action) => ('copy' in action && action.copy !== 'walk' && action.op !== 'remove-copy' ? action.copy.writes : []));
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
export function noteLeftOut<T extends Pick<AppPlan, 'status' | 'reason' | 'ignored'>>(plan: T, tree: TreeFacts | undefined): T {
  if (!tree) return plan;
  if (tree.ignored > 0) plan.ignored = tree.ignored;
  if (plan.status === 'conflict') return plan;
  const notes: string[] = [];
  if (tree.escapes.length > 0) notes.push(`not copied: ${listSome(tree.escapes)} (link${tree.escapes.length === 1 ? '' : 's'} leading outside the media folder)`);
  if (tree.skipped.length > 0) notes.push(`not copied: ${listSome(tree.skipped)} (a dangling or looping link, a link to a folder, or not a regular file)`);
  for (const note of notes) plan.reason = plan.reason ? `${plan.reason}; ${note}` : note;
  return plan;
}

function planEntry(facts: AppFacts, input: AppPlanInput, strategies: Strategy[], record: OwnRecord | undefined, plan: AppPlan): AppPlan {
  const { app, source, entry } = facts;
  if (source.real === undefined) return plan;
  const target = linkSourcePath(app, input.projectRoot, input.probed.realProjectRoot, source.real);
  plan.absoluteText = target;
  plan.linkText = input.relative ? path.relative(input.probed.realMediaRoot, target) || '.' : target;
  if (source.id) plan.sourceId = source.id;
  const first = strategies[0] as Strategy;
  const wantsLink = first !== 'copy';
  const copyPlan = (): CopyPlan | 'walk' => (facts.sourceTree ? planCopy(facts.sourceTree, undefined, undefined) : 'walk');

  switch (entry.kind) {
    case 'missing':
      plan.status = first === 'copy' ? 'copied' : 'linked';
      plan.mode = first;
      plan.actions.push({ op: 'create', strategies, copy: copyPlan() });
      return plan;

    case 'symlink': {
      const text = entry.linkText ?? '';
      const pointsRight = entry.resolved === source.real;
      if (ownsLink(record, text)) {
        // Junctions exist only on Windows. Elsewhere an absolute link under a pending record (a
        // run cut short) is a symbolic link made with `relative: false`, and follows the config.
        const junctions = input.platform === 'win32';
        const isJunction = junctions && (record.kind === 'junction'
          || (record.kind === 'pending' && sameText(text, plan.absoluteText) && !sameText(text, plan.linkText)));
        const expected = isJunction ? plan.absoluteText : plan.linkText;
        if (wantsLink && pointsRight && sameText(text, expected)) {
          plan.mode = isJunction ? 'junction' : recordMode(record, 'symlink');
          if (record.kind === 'pending') {
            plan.actions.push({ op: 'adopt', record: linkRecord(plan.mode === 'junction' ? 'junction' : 'symlink', text, recordedSource(toDisplay(input.projectRoot, app.mediaDir))) });
          }
          return plan;
        }
        plan.status = 'relinked';
        plan.mode = first;
        plan.reason = !pointsRight
          ? (entry.resolved === null ? 'its link was dangling' : 'its link pointed elsewhere')
          : wantsLink ? 'its link text did not match the "relative" setting' : 'it was a link and the mode is copy';
        plan.actions.push({ op: 'remove-link', linkText: text }, { op: 'create', strategies, copy: copyPlan() });
        return plan;
      }
      if (pointsRight) {
        plan.mode = 'symlink';
        plan.reason = 'a link made outside this tool already leads to the app\'s media folder; left as it is';
        return plan;
      }
      return conflict(plan, entry.resolved === null
        ? `a dangling link not made by app-media is in the way (${text})`
        : `a link not made by app-media is in the way (it leads to ${text})`,
      `remove it by hand if it is yours to remove, or rename the app with "name" in its apps entry`);
    }

    case 'dir': {
      if (!ownsCopy(record) || !facts.entryTree || !facts.sourceTree || !provesCopy(record, facts.entryTree, facts.sourceTree)) {
        return conflict(plan, entry.empty ? 'an empty folder not made by app-media is in the way' : 'a folder not made by app-media is in the way',
          'move or remove that folder by hand (app-media never deletes what it did not create), or rename the app');
      }
      const sync = planCopy(facts.sourceTree, facts.entryTree, record);
      if (!wantsLink) {
        plan.mode = 'copy';
        const changes = sync.writes.length + sync.deletes.length + sync.mkdirs.length + (sync.touch?.length ?? 0);
        plan.status = changes > 0 ? 'copied' : 'up-to-date';
        // Nothing to write and nothing new to record: a no-change run writes nothing at all.
        // (A sync that keeps files changed by hand is still planned, so the plan shows what it keeps.)
        if (changes > 0 || sync.kept.length > 0 || !recordStays(sync, recordedSource(toDisplay(input.projectRoot, app.mediaDir)), record)) {
          plan.actions.push({ op: 'sync', copy: sync });
        }
        // Files changed by hand, or in the way of the app's own, keep the copy from matching: a conflict.
        // Files only added beside the app's are kept and named; media:verify still reports them.
        const inTheWay = sync.kept.some((kept) => kept.why === 'edited' || occupies(facts.sourceTree as TreeFacts, kept.rel));
        if (inTheWay || sync.kept.length === 0) return keptFiles(plan, sync);
        plan.reason = `kept ${listSome(sync.kept.map((kept) => kept.rel))} (added by hand, not part of the app's media)`;
        plan.hint = 'they are published with the copy: move them into the app\'s media folder, or remove them (media:verify reports them as drift)';
        return plan;
      }
      if (sync.kept.length > 0) {
        return keptFiles(plan, sync, 'cannot replace the copy with a link: ');
      }
      // Only what the tool wrote goes when the copy is replaced: the files the sync would keep
      // as the tool's (same as the source, or as recorded), and folders that the record, the
      // source or those files account for. Any other folder was made by hand (even an empty
      // one): it blocks the switch, as a file added by hand does.
      const entryTree = facts.entryTree;
      const ownFiles = [...sync.unchanged.keys(), ...sync.writes.map((file) => file.rel).filter((rel) => entryTree.files.has(rel)), ...sync.deletes];
      const held = recordedDirs(record);
      for (const dir of facts.sourceTree.dirs) held.add(dir);
      for (const rel of ownFiles) for (const dir of ancestorsAndSelf(rel).slice(0, -1)) held.add(dir);
      const handDirs = entryTree.dirs.filter((dir) => !held.has(dir));
      if (handDirs.length > 0) {
        plan.status = 'conflict';
        plan.reason = `cannot replace the copy with a link: ${handDirs.length} folder(s) in the copy were not made by app-media: ${listSome(handDirs.map((dir) => `${dir}/`))}`;
        plan.hint = 'move them into the app\'s media folder or remove them by hand, then run media:link again';
        return plan;
      }
      const seen = new Map(ownFiles.map((rel) => [rel, entryTree.files.get(rel) as FileFacts]));
      const own: OwnContents = { files: ownFiles, dirs: [...entryTree.dirs].sort().reverse(), seen };
      plan.status = 'relinked';
      plan.mode = first;
      plan.reason = 'its copy is replaced by a link';
      plan.actions.push({ op: 'copy-to-link', strategies, fallback: sync, own });
      return plan;
    }

    default:
      return conflict(plan, `a ${entry.kind === 'file' ? 'file' : 'special file'} not made by app-media is in the way`,
        'move or remove it by hand (app-media never deletes what it did not create), or rename the app');
  }
}

function planNoMedia(plan: AppPlan, facts: AppFacts, record: OwnRecord | undefined, input: AppPlanInput): AppPlan {
  const { app, source, entry } = facts;
  const expected = `${app.mediaDirname}/${app.name}/`;
  if (source.kind === 'escape') {
    plan.status = 'escape';
    plan.reason = `${expected} leads outside the app's folder (to ${source.real ?? '?'}): nothing of it is published`;
    plan.hint = 'replace the link with the folder itself, inside the app; a media folder must be the app\'s own';
  } else {
    plan.status = 'no-media';
    plan.reason = source.kind === 'not-dir' ? `${expected} is not a folder` : `the app has no ${expected} folder`;
    if (source.misnamed) plan.hint = `found ${source.misnamed.found}: ${source.misnamed.fix}`;
  }
  // The app's own entry outlived its media folder (or would publish what lies outside the app): removed like an unclaimed one.
  const pruned = input.prune || source.kind === 'escape' ? planUnclaimed(app.name, entry, record, facts.entryTree) : undefined;
  if (pruned) {
    pruned.app = app;
    if (source.kind === 'escape') pruned.status = 'escape';
    pruned.reason = `${plan.reason}; its old entry is removed`;
    pruned.hint = plan.hint;
    return pruned;
  }
  return plan;
}

/** The tool's own entry that no configured app claims (or whose app lost its media): remove it if it is provably ours. */
function planUnclaimed(name: string, entry: EntryFacts, record: OwnRecord | undefined, tree: TreeFacts | undefined): AppPlan | undefined {
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
      const kept = keptFiles(plan, removal, 'the copy of an app no longer configured was kept: ');
      kept.hint = 'save the changes you want, then run media:clean --force to remove the copy (or remove it by hand)';
      return kept;
    }
    plan.reason = removal.kept.length > 0
      ? `no configured app claims it; ${removal.kept.length} file(s) added by hand were kept, and the folder with them`
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

function keptFiles(plan: AppPlan, copy: CopyPlan, prefix = ''): AppPlan {
  if (copy.kept.length === 0) return plan;
  const listed = listSome(copy.kept.map((kept) => `${kept.rel} (${kept.why === 'edited' ? 'changed by hand' : 'not written by app-media'})`));
  plan.status = 'conflict';
  plan.reason = `${prefix}${copy.kept.length} file(s) in the copy were left alone: ${listed}`;
  plan.hint = 'edit files in the app\'s media folder, not in the copy; move your changes there, then remove the copy\'s file by hand';
  if (prefix) plan.actions = [];
  return plan;
}

function sameText(a: string, b: string): boolean {
  return normalizeLinkText(a) === normalizeLinkText(b);
}

/**
 * Size and mtime agree. Times match within a millisecond: `utimes` and the
 * file system round differently, and records keep whole milliseconds.
 */
export function sameFacts(a: FileFacts, b: FileFacts | [number, number] | undefined): boolean {
  if (!b) return false;
  // Read without destructuring: this runs once per file per run, and an array pattern allocates.
  const size = Array.isArray(b) ? b[0] : b.size;
  const mtimeMs = Array.isArray(b) ? b[1] : b.mtimeMs;
  return a.size === size && Math.abs(a.mtimeMs - mtimeMs) < 1;
}

/** With hashes (`--checksum`) the contents decide; without, size and mtime do. */
function sameContents(a: FileFacts, b: FileFacts): boolean {
  if (a.hash !== undefined && b.hash !== undefined) return a.size === b.size && a.hash === b.hash;
  return sameFacts(a, b);
}

/**
 * What a copy needs so that `dest` matches `source`, touching only files the
 * tool wrote (per `record`) and never a file changed by hand since.
 */
export function planCopy(source: TreeFacts, dest: TreeFacts | undefined, record: CopyRecord | PendingRecord | undefined): CopyPlan {
  const plan: CopyPlan = { mkdirs: [], writes: [], deletes: [], rmdirs: [], kept: [], unchanged: new Map(), edited: new Map() };
  if (source.links) plan.links = source.links;
  const recorded = recordedFiles(record);
  const destDirs = new Set(dest?.dirs ?? []);
  // Links and special files in the copy were not made by the tool: nothing is
  // written over them, and nothing is written or made below them (through a link).
  const blockers = new Set(dest?.skipped ?? []);
  for (const rel of blockers) plan.kept.push({ rel, why: 'foreign' });
  const blocked = (rel: string): boolean => blockers.size > 0 && ancestorsAndSelf(rel).some((part) => blockers.has(part));
  for (const dir of source.dirs) if (!destDirs.has(dir) && !blocked(dir)) plan.mkdirs.push(dir);
  plan.dirs = source.dirs.filter((dir) => !blocked(dir));

  const keep = (rel: string): void => {
    if (Object.hasOwn(recorded, rel)) {
      plan.kept.push({ rel, why: 'edited' });
      plan.edited.set(rel, recorded[rel] as [number, number]);
    } else {
      plan.kept.push({ rel, why: 'foreign' });
    }
  };

  for (const [rel, facts] of source.files) {
    const current = dest?.files.get(rel);
    if (blocked(rel)) continue;
    if (!current) {
      if (destDirs.has(rel)) plan.kept.push({ rel, why: 'foreign' });
      else plan.writes.push(writeOf(rel, facts));
    } else if (sameContents(current, facts)) {
      plan.unchanged.set(rel, facts);
      // Same contents, another time (--checksum) or mode: only those are set right, nothing is rewritten.
      if (!sameFacts(current, facts) || current.mode !== copyMode(facts.mode)) (plan.touch ??= []).push({ rel, mtimeMs: facts.mtimeMs, mode: facts.mode });
    } else if (sameFacts(current, recorded[rel])) {
      plan.writes.push(writeOf(rel, facts));
    } else {
      keep(rel);
    }
  }
  for (const [rel, current] of dest?.files ?? []) {
    if (source.files.has(rel)) continue;
    if (sameFacts(current, recorded[rel])) plan.deletes.push(rel);
    else keep(rel);
  }
  if (dest) {
    plan.seen = new Map();
    for (const { rel } of plan.writes) plan.seen.set(rel, dest.files.get(rel) ?? null);
    for (const rel of plan.deletes) plan.seen.set(rel, dest.files.get(rel) ?? null);
    for (const { rel } of plan.touch ?? []) plan.seen.set(rel, dest.files.get(rel) ?? null);
  }
  // Folders the source no longer has go if the tool made them (the record's folders are worked out only then).
  const sourceDirs = new Set(source.dirs);
  const gone = [...destDirs].filter((dir) => !sourceDirs.has(dir));
  const held = gone.length > 0 ? recordedDirs(record) : undefined;
  plan.rmdirs = gone.filter((dir) => held?.has(dir)).sort().reverse();
  plan.kept.sort((a, b) => (a.rel < b.rel ? -1 : 1));
  return plan;
}

/** A file to write: the walk's own facts object when it carries this path, else a copy with the path. */
function writeOf(rel: string, facts: FileFacts): { rel: string } & FileFacts {
  return facts.rel === rel ? (facts as { rel: string } & FileFacts) : { ...facts, rel };
}

/** The record of a copy once its plan is carried out: every file the tool wrote, and its folders. */
export function copyRecordOf(copy: CopyPlan, source: string): CopyRecord {
  const files: CopyRecord['files'] = {};
  for (const [rel, facts] of copy.unchanged) files[rel] = [facts.size, Math.round(facts.mtimeMs)];
  for (const file of copy.writes) files[file.rel] = [file.size, Math.round(file.mtimeMs)];
  for (const [rel, facts] of copy.edited) files[rel] = facts;
  const record: CopyRecord = { kind: 'copy', source, files: sortKeys(files) };
  // Only folders that hold no recorded file need listing: the others are implied.
  const implied = recordedDirs(record);
  const dirs = (copy.dirs ?? []).filter((dir) => !implied.has(dir));
  if (dirs.length > 0) record.dirs = dirs;
  return record;
}

/**
 * Whether a copy plan with nothing to write, delete or keep leaves the record as it is: the
 * record `copyRecordOf` would make says the same files (size, whole-ms mtime) and folders.
 * (Checked without making it: a no-change run of a thousand apps does this for each.)
 */
export function recordStays(copy: CopyPlan, source: string, record: CopyRecord | PendingRecord): boolean {
  if (record.kind !== 'copy' || record.source !== source || copy.writes.length > 0 || copy.edited.size > 0) return false;
  const files = record.files;
  if (Object.keys(files).length !== copy.unchanged.size) return false;
  for (const [rel, facts] of copy.unchanged) {
    const recorded = files[rel];
    if (!Array.isArray(recorded) || recorded[0] !== facts.size || recorded[1] !== Math.round(facts.mtimeMs)) return false;
  }
  // Same files, so the same folders are implied by them; the others must be listed alike.
  const implied = recordedDirs({ kind: 'copy', source, files });
  return sameList((copy.dirs ?? []).filter((dir) => !implied.has(dir)), record.dirs ?? []);
}

/** Whether two records say the same (the records file would not change). */
export function sameRecord(a: CopyRecord, b: OwnRecord): boolean {
  if (b.kind !== 'copy' || a.source !== b.source || !sameList(a.dirs ?? [], b.dirs ?? [])) return false;
  const keys = Object.keys(a.files);
  if (!sameList(keys, Object.keys(b.files))) return false;
  for (const key of keys) {
    const [size, mtime] = a.files[key] as [number, number];
    const other = b.files[key];
    if (!Array.isArray(other) || other[0] !== size || other[1] !== mtime) return false;
  }
  return true;
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((item, index) => item === b[index]);
}

/** The object with its keys in code-unit order (already so in most cases: the walks go in name order). */
function sortKeys<T>(object: Record<string, T>): Record<string, T> {
  const keys = Object.keys(object);
  if (keys.every((key, index) => index === 0 || (keys[index - 1] as string) < key)) return object;
  return Object.fromEntries(Object.entries(object).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** Whether the source has something at `rel`, above it or below it: a file or folder there is in its way. */
function occupies(source: TreeFacts, rel: string): boolean {
  if (source.files.has(rel) || source.dirs.includes(rel)) return true;
  if (ancestorsAndSelf(rel).some((part) => source.files.has(part))) return true;
  const below = `${rel}/`;
  return [...source.files.keys()].some((file) => file.startsWith(below));
}

/** `a/b/c` → `a`, `a/b`, `a/b/c`. */
function ancestorsAndSelf(rel: string): string[] {
  const parts = rel.split('/');
  return parts.map((_, index) => parts.slice(0, index + 1).join('/'));
}

/**
 * Whether a folder at an entry whose record claims a copy is provably that
 * copy, and not a folder someone made there since: at least one file is still
 * as the tool wrote it (or, with no files recorded, the folder holds none).
 * Under a pending record (a run cut short) every file must be identical to
 * the app's source file, which needs the source's facts.
 */
export function provesCopy(record: CopyRecord | PendingRecord, tree: TreeFacts, source: TreeFacts | undefined): boolean {
  const recorded = Object.entries(recordedFiles(record));
  if (record.kind === 'pending') {
    if (recorded.some(([rel, facts]) => sameFactsAt(tree, rel, facts))) return true;
    if (!source || tree.skipped.length > 0) return false;
    for (const [rel, facts] of tree.files) if (!sameFacts(facts, source.files.get(rel))) return false;
    return true;
  }
  // A copy of a source with no files records none: nothing on disk can prove it. It is taken as
  // the tool's while none of its files is at a path the source has (files added by hand beside
  // the app's are kept and named, never touched); see "Limits" in docs/safety.md.
  if (recorded.length === 0) return tree.files.size === 0 || (source !== undefined && [...tree.files.keys()].every((rel) => !source.files.has(rel)));
  return recorded.some(([rel, facts]) => sameFactsAt(tree, rel, facts));
}

function sameFactsAt(tree: TreeFacts, rel: string, facts: [number, number]): boolean {
  const current = tree.files.get(rel);
  return current !== undefined && sameFacts(current, facts);
}

/** Every file of a copy the tool wrote, unchanged: what `remove-copy` may delete. */
export function planCopyRemoval(dest: TreeFacts, record: CopyRecord | PendingRecord, force: boolean): CopyPlan {
  const files = recordedFiles(record);
  const plan: CopyPlan = { mkdirs: [], writes: [], deletes: [], rmdirs: [], kept: [], unchanged: new Map(), edited: new Map() };
  plan.seen = new Map();
  for (const [rel, current] of dest.files) {
    if (sameFacts(current, files[rel]) || (force && Object.hasOwn(files, rel))) {
      plan.deletes.push(rel);
      plan.seen.set(rel, current);
    } else {
      plan.kept.push({ rel, why: Object.hasOwn(files, rel) ? 'edited' : 'foreign' });
    }
  }
  // Only folders the tool's files were in: an empty folder added by hand stays.
  const held = recordedDirs(record);
  plan.rmdirs = dest.dirs.filter((dir) => held.has(dir)).sort().reverse();
  return plan;
}
