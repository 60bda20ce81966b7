/**
 * Removing what the tool has proven its own, whole, by exact path, with `del`: each name is turned
 * into a pattern that matches only itself (globby's `convertPathToPattern` escapes `[`, `*`, `{`...
 * in it), nothing is expanded or followed, and `del` refuses anything outside `folder`. Used for
 * the tool's links (checked, then renamed aside), leftover temporary names, and collect's files.
 * What may hold a person's files (a copy) is never given to it: those are removed file by file.
 * Where others may write the folder (`sharedMediaRoot`), `unlinkEach` below is used instead.
 */
import { unlinkSync } from 'node:fs';
import type { Folder } from './folder.js';

export interface RemoveExactOptions {
  /** Only regular files (collect's outputs); links and folders otherwise too. */
  onlyFiles?: boolean;
}

export async function removeExact(
  folder: string,
  names: readonly string[],
  options: RemoveExactOptions = {},
): Promise<string[]> {
  if (names.length === 0) return [];
  const [{ deleteAsync }, { convertPathToPattern }] = await Promise.all([import('del'), import('globby')]);
  const removed: string[] = [];
  for (let start = 0; start < names.length; start += 500) {
    const batch = names.slice(start, start + 500);
    removed.push(
      ...(await deleteAsync(
        batch.map((name) => convertPathToPattern(name)),
        {
          cwd: folder,
          force: false,
          onlyFiles: options.onlyFiles ?? false,
          dot: true,
          followSymbolicLinks: false,
          expandDirectories: false,
          concurrency: 8,
        },
      )),
    );
  }
  return removed;
}

/**
 * In a mediaRoot others may write (`sharedMediaRoot`), names are removed one by one with unlink(2)
 * through the held folder, never with `del`: the recursive `rm` that `del` calls, when unlinking a
 * link is refused (EPERM: someone else's entry in a sticky folder, or an entry swapped in since it
 * was checked), takes it for a folder and empties the folder the link leads to. unlink(2) removes
 * the name itself or nothing. A name it refuses (EPERM, EACCES; EISDIR: a folder put there since)
 * is left and returned; one already gone is fine.
 */
export function unlinkEach(folder: Folder, names: readonly string[]): string[] {
  const left: string[] = [];
  for (const name of names) {
    try {
      unlinkSync(folder.at(name));
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') continue;
      if (code === 'EPERM' || code === 'EACCES' || code === 'EISDIR') left.push(name);
      else throw error;
    }
  }
  return left;
}
