/**
 * Reading a config file or a package.json: a regular file of bounded size,
 * opened without blocking. A FIFO would otherwise hang the run for ever (and a
 * watch on it would not even stop on SIGTERM), /dev/zero would fill memory,
 * and a folder would fail with a bare EISDIR: each is a coded error that names
 * the file.
 */
import { closeSync, constants, fstatSync, openSync, readSync, type Stats } from 'node:fs';
import { errors } from '../errors.js';
import { MAX_CONFIG_BYTES } from '../options.js';

// O_NONBLOCK: opening a FIFO with no writer returns at once (then fstat tells what it is).
// O_NOCTTY: a terminal device never becomes the process's controlling terminal. (0 where absent.)
const OPEN_FLAGS = constants.O_RDONLY | (constants.O_NONBLOCK ?? 0) | (constants.O_NOCTTY ?? 0);

/** The whole file as UTF-8 text, or a coded error when it is not a regular file of at most 10 MiB. */
export function readConfigText(file: string, displayFile: string, limit = MAX_CONFIG_BYTES): string {
  let fd: number;
  try {
    fd = openSync(file, OPEN_FLAGS);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENXIO') throw errors.notAFile(displayFile, 'a socket'); // a Unix socket cannot be opened
    if (code === 'EISDIR') throw errors.notAFile(displayFile, 'a folder');
    throw error;
  }
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile()) throw errors.notAFile(displayFile, kindOf(stat));
    if (stat.size > limit) throw errors.fileTooLarge(displayFile, stat.size, limit);
    // Read to the end, but never past the limit: a file that grows while it is read is refused too.
    // One buffer of the size fstat gave (and a byte more, to see the end), grown only if the file
    // grew meanwhile: every run reads the config and each app's package.json.
    let buffer = Buffer.allocUnsafe(Math.min(limit + 1, Math.max(stat.size + 1, 4096)));
    let total = 0;
    for (;;) {
      if (total === buffer.length) {
        const grown = Buffer.allocUnsafe(Math.min(limit + 1, buffer.length * 2));
        buffer.copy(grown, 0, 0, total);
        buffer = grown;
      }
      const read = readSync(fd, buffer, total, buffer.length - total, null);
      if (read === 0) break;
      total += read;
      if (total > limit) throw errors.fileTooLarge(displayFile, total, limit);
    }
    return buffer.toString('utf8', 0, total);
  } finally {
    closeSync(fd);
  }
}

function kindOf(stat: Stats): string {
  if (stat.isDirectory()) return 'a folder';
  if (stat.isFIFO()) return 'a FIFO (named pipe)';
  if (stat.isCharacterDevice()) return 'a character device';
  if (stat.isBlockDevice()) return 'a block device';
  if (stat.isSocket()) return 'a socket';
  return 'an unknown kind of file';
}
