/**
 * The file-system calls collect makes, in one place: reads that never follow
 * a link and never block on a FIFO, and writes that go to a temporary name
 * beside their destination (created with O_EXCL, so never through a link) and
 * are renamed into place. Files are written 0644 and folders 0755, less the
 * umask: a copy never carries setuid, setgid or sticky bits.
 */
import { chmodSync, closeSync, constants, copyFileSync, existsSync, fstatSync, fsyncSync, linkSync, lstatSync, mkdirSync, openSync, readSync, renameSync, rmSync, writeSync, type Stats } from 'node:fs';
import type { Hash } from 'node:crypto';
import path from 'node:path';
import { tempNameFor } from './names.js';

export const FILE_MODE = 0o644;
export const DIR_MODE = 0o755;

/** Open flags of every read of a source or of a file of the tool's: no link followed, no FIFO waited on. */
export const READ_FLAGS = constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0) | (constants.O_NONBLOCK ?? 0);

/** A file that is not a regular file where one was expected (a link, a FIFO, a folder...). */
export class NotAFile extends Error {
  readonly code = 'ENOTREG';
  constructor(readonly file: string, readonly kind: string) {
    super(`${file} is ${kind}, not a regular file`);
  }
}

export function kindOf(stat: Stats): string {
  if (stat.isSymbolicLink()) return 'a symbolic link';
  if (stat.isDirectory()) return 'a folder';
  if (stat.isFIFO()) return 'a FIFO';
  if (stat.isSocket()) return 'a socket';
  if (stat.isCharacterDevice() || stat.isBlockDevice()) return 'a device';
  return 'not a regular file';
}

/** Opens a file for reading without following a link at its last step; it must be a regular file. */
export function openRegular(file: string): { fd: number; stat: Stats } {
  let fd: number;
  try {
    fd = openSync(file, READ_FLAGS);
  } catch (error) {
    // O_NOFOLLOW on a link: ELOOP (Linux), EMLINK (FreeBSD), EFTYPE (NetBSD).
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ELOOP' || code === 'EMLINK' || code === 'EFTYPE') throw new NotAFile(file, 'a symbolic link');
    throw error;
  }
  const stat = fstatSync(fd);
  if (!stat.isFile()) {
    closeSync(fd);
    throw new NotAFile(file, kindOf(stat));
  }
  return { fd, stat };
}

/** Reads a whole regular file (no link followed), refusing one bigger than `limit` bytes. */
export function readRegular(file: string, limit = Number.MAX_SAFE_INTEGER): { data: Buffer; stat: Stats } {
  const { fd, stat } = openRegular(file);
  try {
    if (stat.size > limit) throw Object.assign(new Error(`${file} is bigger than ${limit} bytes`), { code: 'EFBIG' });
    return { data: readAll(fd, stat.size), stat };
  } finally {
    closeSync(fd);
  }
}

/** Reads from an open file until its end (the size is a hint: a file may grow or shrink meanwhile). */
export function readAll(fd: number, sizeHint: number): Buffer {
  const chunks: Buffer[] = [];
  let total = 0;
  let buffer = Buffer.allocUnsafe(Math.max(1, Math.min(sizeHint + 1, 16 * 1024 * 1024)));
  for (;;) {
    const read = readSync(fd, buffer, 0, buffer.length, null);
    if (read === 0) break;
    chunks.push(buffer.subarray(0, read));
    total += read;
    if (read === buffer.length) buffer = Buffer.allocUnsafe(buffer.length);
    else buffer = buffer.subarray(read);
    if (buffer.length === 0) buffer = Buffer.allocUnsafe(1024 * 1024);
  }
  if (chunks.length !== 1) return Buffer.concat(chunks, total);
  const only = chunks[0] as Buffer;
  // Held by the caller (a stylesheet, a file to compress): no bigger buffer kept behind it.
  return only.buffer.byteLength - only.length > 4096 ? Buffer.from(only) : only;
}

/** lstat, or undefined when nothing is there. */
export function lookAt(file: string): Stats | undefined {
  return lstatSync(file, { throwIfNoEntry: false });
}

/** The temporary path beside `dest`. */
export function tempBeside(dest: string): string {
  return path.join(path.dirname(dest), tempNameFor(path.basename(dest)));
}

