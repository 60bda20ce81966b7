/**
 * Making directory links on paths the plan has proven free, and checking the result. The links are
 * made by vinyl-fs's `symlink()` (the same function as `gulp.symlink`), fed Vinyl objects whose
 * `symlink` is the exact text the planner computed (relative or absolute): vinyl-fs 4 writes a
 * preset `file.symlink` as it is, so its relative-link base (vinyl-fs #321) never comes into play.
 * The output folder is mediaRoot's open folder (`/proc/self/fd/<fd>` where the system allows it,
 * fs/folder.ts). `overwrite: false`, never `true` (which unlinks what is in the way): vinyl-fs then
 * uses the `wx` flags and reports success when the path was taken (EEXIST), so every link is read
 * back afterwards (checkLink): an EEXIST swallowed there is a conflict, never a link made.
 *
 * vinyl-fs is loaded on the first link a run makes: a run with nothing to link never loads it.
 */
import { readlinkSync, realpathSync, statSync, type Stats } from 'node:fs';
import path from 'node:path';
import type { Writable } from 'node:stream';
import { sameFolder, type Folder, type FolderId } from './folder.js';
import { isInside } from './walk.js';

export type { FolderId };

/** Errors that mean "this file system or account does not make links", so a fallback may take over. */
const REFUSALS = new Set(['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS', 'EXDEV', 'EINVAL']);

export function isLinkRefusal(error: unknown): error is NodeJS.ErrnoException {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return typeof code === 'string' && REFUSALS.has(code);
}

export interface MakeLinkOptions {
  kind: 'symlink' | 'junction';
  name: string;
  /** The link text to write: relative or absolute as planned (a junction's is always absolute). */
  text: string;
}

type VinylFs = typeof import('vinyl-fs');
type VinylClass = typeof import('vinyl');

/** A vinyl-fs stream and the links written to it, in the order it makes them. */
interface Lane {
  stream: Writable;
  waiting: Array<{ name: string; done: (error?: Error) => void }>;
}

/**
 * How many vinyl-fs streams make a run's links side by side. A stream makes its links one after
 * another, each a few round trips to libuv's thread pool (a `stat` of the folder, the `symlink`),
 * so one stream leaves the pool's four threads mostly idle; four keep them busy.
 */
const LANES = 4;

/**
 * vinyl-fs `symlink()` streams for the links a run makes in mediaRoot, a few side by side (a new
 * one after a failure, which ends a stream). Links are written to them in turn, in plan order, and
 * each is awaited in its app's turn: a refusal (a file system that makes no links refuses every
 * one) fails the links waiting on its stream and decides the fallback of the apps after it. The
 * first link queued is made before the others are written, so a refused first link leaves the
 * rest unwritten; each link made is still read back before it counts.
 */
export class LinkMaker {
  private loaded: Promise<{ vfs: VinylFs; Vinyl: VinylClass }> | undefined;
  private lanes = new Map<MakeLinkOptions['kind'], Array<Lane | undefined>>();
  private written = 0;

  constructor(private readonly folder: Folder) {}

  /** Links written by `queue()`: true once made, false when left unwritten (their `make()` writes them). */
  private readonly queued = new Map<string, Promise<boolean>>();

  /**
   * Writes these links into the streams without waiting for each: the streams make them side by
   * side, and `make()` of each then gets its result. (Awaited one by one, every link waits for a
   * stream's round trips before the next is written.) The first is made alone: only once it is
   * made are the rest written, so a file system that refuses links refuses one, and the apps after
   * it choose their fallback in their own turn (their `make()` then writes whatever they ask for).
   */
  queue(links: readonly MakeLinkOptions[]): void {
    const [first, ...rest] = links;
    if (!first) return;
    const firstMade = this.write(first);
    this.hold(
      first,
      firstMade.then(() => true),
    );
    const opened = firstMade.then(
      () => true,
      () => false,
    );
    for (const link of rest)
      this.hold(
        link,
        opened.then(async (open) => {
          if (!open) return false;
          await this.write(link);
          return true;
        }),
      );
  }

  private hold(link: MakeLinkOptions, made: Promise<boolean>): void {
    made.catch(() => undefined); // its failure is told to make(), which awaits it
    this.queued.set(keyOf(link), made);
  }

  /** Whether `make()` of this link would take a result queued earlier. */
  isQueued(options: MakeLinkOptions): boolean {
    return this.queued.has(keyOf(options));
  }

  async make(options: MakeLinkOptions): Promise<void> {
    const key = keyOf(options);
    const queued = this.queued.get(key);
    if (queued) {
      this.queued.delete(key);
      if (await queued) return;
    }
    await this.write(options);
  }

