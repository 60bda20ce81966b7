/**
 * Whether a folder's change time (ctime) can vouch for its names: the ground for a copy's
 * source stamps (core/fs/stamp.ts, sourceStamps). On the file systems named here, Linux gives a
 * folder the current time as its ctime whenever a name in it is added, removed or renamed, and
 * whenever its times are set; no call sets it back, and names are matched byte for byte (or
 * the folder is case-folded, which the walk checks for itself). Elsewhere it may not be so: FAT and
 * exFAT report the modification time as ctime (anything that restores a folder's times, `cp -a`,
 * `rsync -a`, `unzip`, sets it back), a network file system may show an old ctime from its
 * cache, FUSE file systems report what they like. There, and on other systems than Linux, a copy
 * gets no source stamps and every run lists every source folder, as before.
 */
import { existsSync, statfsSync } from 'node:fs';

const EXT4 = 0xef53; // ext2, ext3, ext4
const XFS = 0x58465342;
const BTRFS = 0x9123683e;
const TMPFS = 0x01021994;
const F2FS = 0xf2f52010;
const OVERLAYFS = 0x794c7630; // a container's root: a folder copied up to the upper layer gets a new ctime

/** `statfs` f_type values (linux/magic.h) of local file systems with real change times. */
const KEEP_CHANGE_TIMES = new Set([EXT4, XFS, BTRFS, TMPFS, F2FS, OVERLAYFS]);

export interface ChangeTimes {
  /** Whether the folder's ctimes can vouch for its names (see above). */
  keep: boolean;
  /** Whether a folder there may be case-folded (finds a name in other case): see `mayFoldCase`. */
  mayFoldCase: boolean;
}

/** What the file system `folder` is on says of its change times and names. */
export function changeTimesOf(folder: string): ChangeTimes {
  if (process.platform !== 'linux') return { keep: false, mayFoldCase: true };
  let type: number;
  try {
    type = Number(statfsSync(folder).type);
  } catch {
    return { keep: false, mayFoldCase: true };
  }
  return { keep: KEEP_CHANGE_TIMES.has(type), mayFoldCase: mayFoldCase(type) };
}

/** What sysfs said of the kernel's Unicode case folding (it does not change while the process runs). */
const unicodeFolding = new Map<string, boolean>();

/**
 * Whether a folder on a file system of `type` may be case-folded. xfs may be made case-insensitive
 * (ASCII) whatever the kernel; btrfs never is; ext4, f2fs and tmpfs fold only on a kernel built with
 * Unicode case folding (CONFIG_UNICODE), which ext4 shows as a `casefold` feature in sysfs (`sysfs`:
 * where sysfs's file systems are). Where sysfs says nothing, a folder may be.
 */
export function mayFoldCase(type: number, sysfs = '/sys/fs'): boolean {
  if (type === BTRFS) return false;
  if (type !== EXT4 && type !== F2FS && type !== TMPFS) return true;
  let folds = unicodeFolding.get(sysfs);
  if (folds === undefined) {
    folds = !existsSync(`${sysfs}/ext4/features`) || existsSync(`${sysfs}/ext4/features/casefold`);
    unicodeFolding.set(sysfs, folds);
  }
  return folds;
}

/**
 * The time (ms since the epoch, the clock file times are given in) before which a change must
 * have been made to be seen by a walk that began at `startedAt` (Date.now()) and `startedTick`
 * (performance.now()): the earlier of that start and the start as measured back from now on the
 * monotonic clock. If the wall clock stepped back during the run (NTP, a resume), a change made
 * after the walk may carry a time from before its start; measured back from now, it does not.
 */
export function walkStart(startedAt: number, startedTick: number): number {
  return Math.min(startedAt, Date.now() - (performance.now() - startedTick));
}
