/**
 * Names of the tool's own temporary files and folders. They live only at the top of mediaRoot
 * (a copy is built, and a copy's new files are staged, in private folders there), and each
 * carries the token of the run that made it, the token its lock file holds: the sweep removes
 * only names of a run whose lock it found left behind (fs/sweep.ts), never a name a person
 * happened to give a file.
 */
import { randomBytes } from 'node:crypto';

export const TEMP_MARK = '.app-media-tmp-';
/**
 * A folder the tool set aside and could not empty because someone put files in it meanwhile:
 * kept under this name (never swept, never cleaned) and named in a warning.
 */
export const KEPT_MARK = '.app-media-kept-';

/** A run's token: 16 hex digits, random (the lock file's). */
export const TOKEN = /^[0-9a-f]{16}$/;
const TEMP = /^\.app-media-tmp-([0-9a-f]{16})-\d{1,9}[0-9a-f]{8}(?:-[^/\\]*)?$/;
/**
 * The label of a run's staging folder (workspace.ts), where new files wait before each is renamed into its place. It
 * starts with a dot, as no app name may, so it is never taken for an entry's name; messages show it as
 * `(staging folder)`, never as a published path.
 */
export const STAGING_LABEL = '.staging';
/** How a path inside a run's staging folder is shown in messages. */
export const STAGING_SHOWN = '(staging folder)';
/** A label (the entry a temporary name stands for) is cut to this, so any name fits a file system's 255 bytes. */
const LABEL_MAX = 64;

/**
 * The temporary names of one run, in turn: `.app-media-tmp-<token>-0<random>-<label>`, ... The
 * token is in the run's lock, which anyone who can read mediaRoot can read: the random part keeps
 * the next name from being guessed and taken first.
 */
export function tempNames(token: string): (label?: string) => string {
  if (!TOKEN.test(token)) throw new Error(`internal: not a run token: ${token}`);
  let next = 0;
  return (label) =>
    `${TEMP_MARK}${token}-${next++}${randomBytes(4).toString('hex')}${label ? `-${label.slice(0, LABEL_MAX)}` : ''}`;
}

/** What a temporary name stands for (its label), for messages: `blog` for `.app-media-tmp-<token>-3-blog`. */
export function labelOfTemp(name: string): string | undefined {
  if (!TEMP.test(name)) return undefined;
  const rest = name.slice(TEMP_MARK.length + 17);
  const dash = rest.indexOf('-');
  // rest: <n><8 hex>[-<label>]
  return dash < 0 ? '' : rest.slice(dash + 1);
}

/** The token of a temporary name the tool makes, or undefined for any other name. */
export function tokenOfTemp(name: string): string | undefined {
  return TEMP.exec(name)?.[1];
}
