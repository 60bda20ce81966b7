/** The one look at a path that may not be there. */
import { lstatSync, type Stats } from 'node:fs';

/**
 * `lstat`, or undefined when the path cannot be looked at: missing (answered without a
 * thrown error, which costs more than the call), or an error on its way (a file where a
 * folder was, no permission).
 */
export function lstatOrUndefined(file: string): Stats | undefined {
  try {
    return lstatSync(file, { throwIfNoEntry: false });
  } catch {
    return undefined;
  }
}
