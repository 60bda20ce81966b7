/**
 * Removing what the tool has proven its own, whole, by exact path, with `del`: each name is turned
 * into a pattern that matches only itself (globby's `convertPathToPattern` escapes `[`, `*`, `{`...
 * in it), nothing is expanded or followed, and `del` refuses anything outside `folder`. Used for
 * the tool's links (checked, then renamed aside), leftover temporary names, and collect's files.
 * What may hold a person's files (a copy) is never given to it: those are removed file by file.
 */
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
