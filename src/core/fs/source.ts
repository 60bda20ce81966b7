/**
 * Reading an app's media file for a copy: opened without following a link and without blocking
 * (a FIFO put in its place cannot hang the run), and checked to be the very file the walk saw
 * (device, inode, size, time). Only then is it copied, through the open file itself where the
 * system allows it: a file swapped for a link to a private file after the walk is refused, and
 * nothing it leads to is read.
 */
import { closeSync, constants, fstatSync, openSync, readlinkSync, realpathSync } from 'node:fs';
import path from 'node:path';
import { folderKind, FolderTree, openFolder, sameFolder, type Folder, type FolderId } from './folder.js';
import { isInside, type FileFacts } from './walk.js';

const { O_RDONLY, O_NOFOLLOW, O_NONBLOCK } = constants;

/** A source file that is not (or no longer) the one the plan saw: that app's error, nothing of it copied. */
export class SourceChanged extends Error {
  readonly code = 'APP_MEDIA_SOURCE_CHANGED';
}

export interface OpenSource {
  /**
   * A path that names the open file itself, for copyFile (on Linux, through /proc); undefined
   * where the system has no such path: then the copy reads from `fd`, never from the path again.
   */
  path: string | undefined;
  fd: number;
  close(): void;
}

/**
 * Opens `file` (`rel`: its path in the app's media, for messages) if it is still the regular
 * file `facts` describes. The caller closes it once the copy is done.
 */
export function openSource(
  file: string,
  rel: string,
  facts: Pick<FileFacts, 'dev' | 'ino' | 'size' | 'mtimeMs'>,
): OpenSource {
  let fd: number;
  try {
    fd = openSync(file, O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ELOOP' || code === 'ENOENT' || code === 'ENOTDIR' || code === 'ENXIO') {
      throw new SourceChanged(
        `${rel} was replaced or removed while the run was copying (${code}); nothing it leads to was copied`,
      );
    }
    throw error;
  }
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile()) throw new SourceChanged(`${rel} is no longer a regular file; it was not copied`);
    if (stat.dev !== facts.dev || stat.ino !== facts.ino)
      throw new SourceChanged(`${rel} was replaced by another file while the run was copying; it was not copied`);
    if (stat.size !== facts.size || Math.abs(stat.mtimeMs - facts.mtimeMs) >= 1)
      throw new SourceChanged(`${rel} changed while the run was copying; it was not copied`);
  } catch (error) {
    closeSync(fd);
    throw error;
  }
  return {
    path: folderKind() === 'descriptor' ? `/proc/self/fd/${fd}` : undefined,
    fd,
    close: () => closeSync(fd),
  };
}

/**
 * An app's media folder held open while its files are copied: opened when the copy starts, it
 * must be the folder the run's look saw (device, inode) and still inside the app's folder; each
 * file is then opened through its folders, each opened without following a link (fs/folder.ts).
 * A walk that a racer fooled (a folder swapped for a link to a private folder while it was
 * listed) gives facts no file reached this way has: such a file is refused, never copied.
 */
export class MediaReader {
  private readonly tree: FolderTree;

  private constructor(
    private readonly folder: Folder,
    private readonly real: string,
  ) {
    this.tree = new FolderTree(folder);
  }

  /** `expected`: the media folder as the run's look saw it, if it did. */
  static open(mediaDir: string, appDir: string, expected: FolderId | undefined): MediaReader {
    let folder: Folder;
    try {
      // The media folder may itself be a link inside its app: followed, then checked.
      folder = openFolder(mediaDir, { follow: true });
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR')
        throw new SourceChanged(`the media folder was removed while the run was copying (${code})`);
      throw error;
    }
    try {
      const real = folderKind() === 'descriptor' ? readlinkSync(folder.here()) : realpathSync(mediaDir);
      if (!isInside(realpathSync(appDir), real))
        throw new SourceChanged(
          `the media folder now leads outside the app's folder (to ${real}); nothing of it was copied`,
        );
      if (expected && !sameFolder(folder, expected))
        throw new SourceChanged(
          'the media folder was replaced by another folder while the run was copying; nothing of it was copied',
        );
      return new MediaReader(folder, real);
    } catch (error) {
      folder.close();
      throw error;
    }
  }

  /**
   * Opens the file at `rel` in the media folder (`linkedTo`: the real path of the file a link at
   * `rel` leads to, inside the folder, as the walk resolved it), if it is the file `facts` describe.
   */
  open(rel: string, facts: Pick<FileFacts, 'dev' | 'ino' | 'size' | 'mtimeMs'>, linkedTo?: string): OpenSource {
    const target = linkedTo === undefined ? rel : path.relative(this.real, linkedTo).split(path.sep).join('/');
    if (target === '' || target.startsWith('..') || path.isAbsolute(target))
      throw new SourceChanged(`${rel} leads outside the media folder; it was not copied`);
    let parent: Folder;
    let base: string;
    try {
      [parent, base] = this.tree.parentOf(target);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOTDIR' || code === 'ELOOP' || code === 'ENOENT')
        throw new SourceChanged(
          `${rel}: a folder on its way was replaced or removed while the run was copying (${code}); ` +
            `nothing it leads to was copied`,
        );
      throw error;
    }
    return openSource(parent.at(base), rel, facts);
  }

  close(): void {
    this.tree.close();
    this.folder.close();
  }
}

/**
 * The permission bits a copy gets: the source's read and execute bits and its owner's write bit;
 * never setuid, setgid or sticky (a copy made as root must not hand out root), never write for
 * group or others (mediaRoot is public; a copy anyone could rewrite would be served).
 */
export function copyMode(sourceMode: number): number {
  return sourceMode & 0o755;
}