  private async write(options: MakeLinkOptions): Promise<void> {
    const { vfs, Vinyl } = await (this.loaded ??= load());
    const lane = this.laneFor(options.kind, vfs);
    const here = this.folder.here();
    const file = new Vinyl({ cwd: here, base: here, path: path.join(here, options.name), stat: directoryStats() });
    file.symlink = options.text;
    await new Promise<void>((resolve, reject) => {
      lane.waiting.push({ name: options.name, done: (error) => (error ? reject(error) : resolve()) });
      lane.stream.write(file);
    });
  }

  /** Ends the streams (nothing is waiting on them by then). */
  close(): void {
    for (const lanes of this.lanes.values()) for (const lane of lanes) lane?.stream.end();
    this.lanes.clear();
  }

  /** The next lane in turn for this kind of link, its stream made when it has none (or its last one failed). */
  private laneFor(kind: MakeLinkOptions['kind'], vfs: VinylFs): Lane {
    let lanes = this.lanes.get(kind);
    if (!lanes) this.lanes.set(kind, (lanes = new Array<Lane | undefined>(LANES).fill(undefined)));
    const at = this.written++ % LANES;
    const known = lanes[at];
    if (known) return known;
    const stream = vfs.symlink(this.folder.here(), {
      overwrite: false,
      relativeSymlinks: false,
      // Ignored off Windows; there, a junction is the fallback when directory links are refused.
      useJunctions: kind === 'junction',
    }) as unknown as Writable;
    const lane: Lane = { stream, waiting: [] };
    stream.on('data', () => lane.waiting.shift()?.done());
    stream.on('error', (error: Error) => {
      // A failed link ends its stream: the links waiting on it fail, the next one written gets a new stream.
      if (lanes[at] === lane) lanes[at] = undefined;
      for (const waiting of lane.waiting.splice(0)) waiting.done(error);
    });
    lanes[at] = lane;
    return lane;
  }
}

function keyOf(link: MakeLinkOptions): string {
  return `${link.kind}\0${link.name}\0${link.text}`;
}

async function load(): Promise<{ vfs: VinylFs; Vinyl: VinylClass }> {
  const [vfs, vinyl] = await Promise.all([import('vinyl-fs'), import('vinyl')]);
  return {
    vfs: (vfs as { default?: VinylFs }).default ?? vfs,
    Vinyl: (vinyl as { default?: VinylClass }).default ?? (vinyl as unknown as VinylClass),
  };
}

/**
 * The stats of a folder, for the Vinyl object of a directory link (vinyl-fs picks a link's type on Windows from them).
 */
function directoryStats(): Stats {
  return { isDirectory: () => true, isFile: () => false, isSymbolicLink: () => false } as unknown as Stats;
}

export type LinkCheck = { ok: true } | { ok: false; why: string };

/**
 * After making a link: it is the link asked for (its text read back: vinyl-fs reports success
 * when the path was already taken), it resolves, and to the app's media folder. One `stat`
 * through the link, compared by device and inode with the folder as the probe saw it (`seen`);
 * only when they differ is the folder looked at again (it may have been replaced since), and the
 * link's real path computed to say where it leads.
 */
export function checkLink(
  folder: Folder,
  name: string,
  text: string,
  expectedDir: string,
  appDir: string,
  seen: FolderId | undefined,
): LinkCheck {
  let written: string | undefined;
  try {
    written = readlinkSync(folder.at(name));
  } catch {
    written = undefined;
  }
  // Not a link at all: the path was taken (vinyl-fs reported the EEXIST as success).
  if (written === undefined) return { ok: false, why: `${name} appeared while it was being linked` };
  let led: Stats;
  try {
    led = statSync(folder.at(name));
  } catch {
    return { ok: false, why: 'the new link does not resolve' };
  }
  let leadsRight = sameFolder(led, seen);
  if (!leadsRight) {
    // The media folder was replaced since the look: the link may lead to the new one, if it is the
    // app's own (not a link out of the app put there meanwhile).
    try {
      leadsRight =
        sameFolder(led, statSync(expectedDir)) &&
        isInside(realpathSync.native(appDir), realpathSync.native(expectedDir));
    } catch {
      // the app's folder is gone meanwhile: the link cannot lead there
    }
  }
  if (!leadsRight) {
    let real = '(unknown)';
    try {
      real = realpathSync.native(folder.at(name));
    } catch {
      // gone meanwhile: still not the app's folder
    }
    return { ok: false, why: `the new link resolves to ${real}, not to the app's media folder` };
  }
  // A link with another text, leading to the right place: someone else's, made just before ours.
  if (written !== text)
    return { ok: false, why: `${name} appeared while it was being linked (a link with another text)` };
  return { ok: true };
}
