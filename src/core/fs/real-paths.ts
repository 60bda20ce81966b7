/**
 * Real paths of many folders that share parents (the media folders of a
 * thousand apps under one project): each parent is resolved once per run.
 *
 * `realpath()` looks at every part of a path on every call (eight parts deep
 * is eight system calls). Here a folder that is not a link has the real path of
 * its parent plus its name: one `lstat` for each part not seen before. A link
 * anywhere is left to the system's `realpath`, and so is Windows (drive letters,
 * junctions, case). The answers are those of `realpathSync.native`, errors included.
 */
import { lstatSync, realpathSync, type Stats } from 'node:fs';
import path from 'node:path';

/** `known`: the target's own `lstat`, when the caller has just taken it (saves that call). */
export type RealPathOf = (dir: string, known?: Stats) => string;

/** A resolver with its own cache; `known` seeds it (a path and its real path, both absolute). */
export function realPaths(known: ReadonlyArray<readonly [string, string]> = []): RealPathOf {
  const cache = new Map<string, string>(known);
  const of = (target: string, known?: Stats): string => {
    const hit = cache.get(target);
    if (hit !== undefined) return hit;
    const parent = path.dirname(target);
    let real: string;
    if (path.sep !== '/' || parent === target || !path.isAbsolute(target) || path.normalize(target) !== target) {
      real = realpathSync.native(target);
    } else {
      const stat = known ?? lstatSync(target);
      const realParent = of(parent);
      real = stat.isSymbolicLink()
        ? realpathSync.native(target)
        : `${realParent === '/' ? '' : realParent}/${path.basename(target)}`;
    }
    cache.set(target, real);
    return real;
  };
  return of;
}

/** The real path of `target`, resolving what exists of it and keeping the rest as written. */
export function realpathOfPath(target: string): string {
  const rest: string[] = [];
  let current = path.resolve(target);
  for (;;) {
    try {
      const real = realpathSync.native(current);
      return path.join(real, ...rest.reverse());
    } catch {
      const parent = path.dirname(current);
      if (parent === current) return path.join(current, ...rest.reverse());
      rest.push(path.basename(current));
      current = parent;
    }
  }
}
