/**
 * The floors: the least a program could do for each job, written plainly with
 * node:fs and nothing else, timed in the same run as the tool.
 */
import { copyFileSync, lstatSync, mkdirSync, promises as fs, readdirSync, symlinkSync } from 'node:fs';
import path from 'node:path';
import type { Project } from './generate.js';
import { pool } from './measure.js';

/** `fs.copyFile` calls in flight at once (the tool itself copies with the sync calls, see copyFilesSync). */
export const COPY_CONCURRENCY = 8;
/**
 * Walks in flight at once in the floor below (the tool's probe looks at one app at a time, with synchronous calls:
 * src/link/probe.ts).
 */
const WALK_CONCURRENCY = 16;

/** One `fs.symlink` per app, awaited in turn, into a fresh folder. */
export async function symlinkLoop(project: Project, into: string): Promise<void> {
  await fs.mkdir(into, { recursive: true });
  for (const app of project.apps) {
    await fs.symlink(path.join(project.root, app.mediaDir), path.join(into, app.name));
  }
}

/** The same loop with `fs.symlinkSync`. */
export function symlinkLoopSync(project: Project, into: string): void {
  mkdirSync(into, { recursive: true });
  for (const app of project.apps) symlinkSync(path.join(project.root, app.mediaDir), path.join(into, app.name));
}

type VinylFs = typeof import('vinyl-fs');
type VinylClass = typeof import('vinyl');

/** vinyl-fs and vinyl, loaded before anything is timed (the tool loads them on its first link). */
export async function loadVinyl(): Promise<{ vfs: VinylFs; Vinyl: VinylClass }> {
  const [vfs, vinyl] = await Promise.all([import('vinyl-fs'), import('vinyl')]);
  return {
    vfs: (vfs as { default?: VinylFs }).default ?? vfs,
    Vinyl: (vinyl as { default?: VinylClass }).default ?? (vinyl as unknown as VinylClass),
  };
}

/** Streams side by side, as the tool makes its links (src/core/fs/link.ts). */
const VINYL_LANES = 4;

/**
 * The same links made through vinyl-fs's `symlink()` (what the tool must use), fed in turn to 4 streams, with the
 * link text preset, and nothing else: no look before, no read-back after, no records. What the required way of making
 * links costs on its own (for comparison; the target's floor stays the plain loop).
 */
export async function vinylLoop(
  project: Project,
  into: string,
  vinyl: Awaited<ReturnType<typeof loadVinyl>>,
): Promise<void> {
  mkdirSync(into, { recursive: true });
  const lanes = Array.from({ length: VINYL_LANES }, () => {
    const stream = vinyl.vfs.symlink(into, { overwrite: false, relativeSymlinks: false });
    const waiting: Array<{ resolve: () => void; reject: (error: Error) => void }> = [];
    stream.on('data', () => waiting.shift()?.resolve());
    stream.on('error', (error: Error) => {
      for (const one of waiting.splice(0)) one.reject(error);
    });
    return { stream, waiting };
  });
  const made: Array<Promise<void>> = [];
  project.apps.forEach((app, at) => {
    const lane = lanes[at % VINYL_LANES] as (typeof lanes)[number];
    const file = new vinyl.Vinyl({ cwd: into, base: into, path: path.join(into, app.name) });
    file.symlink = path.join(project.root, app.mediaDir);
    made.push(
      new Promise<void>((resolve, reject) => {
        lane.waiting.push({ resolve, reject });
        lane.stream.write(file);
      }),
    );
  });
  await Promise.all(made);
  for (const lane of lanes) lane.stream.end();
}

/**
 * Every app's folders made, then `fs.copyFile` per file, 8 at a time. The file
 * list is known up front: no walk, no mode or mtime kept, no temporary names.
 */
export async function copyFiles(project: Project, into: string): Promise<void> {
  const jobs: Array<[string, string]> = [];
  for (const app of project.apps) {
    const dest = path.join(into, app.name);
    await fs.mkdir(dest, { recursive: true });
    for (const dir of app.dirs) await fs.mkdir(path.join(dest, dir));
    const source = path.join(project.root, app.mediaDir);
    for (const file of app.files) jobs.push([path.join(source, file.rel), path.join(dest, file.rel)]);
  }
  await pool(jobs, COPY_CONCURRENCY, ([from, to]) => fs.copyFile(from, to));
}

/** The same with `fs.copyFileSync`, one file after another (as the tool copies files up to 512 KiB). */
export function copyFilesSync(project: Project, into: string): void {
  for (const app of project.apps) {
    const dest = path.join(into, app.name);
    mkdirSync(dest, { recursive: true });
    for (const dir of app.dirs) mkdirSync(path.join(dest, dir));
    const source = path.join(project.root, app.mediaDir);
    for (const file of app.files) copyFileSync(path.join(source, file.rel), path.join(dest, file.rel));
  }
}

export interface WalkResult {
  files: number;
  /** Files whose size or mtime differ between source and copy. */
  differ: number;
}

/**
 * Walks each app's media folder (readdir with file types), stats each file in
 * the source and in the copy under `copyRoot/<name>/`, and compares size and
 * mtime. Apps 16 at a time, the entries of a folder all at once (like the tool).
 */
export async function statWalk(project: Project, copyRoot: string): Promise<WalkResult> {
  const result: WalkResult = { files: 0, differ: 0 };
  const visit = async (source: string, copy: string): Promise<void> => {
    const entries = await fs.readdir(source, { withFileTypes: true });
    await Promise.all(
      entries.map(async (entry) => {
        const from = path.join(source, entry.name);
        const to = path.join(copy, entry.name);
        if (entry.isDirectory()) return visit(from, to);
        const [a, b] = await Promise.all([fs.lstat(from), fs.lstat(to)]);
        result.files++;
        if (a.size !== b.size || Math.abs(a.mtimeMs - b.mtimeMs) >= 1) result.differ++;
      }),
    );
  };
  await pool(project.apps, WALK_CONCURRENCY, (app) =>
    visit(path.join(project.root, app.mediaDir), path.join(copyRoot, app.name)),
  );
  return result;
}

/**
 * The same walk with the synchronous calls, one file after another. With `listCopy`
 * it also lists every folder of the copy (`readdirSync`) and counts names the source
 * lacks: the least that finds files added to a copy by hand, which the tool must see
 * (they are kept and named, and verify reports them). That variant is no target's
 * floor: it shows what the listing costs.
 */
export function statWalkSync(project: Project, copyRoot: string, listCopy = false): WalkResult & { extra: number } {
  const result = { files: 0, differ: 0, extra: 0 };
  const visit = (source: string, copy: string): void => {
    const names = listCopy ? new Set(readdirSync(copy)) : undefined;
    for (const entry of readdirSync(source, { withFileTypes: true })) {
      names?.delete(entry.name);
      const from = path.join(source, entry.name);
      const to = path.join(copy, entry.name);
      if (entry.isDirectory()) {
        visit(from, to);
        continue;
      }
      const a = lstatSync(from);
      const b = lstatSync(to);
      result.files++;
      if (a.size !== b.size || Math.abs(a.mtimeMs - b.mtimeMs) >= 1) result.differ++;
    }
    result.extra += names?.size ?? 0;
  };
  for (const app of project.apps) visit(path.join(project.root, app.mediaDir), path.join(copyRoot, app.name));
  return result;
}
