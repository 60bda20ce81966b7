/**
 * An app's media folder as every pipeline sees it before reading anything of it: link's probe
 * and collect's sources and verify ask the same question, and refuse the same answers.
 */
import { lstatSync, statSync } from 'node:fs';
import type { App } from './discover.js';
import type { FolderId } from './fs/folder.js';
import type { RealPathOf } from './fs/real-paths.js';
import { isInside } from './fs/walk.js';
import { findMisnaming, type Misnaming } from './misnamed.js';

export interface SourceFacts {
  /** `escape`: the media folder resolves outside its app's folder (it is, or passes through, a link leading out). */
  kind: 'dir' | 'missing' | 'not-dir' | 'escape';
  real?: string;
  /** The folder's device and inode as the probe saw them: a new link is checked against them. */
  id?: FolderId;
  /** A folder that looks like a misnamed media folder, with the fix. */
  misnamed?: Misnaming;
}

/**
 * An app's media folder as a run may use it: a plain folder (its real path and identity), missing,
 * not a folder, or `escape` when it resolves outside its app's folder. Collect asks the same.
 */
export function sourceFacts(app: App, realOf: RealPathOf): SourceFacts {
  try {
    // lstat first: a plain folder (the common case) needs no second look; a link is followed.
    const own = lstatSync(app.mediaDir);
    const stat = own.isSymbolicLink() ? statSync(app.mediaDir) : own;
    if (!stat.isDirectory()) return { kind: 'not-dir' };
    const real = realOf(app.mediaDir, own);
    // A media folder that is (or passes through) a link leading out of its app's folder would
    // publish whatever it leads to: refused, whoever made the link.
    if (!isInside(realOf(app.appDir), real)) return { kind: 'escape', real };
    return { kind: 'dir', real, id: { dev: stat.dev, ino: stat.ino } };
  } catch {
    const misnamed = findMisnaming(app);
    return misnamed ? { kind: 'missing', misnamed } : { kind: 'missing' };
  }
}
