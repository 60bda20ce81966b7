/** The one look at a path that may not be there, and the one test of an error for "it is no longer there". */
import { lstatSync, type Stats } from 'node:fs';

/**
 * `lstat`, or undefined when nothing is there (answered without a thrown error, which costs more
 * than the call; a file where a folder was on the way counts as nothing there). Any other error
 * (no permission to look) is thrown: a place the tool cannot see is not an empty place.
 */
export function lstatOrUndefined(file: string): Stats | undefined {
  try {
    return lstatSync(file, { throwIfNoEntry: false });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOTDIR') return undefined;
    throw error;
  }
}

/**
 * Whether a look failed because what it looked at vanished or changed kind between two system
 * calls (another run, or a person, at work): gone (ENOENT), a folder on its way replaced by a
 * file (ENOTDIR), or a link replaced by something else between `lstat` and `readlink` (EINVAL).
 */
export function vanished(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ENOENT' || code === 'ENOTDIR' || code === 'EINVAL';
}
