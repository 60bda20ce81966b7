/**
 * Looks at the file system and records what is there, for the planner:
 * each app's media folder, each entry in mediaRoot, the records of what the tool made (core/records.ts).
 * Read-only.
 */
import { readdirSync, readlinkSync, realpathSync } from 'node:fs';
import path from 'node:path';
import type { App } from '../core/discover.js';
import type { FolderId } from '../core/fs/folder.js';
import { readRecords, type RecordsTrust } from '../core/fs/records-file.js';
import { realPaths, realpathOfPath } from '../core/fs/real-paths.js';
import { lstatOrUndefined, vanished } from '../core/fs/look.js';
import { hasTraces } from '../core/fs/sweep.js';
import { isEmptyTree, walkTreeSync, type TreeFacts } from '../core/fs/walk.js';
import {
  emptyRecords,
  recordedListing,
  recordedSourceOf,
  type CopyRecord,
  type Records,
  type OwnRecord,
} from '../core/records.js';
import { isSystemError, type SystemError } from '../core/system-errors.js';
import { hashPairs } from './hash.js';
import { sourceFacts, type SourceFacts } from '../core/media-folder.js';
import { turnTaker } from '../core/util/turns.js';

export type EntryKind = 'missing' | 'symlink' | 'dir' | 'file' | 'other';

export interface EntryFacts {
  kind: EntryKind;
  /** The link's text (symlink or junction). */
  linkText?: string;
  /** Where a link leads, resolved; null when it dangles or loops. */
  resolved?: string | null;
  /** For a folder: whether it holds anything. */
  empty?: boolean;
  /** The entry's own device and inode (lstat): apply acts only on the very entry the plan saw. */
  id?: FolderId;
}

export interface AppFacts {
  app: App;
  source: SourceFacts;
  entry: EntryFacts;
  /** Filled when the plan may copy: the source tree and the copy's tree. */
  sourceTree?: TreeFacts;
  entryTree?: TreeFacts;
  /** What a web server would serve at mediaRoot/<name>/ (through the link, nothing ignored): for verify. */
  publishedTree?: TreeFacts;
  /**
   * A system call failed while looking at this app (EACCES on a folder in its media folder or
   * in its copy): the app is reported as an error and nothing is done for it; the others go on.
   * `entry` is then `other` (not known): nothing may be written for it.
   */
  unreadable?: SystemError;
}

/** An entry of mediaRoot, with the copy's tree when it is a folder the records claim. */
export interface RootEntry {
  name: string;
  entry: EntryFacts;
  tree?: TreeFacts;
  /** Its copy could not be walked (see `AppFacts.unreadable`); `entry` is then `other`. */
  unreadable?: SystemError;
}

/** What the probe knows of mediaRoot and the project before looking at any app's entry. */
export interface RootSeen {
  mediaRoot: string;
  /** mediaRoot with every link resolved (for what exists of it). */
  realMediaRoot: string;
  realProjectRoot: string;
  mediaRootExists: boolean;
  records: Records;
}

/** The first phase of a look: mediaRoot, and every app's media folder (the refusals need them all). */
export interface SourcesSeen extends RootSeen {
  apps: ReadonlyArray<Pick<AppFacts, 'app' | 'source'>>;
}

/** The last phase of a look: what is in mediaRoot besides the configured apps' entries. */
export interface RestSeen {
  /** Entries in mediaRoot that the records records but no configured app claims. */
  unclaimed: RootEntry[];
  /** Traces of another run: its lock, or temporary files (in progress, or left by a crash to be swept). */
  leftovers: number;
}

/** A whole look, every phase of it: what a plan of the whole run is made from. */
export interface ProbeResult extends RootSeen, RestSeen {
  apps: AppFacts[];
}

/** What the look at the records file needs: who may have written it, how to name it. */
export type { RecordsTrust };

/** An earlier look of the same run: its media folders' facts, and the facts of the apps it kept, are reused. */
export interface EarlierLook {
  sources: SourcesSeen['apps'];
  apps: readonly AppFacts[];
}

