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
import { statfsSync } from 'node:fs';

/** `statfs` f_type values (linux/magic.h) of local file systems with real change times. */
const KEEP_CHANGE_TIMES = new Set([
  0xef53, // ext2, ext3, ext4
  0x58465342, // xfs
  0x9123683e, // btrfs
  0x01021994, // tmpfs
  0xf2f52010, // f2fs
  0x794c7630, // overlayfs (a container's root): a folder copied up to the upper layer gets a new ctime
]);

/** Whether `folder` is on a file system whose folder ctimes can vouch for their names (see above). */
export function keepsChangeTimes(folder: string): boolean {
  if (process.platform !== 'linux') return false;
  try {
    return KEEP_CHANGE_TIMES.has(Number(statfsSync(folder).type));
  } catch {
    return false;
  }
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
