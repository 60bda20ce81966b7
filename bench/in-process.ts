/**
 * In process: the programmatic API, called repeatedly on the generated
 * project, interleaved with the floors so both see the same machine state.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { clean, link, verify, type Report } from 'gulp-app-media';
import { copyFiles, statWalk, statWalkSync, symlinkLoop, symlinkLoopSync } from './floors.js';
import type { Project } from './generate.js';
import { flushDisk, remove } from './measure.js';
import { Rows, type Row } from './rows.js';

const STAT_WALKS = ['floor.walk', 'floor.walk-sync'];
const SYMLINK_LOOPS = ['floor.symlink', 'floor.symlink-sync'];

export function inProcessRows(): Rows {
  const rows = new Rows();
  rows.add({ id: 'link.clean', label: 'link (symlink), clean', kind: 'ours', floors: SYMLINK_LOOPS });
  rows.add({ id: 'link.rerun', label: 'link (symlink), no-change re-run', kind: 'ours', floors: STAT_WALKS });
  rows.add({ id: 'verify.link', label: 'verify (links)', kind: 'ours', floors: STAT_WALKS });
  rows.add({ id: 'clean.link', label: 'clean (links)', kind: 'ours', floors: ['floor.unlink'] });
  rows.add({ id: 'copy.clean', label: 'link (copy), clean', kind: 'ours', floors: ['floor.copy'] });
  rows.add({ id: 'copy.rerun', label: 'link (copy), no-change re-run', kind: 'ours', floors: STAT_WALKS });
  rows.add({ id: 'verify.copy', label: 'verify (copies)', kind: 'ours', floors: STAT_WALKS });
  rows.add({ id: 'clean.copy', label: 'clean (copies)', kind: 'ours', floors: ['floor.rm'] });
  rows.add({ id: 'floor.symlink', label: 'floor: `fs.symlink` loop, one per app (await each)', short: 'symlink loop', kind: 'floor' });
  rows.add({ id: 'floor.symlink-sync', label: 'floor: `fs.symlinkSync` loop, one per app', short: 'symlinkSync loop', kind: 'floor' });
  rows.add({ id: 'floor.unlink', label: 'floor: `fs.unlink` loop, one per app', short: 'unlink loop', kind: 'floor' });
  rows.add({ id: 'floor.copy', label: 'floor: mkdir the folders, then `fs.copyFile` per file, 8 at a time', short: 'copyFile ×8', kind: 'floor' });
  rows.add({ id: 'floor.walk', label: 'floor: stat walk (readdir, `lstat` source and copy, compare size + mtime), async', short: 'async stat walk', kind: 'floor' });
  rows.add({ id: 'floor.walk-sync', label: 'floor: the same stat walk with the sync calls', short: 'sync stat walk', kind: 'floor' });
  rows.add({ id: 'floor.rm', label: 'floor: `fs.rm` recursive of the copies', short: 'fs.rm', kind: 'floor' });
  return rows;
}

/** Fails loudly when a run did not do what is being timed. */
function expect(report: Report, status: string, count: number, what: string): void {
  const got = report.counts[status as keyof Report['counts']] ?? 0;
  if (report.failed || got !== count) {
    throw new Error(`${what}: expected ${count} ${status}, got ${JSON.stringify(report.counts)}${report.warnings.length ? ` (${report.warnings.join('; ')})` : ''}`);
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
  const cwd = project.root;
  const mediaRoot = path.join(project.root, 'public', 'media');
  const scratch = path.join(project.home, 'out');
  const links = path.join(scratch, 'links');
  const copies = path.join(scratch, 'copy');
  const apps = project.apps.length;
  remove(mediaRoot);
  remove(scratch);

  for (let round = 1; round <= repeats; round++) {
    log(`  in process, round ${round}/${repeats}`);
    // Links.
    await measure('floor.symlink', () => symlinkLoop(project, links));
    await measure('floor.unlink', async () => {
      for (const app of project.apps) await fs.unlink(path.join(links, app.name));
    });
    remove(scratch);
    await measure('floor.symlink-sync', () => symlinkLoopSync(project, links));
    remove(scratch);

    expect(await measure('link.clean', () => link({ cwd, mode: 'symlink' })), 'linked', apps, 'link clean');
    expect(await measure('link.rerun', () => link({ cwd, mode: 'symlink' })), 'up-to-date', apps, 'link re-run');
    expect(await measure('verify.link', () => verify({ cwd, mode: 'symlink' })), 'ok', apps, 'verify links');
    expect(await measure('clean.link', () => clean({ cwd })), 'removed', apps, 'clean links');
    remove(mediaRoot);

    // Copies.
    flushDisk();
    await measure('floor.copy', () => copyFiles(project, copies));
    flushDisk();
    await measure('floor.rm', () => fs.rm(copies, { recursive: true, force: true }));
    remove(scratch);
    flushDisk();

    expect(await measure('copy.clean', () => link({ cwd, mode: 'copy' })), 'copied', apps, 'copy clean');
    checkWalk(await measure('floor.walk', () => statWalk(project, mediaRoot)), project, 'async');
    checkWalk(await measure('floor.walk-sync', () => statWalkSync(project, mediaRoot)), project, 'sync');
    expect(await measure('copy.rerun', () => link({ cwd, mode: 'copy' })), 'up-to-date', apps, 'copy re-run');
    expect(await measure('verify.copy', () => verify({ cwd, mode: 'copy' })), 'ok', apps, 'verify copies');
    flushDisk();
    expect(await measure('clean.copy', () => clean({ cwd })), 'removed', apps, 'clean copies');
    remove(mediaRoot);
  }
  return rows;
}

/** The stat walk over the tool's copy must see every file, all alike: else it measured something else. */
function checkWalk(walked: { files: number; differ: number }, project: Project, which: string): void {
  if (walked.files !== project.files || walked.differ !== 0) {
    throw new Error(`stat walk (${which}): ${walked.files} files seen of ${project.files}, ${walked.differ} differ`);
  }
}
