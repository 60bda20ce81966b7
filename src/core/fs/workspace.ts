/**
 * What a writing run holds in mediaRoot: the folder itself, open (every write and delete below
 * it names its file through it, fs/folder.ts), the temporary names of this run (its lock's token,
 * fs/temp.ts), and private folders for work in progress: a new copy is built in one, and a
 * copy's new files are staged in one before each is renamed into its place. A private folder is
 * the runner's, mode 0700: no one else can reach a file in it, so a file whose mode is not yet
 * set right (copyFile gives it the source's, setuid bits included) is never in anyone's reach.
 */
import { mkdirSync, rmdirSync, unlinkSync } from 'node:fs';
import { sameFolder, type Folder, type FolderId } from './folder.js';
import { pause } from './pause.js';
import { unlinkEach } from './remove-exact.js';
import { STAGING_LABEL, tempNames } from './temp.js';
import { currentRunner } from './trust.js';

export class Workspace {
  /** A new temporary name at the top of mediaRoot; `label` says what it stands for (an entry's name). */
  readonly tempName: (label?: string) => string;
  private staging: { name: string; folder: Folder } | undefined;
  private staged = 0;

  constructor(
    readonly root: Folder,
    readonly token: string,
  ) {
    this.tempName = tempNames(token);
  }

  /**
   * A name for a file of entry `name` in the staging folder (private: any name will do; the entry's and the file's, for
   * messages).
   */
  stagedName(name: string, rel: string): string {
    return `${this.staged++}-${name.slice(0, 64)}-${rel.slice(rel.lastIndexOf('/') + 1).slice(0, 64)}`;
  }

  /** A new private folder at the top of mediaRoot, open; the caller removes (or renames) it. */
  privateFolder(label?: string): { name: string; folder: Folder } {
    const name = this.tempName(label);
    mkdirSync(this.root.at(name), 0o700);
    pause('private', name);
    let folder: Folder;
    try {
      folder = this.root.open(name);
    } catch (error) {
      // A link or a file put at the run's own temporary name since the mkdir (the folder made renamed away) is
      // unlinked, never followed, as removeOwnTree does with one; a folder is never removed here (nor below).
      dropNonFolder(this.root, name);
      throw error;
    }
    try {
      const stat = folder.stat();
      const runner = currentRunner();
      // Made just now by this run: anything else (swapped in since) is not ours to fill.
      if ((runner && stat.uid !== runner.uid) || (stat.mode & 0o077) !== 0 || folder.list().length > 0) {
        throw Object.assign(new Error(`EEXIST: ${name} was replaced while the run made it`), {
          code: 'EEXIST',
          syscall: 'mkdir',
          path: folder.path,
        });
      }
    } catch (error) {
      folder.close();
      dropNonFolder(this.root, name);
      throw error;
    }
    return { name, folder };
  }

  /** The run's staging folder, made on first use. */
  stage(): Folder {
    this.staging ??= this.privateFolder(STAGING_LABEL);
    return this.staging.folder;
  }

  /** Removes the staging folder (empty once every staged file is in place; else what the run left there). */
  close(): void {
    const staging = this.staging;
    if (!staging) return;
    this.staging = undefined;
    try {
      for (const entry of staging.folder.list()) unlinkSync(staging.folder.at(entry.name));
    } finally {
      staging.folder.close();
    }
    removeEmptyFolder(this.root, staging.name);
  }
}

/** rmdir of `name` in `parent`, if it is still an empty folder; true when it went. */
export function removeEmptyFolder(parent: Folder, name: string): boolean {
  try {
    rmdirSync(parent.at(name));
    return true;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOTEMPTY' || code === 'EEXIST' || code === 'ENOENT' || code === 'ENOTDIR') return false;
    throw error;
  }
}

/**
 * Removes a tree the tool made itself (a temporary folder), through open folders: never through
 * a link, at any depth. A link or file at `name` is removed as itself. `expected`: the folder
 * the tool made, when it knows it; another folder at that name is left as it is.
 */
export function removeOwnTree(parent: Folder, name: string, expected?: FolderId): void {
  let folder: Folder;
  try {
    folder = parent.open(name);
    if (expected && !sameFolder(folder, expected)) {
      folder.close();
      return;
    }
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return;
    if (code !== 'ENOTDIR' && code !== 'ELOOP') throw error;
    // A link or a file at the name: unlinked as itself (unlinkEach, as where others may write). A folder put there
    // since the open failed is not the one expected, nor known to be the run's: left as it is, never emptied.
    unlinkEach(parent, [name]);
    return;
  }
  try {
    for (const entry of folder.list()) {
      if (entry.isDirectory()) removeOwnTree(folder, entry.name);
      else unlinkEach(folder, [entry.name]);
    }
  } finally {
    folder.close();
  }
  removeEmptyFolder(parent, name);
}

/** unlinkEach of the one name, and whatever fails leaves it there. */
function dropNonFolder(folder: Folder, name: string): void {
  try {
    unlinkEach(folder, [name]);
  } catch {
    // left as it is: the run's error says why
  }
}