export interface ProbeOptions {
  /**
   * Walk trees for copy planning: 'all' apps (a dry run shows every file a new copy would
   * get), or only where a copy exists (a new copy walks its source when it is made).
   */
  walk: 'all' | 'existing-copies';
  ignore: readonly string[];
  /** Also walk what each entry publishes (verify). */
  published?: boolean;
  /** Hash files present on both sides with equal sizes, so contents decide (`--checksum`). */
  checksum?: boolean;
  /** Whose records file is taken as the tool's. */
  trust: RecordsTrust;
  /** An earlier look of the same run, whose facts are reused. */
  earlier?: EarlierLook;
}

/**
 * A look, phase by phase. The caller walks through them in order: `sources()` (mediaRoot and
 * every app's media folder: the refusals come before any entry is looked at), then `apps()`
 * (each app's facts, one at a time, so that a caller that plans or checks each app at once holds
 * the walks of one app, not a thousand apps'), then `rest()` (the entries no app claims).
 */
export class Probe {
  private seen: SourcesSeen | undefined;
  private readonly takeTurn = turnTaker();

  constructor(
    private readonly projectRoot: string,
    private readonly mediaRoot: string,
    private readonly configured: readonly App[],
    private readonly options: ProbeOptions,
  ) {}

  /** mediaRoot and its records, and every app's media folder. */
  async sources(): Promise<SourcesSeen> {
    const { mediaRoot, options } = this;
    const mediaRootExists = lstatOrUndefined(mediaRoot) !== undefined;
    const realProjectRoot = realpathOfPath(this.projectRoot);
    const root: RootSeen = {
      mediaRoot,
      realMediaRoot: realpathOfPath(mediaRoot),
      realProjectRoot,
      mediaRootExists,
      records: mediaRootExists ? readRecords(mediaRoot, options.trust) : emptyRecords(),
    };
    // A look taken again under the lock reuses the media folders' facts: the lock guards mediaRoot,
    // and the media folders may change at any time either way. All of them, also those of apps an
    // earlier look that ended early did not get to.
    const earlier = new Map((options.earlier?.sources ?? []).map((seen) => [seen.app, seen.source]));
    // One app after another with synchronous calls: on a local disk a look is a few system calls,
    // which cost less than as many promises (bench/). The event loop still gets a turn now and
    // then, so other tasks of a gulp process are not held up. The media folders' real paths
    // share the project's: it is resolved once, not per app.
    const realOf = realPaths([[path.resolve(this.projectRoot), realProjectRoot]]);
    const apps: Array<Pick<AppFacts, 'app' | 'source'>> = [];
    for (const app of this.configured) {
      apps.push({ app, source: earlier.get(app) ?? sourceFacts(app, realOf) });
      await this.turn();
    }
    this.seen = { ...root, apps };
    return this.seen;
  }

  /** Each app's facts, in the config's order, as soon as they are gathered. */
  async *apps(): AsyncGenerator<AppFacts> {
    const seen = this.seen ?? (await this.sources());
    // Walks are reused only without --checksum: hashes are per look.
    const earlier = new Map(
      (this.options.checksum ? [] : (this.options.earlier?.apps ?? [])).map((facts) => [facts.app, facts]),
    );
    for (const { app, source } of seen.apps) {
      yield await appFacts(app, source, seen, earlier.get(app), this.options, this.projectRoot).catch(
        (error: unknown): AppFacts => ({
          app,
          source,
          entry: { kind: 'other' },
          unreadable: asUnreadable(error),
        }),
      );
      await this.turn();
    }
  }

  /** The entries of mediaRoot the records claim for no configured app, and the traces of other runs. */
  async rest(): Promise<RestSeen> {
    const seen = this.seen ?? (await this.sources());
    const claimed = new Set(this.configured.map((app) => app.name));
    const unclaimed = Object.keys(seen.records.entries)
      .sort()
      .filter((name) => !claimed.has(name))
      .map((name) => rootEntry(seen.mediaRoot, name, seen.records));
    return { unclaimed, leftovers: seen.mediaRootExists && tracesIn(seen.mediaRoot) ? 1 : 0 };
  }

