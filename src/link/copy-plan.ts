/**
 * The copy arithmetic, pure like the planner: what a copy needs so that it matches its source,
 * what removing one may delete, whether a folder is provably the tool's copy, and the record a
 * copy has once written. The link planner, the clean planner, the checker and apply all use it.
 */
import { copyMode } from '../core/fs/source.js';
import type { FileFacts, TreeFacts } from '../core/fs/walk.js';
import { recordedDirs, recordedFiles, type CopyRecord, type OwnRecord, type PendingRecord } from '../core/records.js';

export interface CopyPlan {
  /** Folders to create, parents first. */
  mkdirs: string[];
  writes: Array<{ rel: string } & FileFacts>;
  /** Files the tool wrote earlier whose source is gone. */
  deletes: string[];
  /** Folders no longer in the source, deepest first; removed only if empty. */
  rmdirs: string[];
  /**
   * Files kept: left alone because a person's hand is in them (changed by hand since the tool wrote them, or not the
   * tool's), with which.
   */
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
  /** The source's walk, when it can give the record source stamps (core/fs/stamp.ts, sourceStamps). */
  source?: TreeFacts;
}

/** What a copy held when the plan was made, all of it the tool's: what `copy-to-link` may remove. */
export interface OwnContents {
  files: string[];
  /** Deepest first. */
  dirs: string[];
  /** Each file's size and mtime as the plan saw them: a file changed since is not removed. */
  seen: Map<string, FileFacts>;
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

/** A plan with nothing to do yet. */
function emptyCopyPlan(): CopyPlan {
  return { mkdirs: [], writes: [], deletes: [], rmdirs: [], kept: [], unchanged: new Map(), edited: new Map() };
}

/**
 * What a copy needs so that `dest` matches `source`, touching only files the
 * tool wrote (per `record`) and never a file changed by hand since.
 */
export function planCopy(
  source: TreeFacts,
  dest: TreeFacts | undefined,
  record: CopyRecord | PendingRecord | undefined,
): CopyPlan {
  const plan = emptyCopyPlan();
  if (source.links) plan.links = source.links;
  if (source.walkedAt !== undefined) plan.source = source;
  const recorded = recordedFiles(record);
  const destDirs = new Set(dest?.dirs ?? []);
  // Links and special files in the copy were not made by the tool: nothing is
  // written over them, and nothing is written or made below them (through a link).
  const blockers = new Set(dest?.skipped ?? []);
  for (const rel of blockers) plan.kept.push({ rel, why: 'foreign' });
  const blocked = (rel: string): boolean =>
    blockers.size > 0 && ancestorsAndSelf(rel).some((part) => blockers.has(part));
  for (const dir of source.dirs) if (!destDirs.has(dir) && !blocked(dir)) plan.mkdirs.push(dir);
  plan.dirs = source.dirs.filter((dir) => !blocked(dir));

  const leaveAlone = (rel: string): void => {
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
      if (!sameFacts(current, facts) || current.mode !== copyMode(facts.mode))
        (plan.touch ??= []).push({ rel, mtimeMs: facts.mtimeMs, mode: facts.mode });
    } else if (sameFacts(current, recorded[rel])) {
      plan.writes.push(writeOf(rel, facts));
    } else {
      leaveAlone(rel);
    }
  }
  for (const [rel, current] of dest?.files ?? []) {
    if (source.files.has(rel)) continue;
    if (sameFacts(current, recorded[rel])) plan.deletes.push(rel);
    else leaveAlone(rel);
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
  plan.rmdirs = gone
    .filter((dir) => held?.has(dir))
    .sort()
    .reverse();
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
  if (record.kind !== 'copy' || record.source !== source || copy.writes.length > 0 || copy.edited.size > 0)
    return false;
  const files = record.files;
  if (Object.keys(files).length !== copy.unchanged.size) return false;
  for (const [rel, facts] of copy.unchanged) {
    const recorded = files[rel];
    if (!Array.isArray(recorded) || recorded[0] !== facts.size || recorded[1] !== Math.round(facts.mtimeMs))
      return false;
  }
  // Same files, so the same folders are implied by them; the others must be listed alike.
  const implied = recordedDirs({ kind: 'copy', source, files });
  return sameList(
    (copy.dirs ?? []).filter((dir) => !implied.has(dir)),
    record.dirs ?? [],
  );
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

/** `a/b/c` → `a`, `a/b`, `a/b/c`. */
export function ancestorsAndSelf(rel: string): string[] {
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
export function provesCopy(
  record: CopyRecord | PendingRecord,
  tree: TreeFacts,
  source: TreeFacts | undefined,
): boolean {
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
  if (recorded.length === 0)
    return (
      tree.files.size === 0 || (source !== undefined && [...tree.files.keys()].every((rel) => !source.files.has(rel)))
    );
  return recorded.some(([rel, facts]) => sameFactsAt(tree, rel, facts));
}

function sameFactsAt(tree: TreeFacts, rel: string, facts: [number, number]): boolean {
  const current = tree.files.get(rel);
  return current !== undefined && sameFacts(current, facts);
}

/** Every file of a copy the tool wrote, unchanged: what `remove-copy` may delete. */
export function planCopyRemoval(dest: TreeFacts, record: CopyRecord | PendingRecord, force: boolean): CopyPlan {
  const files = recordedFiles(record);
  const plan = emptyCopyPlan();
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
  plan.rmdirs = dest.dirs
    .filter((dir) => held.has(dir))
    .sort()
    .reverse();
  return plan;
}
