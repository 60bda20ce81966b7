/**
 * Reading an app's media file for a copy: opened without following a link and without blocking
 * (a FIFO put in its place cannot hang the run), and checked to be the very file the walk saw
 * (device, inode, size, time). Only then is it copied, through the open file itself where the
 * system allows it: a file swapped for a link to a private file after the walk is refused, and
 * nothing it leads to is read.
 */
import { closeSync, constants, fstatSync, openSync } from 'node:fs';
import { folderKind } from './folder.js';
import type { FileFacts } from './walk.js';

const { O_RDONLY, O_NOFOLLOW, O_NONBLOCK } = constants;

/** A source file that is not (or no longer) the one the plan saw: that app's error, nothing of it copied. */
export class SourceChanged extends Error {
  readonly code = 'APP_MEDIA_SOURCE_CHANGED';
}

export interface OpenSource {
  /** A path that names the open file itself (on Linux, through /proc), for copyFile. */
  path: string;
  close(): void;
}

/**
 * Opens `file` (`rel`: its path in the app's media, for messages) if it is still the regular
 * file `facts` describes. The caller closes it once the copy is done.
 */
export function openSource(file: string, rel: string, facts: Pick<FileFacts, 'dev' | 'ino' | 'size' | 'mtimeMs'>): OpenSource {
  let fd: number;
  try {
    fd = openSync(file, O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ELOOP' || code === 'ENOENT' || code === 'ENOTDIR' || code === 'ENXIO') {
      throw new SourceChanged(`${rel} was replaced or removed while the run was copying (${code}); nothing it leads to was copied`);
    }
    throw error;
  }
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile()) throw new SourceChanged(`${rel} is no longer a regular file; it was not copied`);
    if (stat.dev !== facts.dev || stat.ino !== facts.ino) throw new SourceChanged(`${rel} was replaced by another file while the run was copying; it was not copied`);
    if (stat.size !== facts.size || Math.abs(stat.mtimeMs - facts.mtimeMs) >= 1) throw new SourceChanged(`${rel} changed while the run was copying; it was not copied`);
  } catch (error) {
    closeSync(fd);
    throw error;
  }
  return {
    path: folderKind() === 'descriptor' ? `/proc/self/fd/${fd}` : file,
    close: () => closeSync(fd),
  };
}

/**
 * The permission bits a copy gets: the source's read and execute bits and its owner's write bit;
 * never setuid, setgid or sticky (a copy made as root must not hand out root), never write for
 * group or others (mediaRoot is public; a copy anyone could rewrite would be served).
 */
export function copyMode(sourceMode: number): number {
  return sourceMode & 0o755;
}
