/**
 * Looks at the file system and records what is there, for the planner:
 * each app's media folder, each entry in mediaRoot, the ownership records.
 * Read-only.
 */
import { createHash } from 'node:crypto';
import { closeSync, constants, createReadStream, fstatSync, lstatSync, openSync, readdirSync, readlinkSync, realpathSync, statSync } from 'node:fs';
import path from 'node:path';
import pMap from 'p-map';
import type { App } from '../core/discover.js';
import type { FolderId } from '../core/fs/folder.js';
import { readRecords, type RecordsTrust } from '../core/fs/records-file.js';
import { realPaths, realpathOfPath, type RealPathOf } from '../core/fs/real-paths.js';
import { lstatOrUndefined, vanished } from '../core/fs/look.js';
import { hasTraces } from '../core/fs/sweep.js';
import { isEmptyTree, isInside, walkTreeSync, type TreeFacts } from '../core/fs/walk.js';
import { emptyManifest, recordedListing, type Manifest, type OwnRecord } from '../core/records.js';
import { isSystemError, type SystemError } from '../core/system-errors.js';
import { nearest } from '../core/util/nearest.js';
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

export interface SourceFacts {
  /** `escape`: the media folder resolves outside its app's folder (it is, or passes through, a link leading out). */
  kind: 'dir' | 'missing' | 'not-dir' | 'escape';
  real?: string;
  /** The folder's device and inode as the probe saw them: a new link is checked against them. */
  id?: FolderId;
  /** A folder that looks like a misnamed media folder, with the fix. */
  misnamed?: { found: string; fix: string };
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

export interface ProbeResult {
  mediaRoot: string;
  /** mediaRoot with every link resolved (for what exists of it). */
  realMediaRoot: string;
  realProjectRoot: string;
  mediaRootExists: boolean;
  manifest: Manifest;
  apps: AppFacts[];
  /**
   * Every app's media folder as this look saw it, even when it `stopped` before looking at
   * their entries: the look taken again under the lock reuses them (`previous`).
   */
  sources?: ReadonlyArray<Pick<AppFacts, 'app' | 'source'>>;
  /** Entries in mediaRoot that the manifest records but no configured app claims. */
  unclaimed: RootEntry[];
  /** Traces of another run: its lock, or temporary files (in progress, or left by a crash to be swept). */
  leftovers: number;
  /** The look was ended early (`onApp` said `stop`): `apps` holds only the apps up to there. */
  stopped?: boolean;
}

/** What the look at the records file needs: who may have written it, how to name it. */
export type { RecordsTrust };

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
  /** An earlier look of the same run, whose source facts (and walks) are reused. */
  previous?: ProbeResult;
  /**
   * Called once every app's media folder has been looked at, before any entry of mediaRoot
   * is: the refusals (guards.ts) come before anything else is looked at or touched.
   */
  onSources?: (seen: SourcesSeen) => void;
  /**
   * Called with each app's facts as soon as they are gathered, so the caller can plan (or
   * check) that app at once. `forget-trees` lets go of its walks (nothing will use them),
   * `stop` ends the look there: the result then holds the apps up to this one (`stopped`).
   * Only the walks of one app at a time are then held, not a thousand apps' (bench/).
   */
  onApp?: (facts: AppFacts, seen: RootSeen) => AppVerdict;
}

export type AppVerdict = 'keep' | 'forget-trees' | 'stop';

/** What the probe knows of mediaRoot and the project before looking at any app's entry. */
export type RootSeen = Pick<ProbeResult, 'mediaRoot' | 'realMediaRoot' | 'realProjectRoot' | 'mediaRootExists' | 'manifest'>;

export interface SourcesSeen extends RootSeen {
  apps: ReadonlyArray<Pick<AppFacts, 'app' | 'source'>>;
}

