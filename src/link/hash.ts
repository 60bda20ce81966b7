/** `--checksum`: the contents of a copy's files and their sources compared by SHA-256. */
import { createHash } from 'node:crypto';
import { closeSync, constants, createReadStream, fstatSync, openSync } from 'node:fs';
import path from 'node:path';
import pMap from 'p-map';
import type { TreeFacts } from '../core/fs/walk.js';

/** Hashes the files both trees hold with one size (a different size already means different contents). */
export async function hashPairs(
  sourceDir: string,
  entryDir: string,
  source: TreeFacts,
  entry: TreeFacts,
): Promise<void> {
  const pairs = [...source.files].filter(([rel, facts]) => entry.files.get(rel)?.size === facts.size);
  await pMap(
    pairs,
    async ([rel, facts]) => {
      const copy = entry.files.get(rel);
      if (!copy) return;
      const real = source.links?.get(rel) ?? path.join(sourceDir, ...rel.split('/'));
      [facts.hash, copy.hash] = await Promise.all([hashFile(real), hashFile(path.join(entryDir, ...rel.split('/')))]);
    },
    { concurrency: 8 },
  );
}

/**
 * The SHA-256 of a regular file's contents, opened without following a link and without blocking;
 * anything else (a link, a FIFO put there since the walk) hashes to a mark no file matches.
 */
async function hashFile(file: string): Promise<string> {
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ELOOP' || code === 'ENXIO') return 'not-a-file';
    throw error;
  }
  if (!fstatSync(fd).isFile()) {
    closeSync(fd);
    return 'not-a-file';
  }
  const hash = createHash('sha256');
  for await (const chunk of createReadStream('', { fd })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}
