/** The one look at a path that may not be there. */
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