/**
 * Writes `data` to a new temporary file beside `dest` (O_EXCL: never through a link, never
 * over anything) and returns its path and facts; the caller renames it into place once it
 * has looked at what is there.
 */
export function writeTemp(dest: string, data: Buffer | string, sync = false): { temp: string; stat: Stats } {
  const temp = tempBeside(dest);
  const fd = openSync(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | (constants.O_NOFOLLOW ?? 0), FILE_MODE);
  try {
    const bytes = typeof data === 'string' ? Buffer.from(data) : data;
    let written = 0;
    while (written < bytes.length) written += writeSync(fd, bytes, written, bytes.length - written);
    if (sync) fsyncSync(fd);
    const stat = fstatSync(fd);
    closeSync(fd);
    return { temp, stat };
  } catch (error) {
    closeSync(fd);
    rmSync(temp, { force: true });
    throw error;
  }
}

/** Linux names an open file /proc/self/fd/<fd>: copyFile through it copies that very file, in the kernel. */
const PROC_FD = process.platform === 'linux' && existsSync('/proc/self/fd');

/**
 * Copies an open source file into a new temporary file beside `dest` and returns its path and
 * facts. The bytes never pass through a path that could be a link: on Linux the kernel copies the
 * open file itself (copyFile of /proc/self/fd/<fd>, then the mode set to 0644 less the umask);
 * elsewhere, or when the source carries setuid, setgid or sticky bits (copyFile would give the new
 * file the source's mode for a moment), chunk by chunk. With `hash`, the bytes are hashed as they
 * are copied (chunk by chunk, then).
 */
export function copyTemp(sourceFd: number, dest: string, buffer: Buffer, hash?: Hash, sourceMode = 0): { temp: string; stat: Stats } {
  if (PROC_FD && !hash && (sourceMode & 0o7000) === 0) {
    const temp = tempBeside(dest);
    try {
      copyFileSync(`/proc/self/fd/${sourceFd}`, temp, constants.COPYFILE_EXCL);
      chmodSync(temp, FILE_MODE & ~process.umask());
      return { temp, stat: lstatSync(temp) };
    } catch (error) {
      rmSync(temp, { force: true });
      throw error;
    }
  }
  const temp = tempBeside(dest);
  const fd = openSync(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | (constants.O_NOFOLLOW ?? 0), FILE_MODE);
  try {
    let position = 0;
    for (;;) {
      const read = readSync(sourceFd, buffer, 0, buffer.length, position);
      if (read === 0) break;
      hash?.update(buffer.subarray(0, read));
      let written = 0;
      while (written < read) written += writeSync(fd, buffer, written, read - written);
      position += read;
    }
    const stat = fstatSync(fd);
    closeSync(fd);
    return { temp, stat };
  } catch (error) {
    closeSync(fd);
    rmSync(temp, { force: true });
    throw error;
  }
}

/** A hard link to `existing` under a temporary name beside `dest` (undefined where the file system has none). */
export function linkTemp(existing: string, dest: string): { temp: string; stat: Stats } | undefined {
  const temp = tempBeside(dest);
  try {
    linkSync(existing, temp);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EPERM' || code === 'EMLINK' || code === 'ENOTSUP' || code === 'EOPNOTSUPP' || code === 'EXDEV' || code === 'ENOSYS') return undefined;
    throw error;
  }
  const stat = lstatSync(temp);
  if (!stat.isFile()) {
    rmSync(temp, { force: true });
    return undefined;
  }
  return { temp, stat };
}

/** Puts a temporary file in place (rename replaces a file, never writes through a link). */
export function putInPlace(temp: string, dest: string): void {
  try {
    renameSync(temp, dest);
  } catch (error) {
    rmSync(temp, { force: true });
    throw error;
  }
}

/** Makes one folder (not recursive: each folder on the way is made and checked in turn). */
export function makeDir(dir: string): boolean {
  try {
    mkdirSync(dir, DIR_MODE);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  }
}

/** A plain folder (not a link to one). */
export function isPlainDir(dir: string): boolean {
  const stat = lookAt(dir);
  return stat !== undefined && stat.isDirectory();
}