export async function probe(projectRoot: string, mediaRoot: string, apps: App[], options: ProbeOptions): Promise<ProbeResult> {
  const mediaRootExists = lstatOrUndefined(mediaRoot) !== undefined;
  const realMediaRoot = realpathOfPath(mediaRoot);
  const realProjectRoot = realpathOfPath(projectRoot);
  const manifest = mediaRootExists ? readRecords(mediaRoot, options.trust) : emptyManifest();

  // The look taken again under the lock reuses the sources' facts: the lock guards mediaRoot,
  // and the sources may change at any time either way. All of them, also those of apps a first
  // look that stopped early did not get to (a first link of 1,000 apps saves 3,000 lstat calls).
  // Their walks only without --checksum: hashes are per look.
  const earlier = new Map((options.checksum ? [] : options.previous?.apps ?? []).map((fact) => [fact.app, fact]));
  const earlierSources = new Map((options.previous?.sources ?? options.previous?.apps ?? []).map((seen) => [seen.app, seen.source]));
  // One app after another with synchronous calls: on a local disk a look is a few system calls
  // and thousands of small promises cost more than the calls (bench/). The event loop gets a
  // turn every few dozen milliseconds, so other tasks of a gulp process are not held up.
  // The media folders' real paths share the project's: it is resolved once, not per app.
  const realOf = realPaths([[path.resolve(projectRoot), realProjectRoot]]);
  const takeTurn = turnTaker();
  const root: RootSeen = { mediaRoot, realMediaRoot, realProjectRoot, mediaRootExists, manifest };
  // Every app's media folder first: the refusals need them all, before any entry is looked at.
  const sources: Array<Pick<AppFacts, 'app' | 'source'>> = [];
  for (const app of apps) {
    sources.push({ app, source: earlierSources.get(app) ?? sourceFacts(app, realOf) });
    const due = takeTurn();
    if (due) await due;
  }
  options.onSources?.({ ...root, apps: sources });
  const facts: AppFacts[] = [];
  let stopped = false;
  for (const { app, source } of sources) {
    const fact = await appFacts(app, source, mediaRoot, mediaRootExists, earlier.get(app), manifest.entries[app.name], options)
      .catch((error: unknown): AppFacts => ({ app, source, entry: { kind: 'other' }, unreadable: asUnreadable(error) }));
    facts.push(fact);
    const verdict = options.onApp?.(fact, root) ?? 'keep';
    if (verdict === 'stop') {
      stopped = true;
      break;
    }
    if (verdict === 'forget-trees') forgetTrees(fact);
    const due = takeTurn();
    if (due) await due;
  }

  const claimed = new Set(apps.map((app) => app.name));
  const unclaimed: ProbeResult['unclaimed'] = [];
  for (const name of Object.keys(manifest.entries).sort()) {
    if (claimed.has(name)) continue;
    unclaimed.push(rootEntry(mediaRoot, name, manifest));
  }
  const leftovers = mediaRootExists && tracesIn(mediaRoot) ? 1 : 0;
  return { ...root, apps: facts, sources, unclaimed, leftovers, ...(stopped ? { stopped } : {}) };
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

/** An app's walks let go (its plan or finding is made and needs them no more). */
function forgetTrees(facts: AppFacts): void {
  delete facts.sourceTree;
  delete facts.entryTree;
  delete facts.publishedTree;
}

async function appFacts(app: App, source: SourceFacts, mediaRoot: string, mediaRootExists: boolean, before: AppFacts | undefined,
  record: OwnRecord | undefined, options: ProbeOptions): Promise<AppFacts> {
  const looked: Looked = mediaRootExists ? entryWithTree(path.join(mediaRoot, app.name), () => true, record) : { entry: { kind: 'missing' } };
  const { entry } = looked;
  const result: AppFacts = { app, source, entry };
  const wantsSource = options.walk === 'all' || entry.kind === 'dir';
  if (source.kind === 'dir' && wantsSource) {
    result.sourceTree = before?.sourceTree
      ?? walkTreeSync(app.mediaDir, { ignore: options.ignore, followInternalLinks: true, ...(source.real ? { realRoot: source.real } : {}) });
  }
  if (looked.tree) result.entryTree = looked.tree;
  if (options.checksum && result.sourceTree && result.entryTree) await hashPairs(app.mediaDir, path.join(mediaRoot, app.name), result.sourceTree, result.entryTree);
  if (options.published) {
    // A copy with no links in it publishes just what its walk saw: no second walk.
    if (entry.kind === 'dir' && result.entryTree && result.entryTree.skipped.length === 0) {
      result.publishedTree = result.entryTree;
    } else {
      const served = entry.kind === 'symlink' ? entry.resolved : entry.kind === 'dir' ? path.join(mediaRoot, app.name) : null;
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

/** Whether mediaRoot holds what another run left (its lock, or the leftovers of a run killed): the run then takes the lock and sweeps. */
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
export function probeMediaRoot(mediaRoot: string, trust: RecordsTrust): { realMediaRoot: string; mediaRootExists: boolean; manifest: Manifest; entries: RootEntry[]; leftovers: number } {
  const realMediaRoot = realpathOfPath(mediaRoot);
  let names: string[];
  try {
    names = readdirSync(mediaRoot);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    return { realMediaRoot, mediaRootExists: false, manifest: emptyManifest(), entries: [], leftovers: 0 };
  }
  const manifest = readRecords(mediaRoot, trust);
  // Names the tool reserves for itself (records, lock, temporary and kept names) all start with
  // `.app-media`; an app name never starts with a dot.
  const listed = new Set(names.filter((name) => !name.startsWith('.app-media')));
  // A record whose entry is gone still shows, so clean can drop it.
  for (const name of Object.keys(manifest.entries)) listed.add(name);
  const entries = [...listed].sort().map((name) => rootEntry(mediaRoot, name, manifest));
  return { realMediaRoot, mediaRootExists: true, manifest, entries, leftovers: hasTraces(names, mediaRoot) ? 1 : 0 };
}

function rootEntry(mediaRoot: string, name: string, manifest: Manifest): RootEntry {
  let looked: Looked;
  try {
    looked = entryWithTree(path.join(mediaRoot, name), () => manifest.entries[name]?.kind === 'copy');
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
function entryWithTree(full: string, wantTree: () => boolean, record?: OwnRecord): Looked {
  return lookAgainOnRace(() => {
    const stat = lstatOrUndefined(full);
    if (!stat) return { entry: { kind: 'missing' } };
    const id = { dev: stat.dev, ino: stat.ino };
    if (stat.isSymbolicLink()) {
      const linkText = readlinkSync(full);
      let resolved: string | null = null;
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
      const known = record?.kind === 'copy' && record.stamps ? { stamps: record.stamps, listing: recordedListing(record), rootMtimeMs: stat.mtimeMs } : undefined;
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

/** Hashes the files both trees hold with one size (a different size already means different contents). */
async function hashPairs(sourceDir: string, entryDir: string, source: TreeFacts, entry: TreeFacts): Promise<void> {
  const pairs = [...source.files].filter(([rel, facts]) => entry.files.get(rel)?.size === facts.size);
  await pMap(pairs, async ([rel, facts]) => {
    const copy = entry.files.get(rel);
    if (!copy) return;
    const real = source.links?.get(rel) ?? path.join(sourceDir, ...rel.split('/'));
    [facts.hash, copy.hash] = await Promise.all([hashFile(real), hashFile(path.join(entryDir, ...rel.split('/')))]);
  }, { concurrency: 8 });
}

/**
 * The SHA-256 of a regular file's contents, opened without following a link and without blocking;
 * anything else (a link, a FIFO put there since the walk) hashes to a mark no file matches.
 */
async function hashFile(file: string): Promise<string> {
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ELOOP' || code === 'ENXIO') return 'not-a-file';
    throw error;
  }
  if (!fstatSync(fd).isFile()) {
    closeSync(fd);
    return 'not-a-file';
  }
  const hash = createHash('sha256');
  for await (const chunk of createReadStream('', { fd })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/**
 * An app's media folder as a run may use it: a plain folder (its real path and identity), missing,
 * not a folder, or `escape` when it resolves outside its app's folder. Collect asks the same.
 */
export function sourceFacts(app: App, realOf: RealPathOf): SourceFacts {
  try {
    // lstat first: a plain folder (the common case) needs no second look; a link is followed.
    const own = lstatSync(app.mediaDir);
    const stat = own.isSymbolicLink() ? statSync(app.mediaDir) : own;
    if (!stat.isDirectory()) return { kind: 'not-dir' };
    const real = realOf(app.mediaDir, own);
    // A media folder that is (or passes through) a link leading out of its app's folder would
    // publish whatever it leads to: refused, whoever made the link.
    if (!isInside(realOf(app.appDir), real)) return { kind: 'escape', real };
    return { kind: 'dir', real, id: { dev: stat.dev, ino: stat.ino } };
  } catch {
    const misnamed = findMisnaming(app);
    return misnamed ? { kind: 'missing', misnamed } : { kind: 'missing' };
  }
}

const MEDIA_LIKE = ['app_media', 'app-media', 'appmedia', 'media', 'static', 'assets', 'public'];

/**
 * When `<mediaDirname>/<name>/` is missing, look for the folder the author probably meant.
 * Synchronous, like the rest of an app's look: a project of 10,000 apps without media spent
 * half of a run waiting for 10,000 promised listings (hostile.test.ts).
 */
function findMisnaming(app: App): SourceFacts['misnamed'] {
  const mediaParent = path.join(app.appDir, app.mediaDirname);
  const inMedia = subfolders(mediaParent);
  if (inMedia) {
    // Files, or only folders such as css/ and js/, right in the media folder: the <name>/ level was forgotten.
    const content = inMedia.filter((dir) => CONTENT_LIKE.includes(dir.toLowerCase()));
    if (nearest(app.name, inMedia) === undefined && (content.length > 0 || hasFiles(mediaParent))) {
      return {
        found: `${app.mediaDirname}/${content[0] ?? inMedia[0] ?? ''}`.replace(/\/$/, '/ holding files'),
        fix: `the files must sit one level deeper, in ${app.mediaDirname}/${app.name}/ (the <name>/ folder is part of their URL): move them into it`,
      };
    }
    const close = nearest(app.name, inMedia) ?? (inMedia.length === 1 ? inMedia[0] : undefined);
    if (close) {
      return {
        found: `${app.mediaDirname}/${close}`,
        fix: `rename it to ${app.mediaDirname}/${app.name}/, or give the app "name": "${close}"`,
      };
    }
    return undefined;
  }
  const inApp = subfolders(app.appDir);
  for (const candidate of inApp ?? []) {
    if (!MEDIA_LIKE.includes(candidate.toLowerCase()) && nearest(candidate, [app.mediaDirname]) === undefined) continue;
    const inside = subfolders(path.join(app.appDir, candidate));
    if (inside?.includes(app.name)) {
      return {
        found: `${candidate}/${app.name}`,
        fix: `set "mediaDirname": "${candidate}" for this app (in its apps entry or its package.json "appMedia"), or rename the folder to ${app.mediaDirname}/`,
      };
    }
  }
  return undefined;
}

/** Folder names that hold media, not an app's name. */
const CONTENT_LIKE = ['css', 'js', 'img', 'images', 'image', 'fonts', 'font', 'icons', 'scripts', 'styles', 'svg', 'media', 'assets', 'static', 'dist', 'vendor'];

function hasFiles(dir: string): boolean {
  try {
    return readdirSync(dir, { withFileTypes: true }).some((entry) => entry.isFile());
  } catch {
    return false;
  }
}

function subfolders(dir: string): string[] | undefined {
  try {
    const entries = readdirSync(dir, { withFileTypes: true });
    return entries.filter((entry) => entry.isDirectory()).map((entry) => entry.name).sort();
  } catch {
    return undefined;
  }
}
