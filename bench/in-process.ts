/**
 * In process: the programmatic API, called repeatedly on the generated
 * project, interleaved with the floors so both see the same machine state.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { clean, link, verify, type Report } from 'gulp-app-media';
import {
  copyFiles,
  copyFilesSync,
  loadVinyl,
  statWalk,
  statWalkSync,
  symlinkLoop,
  symlinkLoopSync,
  vinylLoop,
} from './floors.js';
import type { Project } from './generate.js';
import { flushDisk, remove } from './measure.js';
import { Rows, type Row } from './rows.js';

const STAT_WALKS = ['floor.walk', 'floor.walk-sync'];
/**
 * Runs that change nothing are repeated back to back within a round, at least this many times
 * (and at least SAMPLES_MIN over all rounds: huge-files has one round)...
 */
const REPEAT_MIN = 3;
const SAMPLES_MIN = 15;
/** ...and then until they took this long... */
const REPEAT_MS = 200;
/** ...or this many samples were taken. */
const REPEAT_MAX = 20;
const SYMLINK_LOOPS = ['floor.symlink', 'floor.symlink-sync'];

export function inProcessRows(): Rows {
  const rows = new Rows();
  rows.add({ id: 'link.clean', label: 'link (symlink), clean', kind: 'ours', floors: SYMLINK_LOOPS });
  rows.add({ id: 'link.rerun', label: 'link (symlink), no-change re-run', kind: 'ours', floors: STAT_WALKS });
  rows.add({ id: 'verify.link', label: 'verify (links)', kind: 'ours', floors: STAT_WALKS });
  rows.add({ id: 'clean.link', label: 'clean (links)', kind: 'ours', floors: ['floor.unlink'] });
  rows.add({ id: 'copy.clean', label: 'link (copy), clean', kind: 'ours', floors: ['floor.copy', 'floor.copy-sync'] });
  rows.add({ id: 'copy.rerun', label: 'link (copy), no-change re-run', kind: 'ours', floors: STAT_WALKS });
  rows.add({ id: 'verify.copy', label: 'verify (copies)', kind: 'ours', floors: STAT_WALKS });
  rows.add({ id: 'clean.copy', label: 'clean (copies)', kind: 'ours', floors: ['floor.rm'] });
  rows.add({
    id: 'floor.symlink',
    label: 'floor: `fs.symlink` loop, one per app (await each)',
    short: 'symlink loop',
    kind: 'floor',
  });
  rows.add({
    id: 'floor.symlink-sync',
    label: 'floor: `fs.symlinkSync` loop, one per app',
    short: 'symlinkSync loop',
    kind: 'floor',
  });
  rows.add({
    id: 'vinyl.symlink',
    label: 'for comparison: the same links through vinyl-fs `symlink()`, 4 streams as the tool, nothing else',
    short: 'bare vinyl-fs streams',
    kind: 'floor',
  });
  rows.add({ id: 'floor.unlink', label: 'floor: `fs.unlink` loop, one per app', short: 'unlink loop', kind: 'floor' });
  rows.add({
    id: 'floor.copy',
    label: 'floor: mkdir the folders, then `fs.copyFile` per file, 8 at a time',
    short: 'copyFile ×8',
    kind: 'floor',
  });
  rows.add({
    id: 'floor.copy-sync',
    label: 'floor: the same with `fs.copyFileSync`, one file after another',
    short: 'copyFileSync loop',
    kind: 'floor',
  });
  rows.add({
    id: 'floor.walk',
    label: 'floor: stat walk (readdir, `lstat` source and copy, compare size + mtime), async',
    short: 'async stat walk',
    kind: 'floor',
  });
  rows.add({
    id: 'floor.walk-sync',
    label: 'floor: the same stat walk with the sync calls',
    short: 'sync stat walk',
    kind: 'floor',
  });
  rows.add({
    id: 'walk.listing',
    label: 'for comparison: the sync stat walk that also lists each folder of the copy (to find files added by hand)',
    short: 'walk listing the copy',
    kind: 'floor',
  });
  rows.add({ id: 'floor.rm', label: 'floor: `fs.rm` recursive of the copies', short: 'fs.rm', kind: 'floor' });
  return rows;
}

