/**
 * Making one directory link on a path the plan has proven free, and checking the result.
 * The link is made in mediaRoot's open folder (fs/folder.ts), with the exact text the planner
 * computed (relative or absolute).
 */
import { realpathSync, statSync, symlinkSync, type Stats } from 'node:fs';
import { sameFolder, type Folder, type FolderId } from './folder.js';

export type { FolderId };

/** Errors that mean "this file system or account does not make links", so a fallback may take over. */
const REFUSALS = new Set(['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS', 'EXDEV', 'EINVAL']);

export function isLinkRefusal(error: unknown): error is NodeJS.ErrnoException {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return typeof code === 'string' && REFUSALS.has(code);
}

export interface MakeLinkOptions {
  kind: 'symlink' | 'junction';
  /** mediaRoot, open. */
  folder: Folder;
  name: string;
  /** The link text to write: relative or absolute as planned (a junction's is always absolute). */
  text: string;
}

/**
 * One `symlink()` call: it fails with EEXIST if anything appeared at the path, so it never
 * replaces what it did not plan for. A directory link on Windows (`dir`), or a junction, which
 * needs no privilege there. Synchronous: links made in one folder are serialized by the file
 * system anyway, and through the thread pool each costs more.
 */
export function makeLink(options: MakeLinkOptions): void {
  symlinkSync(options.text, options.folder.at(options.name), options.kind === 'junction' ? 'junction' : 'dir');
}

export type LinkCheck = { ok: true } | { ok: false; why: string };

/**
 * After making a link: it resolves, and to the app's media folder. One `stat` through the link,
 * compared by device and inode with the folder as the probe saw it (`seen`); only when they
 * differ is the folder looked at again (it may have been replaced since), and the link's real
 * path computed to say where it leads.
 */
export function checkLink(folder: Folder, name: string, expectedDir: string, seen: FolderId | undefined): LinkCheck {
  let led: Stats;
  try {
    led = statSync(folder.at(name));
  } catch {
    return { ok: false, why: 'the new link does not resolve' };
  }
  if (sameFolder(led, seen)) return { ok: true };
  let now: Stats | undefined;
  try {
    now = statSync(expectedDir);
  } catch {
    // the app's folder is gone meanwhile: the link cannot lead there
  }
  if (now && sameFolder(led, now)) return { ok: true };
  let real = '(unknown)';
  try {
    real = realpathSync.native(folder.at(name));
  } catch {
    // gone meanwhile: still not the app's folder
  }
  return { ok: false, why: `the new link resolves to ${real}, not to the app's media folder` };
}