  private async turn(): Promise<void> {
    const due = this.takeTurn();
    if (due) await due;
  }
}

/** A whole look at once, every app's facts held (a plan of the whole run: tests, the property test). */
export async function probe(
  projectRoot: string,
  mediaRoot: string,
  apps: readonly App[],
  options: ProbeOptions,
): Promise<ProbeResult> {
  const look = new Probe(projectRoot, mediaRoot, apps, options);
  const { apps: _sources, ...root } = await look.sources();
  const facts: AppFacts[] = [];
  for await (const fact of look.apps()) facts.push(fact);
  return { ...root, apps: facts, ...(await look.rest()) };
}

/**
 * A system call that failed in one app's (or entry's) look (EACCES on a folder in the middle
 * of a walk) is that app's error: the others are looked at. Anything else is thrown on, and
 * so is a race (something removed while looked at): the run looks again.
 */
function asUnreadable(error: unknown): SystemError {
  if (!isSystemError(error) || vanished(error)) throw error;
  return error;
}

async function appFacts(
  app: App,
  source: SourceFacts,
  root: RootSeen,
  before: AppFacts | undefined,
  options: ProbeOptions,
  projectRoot: string,
): Promise<AppFacts> {
  const { mediaRoot } = root;
  const record = root.records.entries[app.name];
  // The names a copy's record lists, per folder: what its stamped folders hold, and what the source's
  // folders held when their ctimes were taken (made once, for both walks).
  let listing: Map<string, Map<string, 'file' | 'dir'>> | undefined;
  const listingOf = (copy: CopyRecord): Map<string, Map<string, 'file' | 'dir'>> => (listing ??= recordedListing(copy));
  const looked: Looked = root.mediaRootExists
    ? entryWithTree(path.join(mediaRoot, app.name), () => true, record, listingOf)
    : { entry: { kind: 'missing' } };
  const { entry } = looked;
  const result: AppFacts = { app, source, entry };
  const wantsSource = options.walk === 'all' || entry.kind === 'dir';
  if (source.kind === 'dir' && wantsSource) {
    // Only a record of this very media folder: another folder (the app's mediaDirname changed) may
    // have the same ctime (made in the same clock tick) and other names.
    const known =
      record?.kind === 'copy' &&
      record.sourceStamps &&
      entry.kind === 'dir' &&
      record.source === recordedSourceOf(projectRoot, app.mediaDir)
        ? { stamps: record.sourceStamps, listing: listingOf(record) }
        : undefined;
    result.sourceTree =
      before?.sourceTree ??
      walkTreeSync(app.mediaDir, {
        ignore: options.ignore,
        followInternalLinks: true,
        ...(source.real ? { realRoot: source.real } : {}),
        sourceStamps: known ? { known } : {},
      });
  }
  if (looked.tree) result.entryTree = looked.tree;
  if (options.checksum && result.sourceTree && result.entryTree)
    await hashPairs(app.mediaDir, path.join(mediaRoot, app.name), result.sourceTree, result.entryTree);
  if (options.published) {
    // A copy with no links in it publishes just what its walk saw: no second walk.
    if (entry.kind === 'dir' && result.entryTree && result.entryTree.skipped.length === 0) {
      result.publishedTree = result.entryTree;
    } else {
      const served =
        entry.kind === 'symlink' ? entry.resolved : entry.kind === 'dir' ? path.join(mediaRoot, app.name) : null;
      const tree = served ? servedTree(served) : undefined;
      if (tree) result.publishedTree = tree;
    }
  }
  return result;
}

/**
 * What mediaRoot/<name>/ serves, walked; undefined when it went away meanwhile. A folder in it
 * that cannot be read is thrown on, to be the app's error: verify cannot vouch for what it did
 * not see (it would otherwise say `ok` without looking for escapes and exposed files there).
 */
function servedTree(served: string): TreeFacts | undefined {
  try {
    return walkTreeSync(served, { followInternalLinks: true });
  } catch (error) {
    if (vanished(error)) return undefined;
    throw error;
  }
}

/**
 * Whether mediaRoot holds what another run left (its lock, or the leftovers of a run killed): the run then takes the
 * lock and sweeps.
 */
