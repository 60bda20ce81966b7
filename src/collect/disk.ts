/**
 * The file-system calls collect makes, in one place: reads that never follow
 * a link and never block on a FIFO, and writes that never go through a path
 * that could lead elsewhere. Every write, rename and delete below collectRoot
 * names its file through a folder held open (core/fs/folder.ts: on Linux
 * /proc/self/fd/<fd>/<name>, the folder itself wherever it was moved); a new
 * file is made in the run's private staging folder (core/fs/workspace.ts: the
 * runner's, mode 0700, at the top of collectRoot, named with the run's lock
 * token), with O_EXCL, then renamed into its folder. Files are written 0644
 * and folders 0755, less the umask: a copy never carries setuid, setgid or
 * sticky bits, and no file is within another user's reach before its mode is
 * right.
 */
import {
  chmodSync,
  closeSync,
  constants,
  copyFileSync,
  existsSync,
  fstatSync,
  linkSync,
  lstatSync,
  mkdirSync,
  openSync,
  readSync,
  renameSync,
  unlinkSync,
  writeSync,
  type Stats,
} from 'node:fs';
import type { Hash } from 'node:crypto';
import type { Folder } from '../core/fs/folder.js';

export const FILE_MODE = 0o644;
export const DIR_MODE = 0o755;

/** Open flags of every read of a source or of a file of the tool's: no link followed, no FIFO waited on. */
export const READ_FLAGS = constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0) | (constants.O_NONBLOCK ?? 0);

/** A file that is not a regular file where one was expected (a link, a FIFO, a folder...). */
export class NotAFile extends Error {
  readonly code = 'ENOTREG';
  constructor(
    readonly file: string,
    readonly kind: string,
  ) {
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

/** lstat of `name` in a folder held open, or undefined when nothing is there. */
export function lookIn(folder: Folder, name: string): Stats | undefined {
  return lstatSync(folder.at(name), { throwIfNoEntry: false });
}

/** Removes `name` from a folder held open, if it is there (a file made by this run, or one proven the tool's). */
export function unlinkIn(folder: Folder, name: string): void {
  try {
    unlinkSync(folder.at(name));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
}

/** A new file: never over anything, never through a link. */
export const CREATE = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | (constants.O_NOFOLLOW ?? 0);

/**
 * Writes `data` to a new file `name` in `folder` (the private staging folder: O_EXCL, never over
 * anything, never through a link) and returns its facts.
 */
export function writeNew(folder: Folder, name: string, data: Buffer | string | Iterable<string>): Stats {
  if (typeof data !== 'string' && !Buffer.isBuffer(data)) return createNew(folder, name, (fd) => writeText(fd, data));
  const bytes = typeof data === 'string' ? Buffer.from(data) : data;
  return createNew(folder, name, (fd) => writeAll(fd, bytes, bytes.length));
}

const TEXT_BUFFER = 64 * 1024;

/** Writes text given in pieces (UTF-8), through one small buffer: the whole text is never held. */
function writeText(fd: number, pieces: Iterable<string>): void {
  const buffer = Buffer.allocUnsafe(TEXT_BUFFER);
  let used = 0;
  for (const piece of pieces) {
    const length = Buffer.byteLength(piece);
    if (used + length > TEXT_BUFFER) {
      writeAll(fd, buffer, used);
      used = 0;
    }
    if (length > TEXT_BUFFER) writeAll(fd, Buffer.from(piece));
    else used += buffer.write(piece, used);
  }
  writeAll(fd, buffer, used);
}

/** Writes the first `length` bytes of `bytes` to `fd` (writeSync may write fewer than asked). */
export function writeAll(fd: number, bytes: Buffer, length: number = bytes.length): void {
  let written = 0;
  while (written < length) written += writeSync(fd, bytes, written, length - written);
}

/**
 * Makes the new file `name` in `folder` (O_EXCL, never through a link), lets `fill` write it and
 * returns its facts; on any error the half-written file goes.
 */
function createNew(folder: Folder, name: string, fill: (fd: number) => void): Stats {
  const fd = openSync(folder.at(name), CREATE, FILE_MODE);
  try {
    fill(fd);
    const stat = fstatSync(fd);
    closeSync(fd);
    return stat;
  } catch (error) {
    closeSync(fd);
    unlinkIn(folder, name);
    throw error;
  }
}

/** Linux names an open file /proc/self/fd/<fd>: copyFile through it copies that very file, in the kernel. */
const PROC_FD = process.platform === 'linux' && existsSync('/proc/self/fd');

/**
 * Copies an open source file into a new file `name` in `folder` (the private staging folder) and
 * returns its facts. The bytes never pass through a path that could be a link: on Linux the
 * kernel copies the open file itself (copyFile of /proc/self/fd/<fd>; the new file has the
 * source's mode until it is set to 0644 less the umask, which is why it is made in a folder no
 * one else can enter); elsewhere, or when the source carries setuid, setgid or sticky bits, chunk
 * by chunk into a file made 0644. With `hash`, the bytes are hashed as they are copied (chunk by
 * chunk, then).
 */
export function copyNew(
  sourceFd: number,
  folder: Folder,
  name: string,
  buffer: Buffer,
  hash?: Hash,
  sourceMode = 0,
): Stats {
  if (PROC_FD && !hash && (sourceMode & 0o7000) === 0) {
    try {
      copyFileSync(`/proc/self/fd/${sourceFd}`, folder.at(name), constants.COPYFILE_EXCL);
      chmodSync(folder.at(name), FILE_MODE & ~process.umask());
      return lstatSync(folder.at(name));
    } catch (error) {
      unlinkIn(folder, name);
      throw error;
    }
  }
  return createNew(folder, name, (fd) => {
    let position = 0;
    for (;;) {
      const read = readSync(sourceFd, buffer, 0, buffer.length, position);
      if (read === 0) break;
      hash?.update(buffer.subarray(0, read));
      writeAll(fd, buffer, read);
      position += read;
    }
  });
}

/**
 * A hard link to `existing` (in a folder held open) as a new name in `folder`; undefined where the
 * file system has none, or when `existing` is not a regular file.
 */
export function linkNew(from: Folder, existing: string, folder: Folder, name: string): Stats | undefined {
  try {
    linkSync(from.at(existing), folder.at(name));
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (
      code === 'EPERM' ||
      code === 'EMLINK' ||
      code === 'ENOTSUP' ||
      code === 'EOPNOTSUPP' ||
      code === 'EXDEV' ||
      code === 'ENOSYS'
    )
      return undefined;
    throw error;
  }
  const stat = lstatSync(folder.at(name));
  if (!stat.isFile()) {
    unlinkIn(folder, name);
    return undefined;
  }
  return stat;
}

/**
 * Renames a staged file into place (rename replaces a file, never writes through a link); on failure the staged file
 * goes.
 */
export function placeFile(from: Folder, staged: string, to: Folder, name: string): void {
  try {
    renameSync(from.at(staged), to.at(name));
  } catch (error) {
    unlinkIn(from, staged);
    throw error;
  }
}

/** Makes one folder in a folder held open; false when something is there already. */
export function makeDirIn(parent: Folder, name: string): boolean {
  try {
    mkdirSync(parent.at(name), DIR_MODE);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  }
}
