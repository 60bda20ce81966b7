/**
 * Who besides the runner can change a folder the tool writes in. A user who can write mediaRoot,
 * or any folder on the way to it, can swap what the tool is about to delete or write for a link
 * elsewhere, or plant a records file that claims someone else's files. Node has no `openat()`
 * to defend every step of that (fs/folder.ts narrows it), so a writing run refuses, as logrotate
 * refuses a folder writable by a user or group other than root, and as systemd-tmpfiles refuses
 * an "unsafe path transition": unless the config says the folder is shared on purpose
 * (`sharedMediaRoot`), it must be writable by the runner and root alone.
 *
 * Folders above mediaRoot may be writable by others when their sticky bit is set (/tmp): then
 * nobody can rename or remove a name in them that they do not own, and the next folder down is
 * checked for its own owner. mediaRoot itself may not be shared even so.
 */
import { lstatSync, readFileSync, readlinkSync, type Stats } from 'node:fs';
import path from 'node:path';

export interface Runner {
  uid: number;
  gid: number;
}

export interface OtherWriter {
  /** The folder others can write: mediaRoot or one on the way to it. */
  folder: string;
  /** `user nobody (uid 65534)`, `group www-data (gid 33)`, `everyone`. */
  who: string;
}

/** The process's effective user and group; undefined where the system has none (Windows). */
export function currentRunner(): Runner | undefined {
  if (typeof process.geteuid !== 'function' || typeof process.getegid !== 'function') return undefined;
  return { uid: process.geteuid(), gid: process.getegid() };
}

const MAX_HOPS = 40;
const STICKY = 0o1000;

/**
 * The first folder on the way to `target` (absolute; what exists of it) that someone other than
 * the runner and root can write, or undefined. Links on the way are followed step by step: the
 * folder that holds a link is checked, since whoever can write there can change the link.
 */
export function otherWriter(
  target: string,
  runner: Runner | undefined = currentRunner(),
  options: { sharedLast?: boolean } = {},
): OtherWriter | undefined {
  if (!runner) return undefined;
  const queue = path.resolve(target).split(path.sep).filter(Boolean);
  let current = path.parse(path.resolve(target)).root;
  let hops = 0;
  const rootProblem = writerOf(lstatSync(current), queue.length === 0, runner);
  if (rootProblem) return { folder: current, who: rootProblem };
  while (queue.length > 0) {
    const part = queue.shift() as string;
    if (part === '.') continue;
    if (part === '..') {
      current = path.dirname(current);
      continue;
    }
    const next = path.join(current, part);
    let stat: Stats;
    try {
      stat = lstatSync(next);
    } catch {
      break; // the rest is made by the tool itself (or is an error the run reports)
    }
    if (stat.isSymbolicLink()) {
      if (++hops > MAX_HOPS) break;
      const text = readlinkSync(next);
      queue.unshift(...text.split(/[\\/]+/).filter(Boolean));
      if (path.isAbsolute(text)) current = path.parse(text).root;
      continue;
    }
    if (!stat.isDirectory()) break;
    // `sharedLast`: the target itself is shared on purpose (sharedMediaRoot); the folders above still may not be.
    const problem = options.sharedLast && queue.length === 0 ? undefined : writerOf(stat, queue.length === 0, runner);
    if (problem) return { folder: next, who: problem };
    current = next;
  }
  return undefined;
}

/**
 * Who other than the runner and root can write a folder (or file) with these facts, if anyone.
 * `last`: the object itself (its sticky bit does not help: others could still add names).
 */
export function writerOf(stat: Pick<Stats, 'uid' | 'gid' | 'mode'>, last: boolean, runner: Runner): string | undefined {
  if (stat.uid !== runner.uid && stat.uid !== 0) return `user ${userName(stat.uid)} (uid ${stat.uid})`;
  const shielded = !last && (stat.mode & STICKY) !== 0;
  if ((stat.mode & 0o002) !== 0 && !shielded) return 'everyone';
  // A group's other members can write too: only a group of the runner's alone (a personal group,
  // as Debian gives each user) is as good as the runner. (Access control lists are not read: Node
  // cannot; see docs/safety.md.)
  if ((stat.mode & 0o020) !== 0 && !shielded && !soleMember(stat.gid, runner))
    return `group ${groupName(stat.gid)} (gid ${stat.gid})`;
  return undefined;
}

/** Whether no user but the runner (and root) belongs to group `gid`: as primary group or as a listed member. */
function soleMember(gid: number, runner: Runner): boolean {
  if (gid !== runner.gid && gid !== 0) return false;
  const { users, primary, members } = (names ??= readNames());
  const runnerName = users.get(runner.uid);
  for (const [uid, group] of primary) if (group === gid && uid !== runner.uid && uid !== 0) return false;
  for (const member of members.get(gid) ?? []) if (member !== runnerName && member !== 'root') return false;
  return true;
}

let names:
  | {
      users: Map<number, string>;
      groups: Map<number, string>;
      primary: Map<number, number>;
      members: Map<number, string[]>;
    }
  | undefined;

export function userName(uid: number): string {
  return (names ??= readNames()).users.get(uid) ?? String(uid);
}

function groupName(gid: number): string {
  return (names ??= readNames()).groups.get(gid) ?? String(gid);
}

/** Names from /etc/passwd and /etc/group, for messages (a missing or odd file only costs the names). */
function readNames(): NonNullable<typeof names> {
  const lines = (file: string): string[][] => {
    try {
      return readFileSync(file, 'utf8')
        .split('\n')
        .map((line) => line.split(':'));
    } catch {
      return [];
    }
  };
  const users = new Map<number, string>();
  const primary = new Map<number, number>();
  for (const [name, , id, gid] of lines('/etc/passwd')) {
    if (!name || !id || !/^\d+$/.test(id)) continue;
    if (!users.has(Number(id))) users.set(Number(id), name);
    if (gid && /^\d+$/.test(gid)) primary.set(Number(id), Number(gid));
  }
  const groups = new Map<number, string>();
  const members = new Map<number, string[]>();
  for (const [name, , id, list] of lines('/etc/group')) {
    if (!name || !id || !/^\d+$/.test(id)) continue;
    if (!groups.has(Number(id))) groups.set(Number(id), name);
    members.set(
      Number(id),
      (list ?? '')
        .split(',')
        .map((member) => member.trim())
        .filter(Boolean),
    );
  }
  return { users, groups, primary, members };
}