function tracesIn(mediaRoot: string): boolean {
  let names: string[];
  try {
    names = readdirSync(mediaRoot);
  } catch {
    return false;
  }
  return hasTraces(names, mediaRoot);
}

/** Every entry of mediaRoot (but the tool's own files), for clean. */
export function probeMediaRoot(
  mediaRoot: string,
  trust: RecordsTrust,
): { realMediaRoot: string; mediaRootExists: boolean; records: Records; entries: RootEntry[]; leftovers: number } {
  const realMediaRoot = realpathOfPath(mediaRoot);
  let names: string[];
  try {
    names = readdirSync(mediaRoot);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    return { realMediaRoot, mediaRootExists: false, records: emptyRecords(), entries: [], leftovers: 0 };
  }
  const records = readRecords(mediaRoot, trust);
  // Names the tool reserves for itself (records, lock, temporary and kept names) all start with
  // `.app-media`; an app name never starts with a dot.
  const listed = new Set(names.filter((name) => !name.startsWith('.app-media')));
  // A record whose entry is gone still shows, so clean can drop it.
  for (const name of Object.keys(records.entries)) listed.add(name);
  const entries = [...listed].sort().map((name) => rootEntry(mediaRoot, name, records));
  return { realMediaRoot, mediaRootExists: true, records, entries, leftovers: hasTraces(names, mediaRoot) ? 1 : 0 };
}

function rootEntry(mediaRoot: string, name: string, records: Records): RootEntry {
  let looked: Looked;
  try {
    looked = entryWithTree(path.join(mediaRoot, name), () => records.entries[name]?.kind === 'copy');
  } catch (error) {
    return { name, entry: { kind: 'other' }, unreadable: asUnreadable(error) };
  }
  const result: RootEntry = { name, entry: looked.entry };
  if (looked.tree) result.tree = looked.tree;
  return result;
}

interface Looked {
  entry: EntryFacts;
  tree?: TreeFacts;
}

/**
 * An entry of mediaRoot and, if it is a folder and `wantTree()`, its walk. An entry that
 * another run removes (or replaces) while it is looked at is looked at again: the first
 * look is taken without the lock, so it may meet a run at work.
 */
function entryWithTree(
  full: string,
  wantTree: () => boolean,
  record?: OwnRecord,
  listingOf: (copy: CopyRecord) => ReadonlyMap<string, ReadonlyMap<string, 'file' | 'dir'>> = recordedListing,
): Looked {
  return lookAgainOnRace(() => {
    const stat = lstatOrUndefined(full);
    if (!stat) return { entry: { kind: 'missing' } };
    const id = { dev: stat.dev, ino: stat.ino };
    if (stat.isSymbolicLink()) {
      const linkText = readlinkSync(full);
      let resolved: string | null;
      try {
        resolved = realpathSync.native(full);
      } catch {
        resolved = null; // dangling, or a loop
      }
      return { entry: { kind: 'symlink', linkText, resolved, id } };
    }
    if (stat.isDirectory()) {
      // Windows junctions show up as links through lstat in Node; a plain folder is a folder.
      if (!wantTree()) return { entry: { kind: 'dir', empty: readdirSync(full).length === 0, id } };
      // A copy whose record has folder stamps: folders still stamped need no listing (core/fs/stamp.ts).
      const known =
        record?.kind === 'copy' && record.stamps
          ? { stamps: record.stamps, listing: listingOf(record), rootMtimeMs: stat.mtimeMs }
          : undefined;
      const tree = walkTreeSync(full, known ? { known } : {});
      return { entry: { kind: 'dir', empty: isEmptyTree(tree), id }, tree };
    }
    return { entry: { kind: stat.isFile() ? 'file' : 'other' } };
  });
}

/** Runs a look, and again (up to three times in all) when it met a change in progress. */
function lookAgainOnRace<T>(look: () => T): T {
  for (let attempt = 0; ; attempt++) {
    try {
      return look();
    } catch (error) {
      if (!vanished(error) || attempt >= 2) throw error;
    }
  }
}
