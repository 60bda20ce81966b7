/**
 * Making one directory link on a path the plan has proven free, and checking
 * the result. Plain `fs.symlink` rather than vinyl-fs's `symlink` stream: the
 * planner already computed the exact text (relative or absolute), a link run
 * should not load a stream stack, and vinyl-fs's `overwrite` semantics (delete
 * what is in the way, or report success without a link) are what must never
 * decide here.
 */
import { readlinkSync, realpathSync, statSync, symlinkSync, type Stats } from 'node:fs';
import path from 'node:path';
import { normalizeLinkText } from '../ownership.js';

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

/**
 * After making a link: it exists, is a link, has the text we meant and leads to the app's media
 * folder (`expectedDir`, compared by device and inode, which is cheaper than two real paths;
 * the real path is computed only to say where a wrong link leads).
 */
export function checkLink(linkPath: string, expectedText: string, expectedDir: string): LinkCheck {
  let text: string;
  try {
    text = readlinkSync(linkPath);
  } catch (error) {
    // EINVAL: the path holds something that is not a link.
    return { ok: false, why: (error as NodeJS.ErrnoException).code === 'EINVAL' ? 'something other than a link is at that path' : 'no link was made' };
  }
  if (normalizeLinkText(text) !== normalizeLinkText(expectedText)) return { ok: false, why: `a different link is at that path (${text})` };
  let led: Stats;
  let wanted: Stats;
  try {
    led = statSync(linkPath);
    wanted = statSync(expectedDir);
  } catch {
    return { ok: false, why: 'the new link does not resolve' };
  }
  if (led.dev !== wanted.dev || led.ino !== wanted.ino) {
    let real = '(unknown)';
    try {
      real = realpathSync.native(linkPath);
    } catch {
      // gone meanwhile: still not the app's folder
    }
    return { ok: false, why: `the new link resolves to ${real}` };
  }
  return { ok: true };
}