/** Fails loudly when a run did not do what is being timed. */
function expect(report: Report, status: string, count: number, what: string): void {
  const got = report.counts[status as keyof Report['counts']] ?? 0;
  if (report.failed || got !== count) {
    throw new Error(
      `${what}: expected ${count} ${status}, ` +
        `got ${JSON.stringify(report.counts)}${report.warnings.length ? ` (${report.warnings.join('; ')})` : ''}`,
    );
  }
}

export async function runInProcess(project: Project, repeats: number, log: (line: string) => void): Promise<Rows> {
  const rows = inProcessRows();
  /** Times `fn` into row `id` and hands back what it returned. */
  const measure = async <T>(id: string, fn: () => Promise<T> | T): Promise<T> => {
    const started = performance.now();
    const result = await fn();
    (rows.get(id) as Row).samples.push({ ms: performance.now() - started });
    return result;
  };
  /**
   * The same, for a run that changes nothing (a re-run, verify, a floor's walk): repeated
   * back to back, at least REPEAT_MIN times (SAMPLES_MIN over all rounds) and then until the repeats took REPEAT_MS or
   * REPEAT_MAX samples were taken, each one a sample. On a small project one of these takes a few milliseconds, and a
   * median of 5
   * (the first of them before the JIT has warmed up) measured the noise more than the code.
   */
  const least = Math.max(REPEAT_MIN, Math.ceil(SAMPLES_MIN / repeats));
  const measureRepeated = async <T>(
    id: string,
    fn: () => Promise<T> | T,
    check: (result: T) => void,
  ): Promise<void> => {
    const started = performance.now();
    for (
      let count = 0;
      count < Math.max(REPEAT_MAX, least) && (count < least || performance.now() - started < REPEAT_MS);
      count++
    )
      check(await measure(id, fn));
  };
  /** One run of those `measureInTurn` takes in turn: timed into row `id`, its result checked. */
  const turn = <T>(id: string, fn: () => Promise<T> | T, check: (result: T) => void): (() => Promise<void>) => {
    return async () => check(await measure(id, fn));
  };
  /** Like measureRepeated, for several runs taken in turn: one sample of each per pass, as many passes. */
  const measureInTurn = async (runs: Array<() => Promise<void>>): Promise<void> => {
    const started = performance.now();
    for (
      let count = 0;
      count < Math.max(REPEAT_MAX, least) && (count < least || performance.now() - started < REPEAT_MS * runs.length);
      count++
    )
      for (const run of runs) await run();
  };
  const cwd = project.root;
  const mediaRoot = path.join(project.root, 'public', 'media');
  // The floors write where the tool writes, each into a mediaRoot just removed, as the tool's
  // runs are: on ext4 the folder decides where new inodes go and how long finding a free one
  // takes after many deletions (cp -r of medium took 1.1 s into a fresh folder elsewhere in
  // /tmp and 4.2 s into the project's public/media).
  const apps = project.apps.length;
  const vinyl = await loadVinyl();
  remove(mediaRoot);
  remove(path.join(project.home, 'out')); // where earlier versions of the bench wrote

  for (let round = 1; round <= repeats; round++) {
    log(`  in process, round ${round}/${repeats}`);
    // Links. On ext4 without a journal (this /tmp), finding a free inode skips each one deleted in the last minute
    // or more (`recently_deleted`), so a run of 1000 links slows with every removal just before it: 16 ms into a
    // folder far from the others, 220-270 ms into public/media right after the bench removed it. The two loops and
    // ours are therefore taken in mirrored order, each right after the same removal (A B C D D C B A: each sits at
    // places that sum to the same), so none of them faces more removals than the others. The bare vinyl-fs
    // streams are taken among them, for comparison.
    const linkRuns: Record<string, () => Promise<void> | void> = {
      'floor.symlink': () => symlinkLoop(project, mediaRoot),
      'floor.symlink-sync': () => symlinkLoopSync(project, mediaRoot),
      'vinyl.symlink': () => vinylLoop(project, mediaRoot, vinyl),
      'link.clean': async () => expect(await link({ cwd, mode: 'symlink' }), 'linked', apps, 'link clean'),
    };
    const order = ['floor.symlink', 'floor.symlink-sync', 'vinyl.symlink', 'link.clean'];
    for (const [place, id] of [...order, ...[...order].reverse()].entries()) {
      await measure(id, linkRuns[id] as () => Promise<void> | void);
      if (place === 0) {
        await measure('floor.unlink', async () => {
          for (const app of project.apps) await fs.unlink(path.join(mediaRoot, app.name));
        });
      }
      remove(mediaRoot);
    }
    // The state the re-run and verify rows look at (not timed).
    expect(await link({ cwd, mode: 'symlink' }), 'linked', apps, 'link');
    await measureRepeated(
      'link.rerun',
      () => link({ cwd, mode: 'symlink' }),
      (report) => expect(report, 'up-to-date', apps, 'link re-run'),
    );
    await measureRepeated(
      'verify.link',
      () => verify({ cwd, mode: 'symlink' }),
      (report) => expect(report, 'ok', apps, 'verify links'),
    );
    expect(await measure('clean.link', () => clean({ cwd })), 'removed', apps, 'clean links');
    remove(mediaRoot);

    // Copies.
    flushDisk();
    await measure('floor.copy', () => copyFiles(project, mediaRoot));
    flushDisk();
    await measure('floor.rm', () => fs.rm(mediaRoot, { recursive: true, force: true }));
    remove(mediaRoot);
    flushDisk();
    await measure('floor.copy-sync', () => copyFilesSync(project, mediaRoot));
    remove(mediaRoot);
    flushDisk();

    expect(await measure('copy.clean', () => link({ cwd, mode: 'copy' })), 'copied', apps, 'copy clean');
    // The copy's dirty pages go to disk before the walks are timed (10 GiB on huge-files): else
    // their writeback runs under whichever walk comes first.
    flushDisk();
    // The walks and the runs they are the floors of, one of each in turn per pass: a drift of the
    // machine's speed (this is often a shared VM) then touches ours and its floors alike.
    await measureInTurn([
      turn(
        'floor.walk',
        () => statWalk(project, mediaRoot),
        (walked) => checkWalk(walked, project, 'async'),
      ),
      turn(
        'floor.walk-sync',
        () => statWalkSync(project, mediaRoot),
        (walked) => checkWalk(walked, project, 'sync'),
      ),
      turn(
        'walk.listing',
        () => statWalkSync(project, mediaRoot, true),
        (walked) => checkWalk(walked, project, 'listing the copy', walked.extra),
      ),
      turn(
        'copy.rerun',
        () => link({ cwd, mode: 'copy' }),
        (report) => expect(report, 'up-to-date', apps, 'copy re-run'),
      ),
      turn(
        'verify.copy',
        () => verify({ cwd, mode: 'copy' }),
        (report) => expect(report, 'ok', apps, 'verify copies'),
      ),
    ]);
    flushDisk();
    expect(await measure('clean.copy', () => clean({ cwd })), 'removed', apps, 'clean copies');
    remove(mediaRoot);
  }
  return rows;
}

/** The stat walk over the tool's copy must see every file, all alike: else it measured something else. */
function checkWalk(walked: { files: number; differ: number }, project: Project, which: string, extra = 0): void {
  if (walked.files !== project.files || walked.differ !== 0 || extra !== 0) {
    throw new Error(
      `stat walk (${which}): ${walked.files} files seen of ${project.files}, ${walked.differ} differ, ` +
        `${extra} more in the copy`,
    );
  }
}
