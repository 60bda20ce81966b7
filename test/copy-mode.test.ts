/**
 * Copy mode as production uses it (issue 5; spec §4, §6 rules 4 and 5):
 * incremental, crash-safe under a real `kill -9`, race-safe with real
 * concurrent processes, `ignore`, links inside media, mtimes and modes, the
 * progress line on a real pseudo-terminal, media:watch with real file
 * changes, and failures (EACCES as an unprivileged user; ENOSPC and a source
 * vanishing mid-run by an LD_PRELOAD shim, test/support/faults.c).
 */
import { expect } from 'chai';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import {
  chmodSync, chownSync, cpSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, renameSync, rmdirSync, rmSync, statSync, symlinkSync, unlinkSync, utimesSync, writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

/** A pid no process has now: one that just ended. */
function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  return Number(child.stdout);
}

/** The unprivileged user of the permission tests (nobody). */
const NOBODY = 65534;
import { link, verify } from '../src/index.js';
import {
  APP_MEDIA_BIN, appMedia, commandArgs, exists, GULP_BIN, gulp, isLink, jsonReport, linkedInProcess, makeProject, projectState, REPO, removeTempDirs, sha, snapshot, tempDir, verifiedInProcess, viaCommand, writeTree, type RunResult,
} from './support/project.js';

const TEMP_MARK = '.app-media-tmp-';
const LOCK = '.app-media.lock';
const MANIFEST = '.app-media.json';

/** Every child this file spawns, so none outlives a failed test. */
const children = new Set<ChildProcess>();
after(() => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  removeTempDirs();
});

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `check` every `step` ms until it holds or `ms` pass; returns whether it held. */
async function waitFor(check: () => boolean, ms: number, step = 25): Promise<boolean> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (check()) return true;
    if (Date.now() > deadline) return false;
    await sleep(step);
  }
}

function copyConfig(apps: string[], extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { mediaRoot: 'public/media', mode: 'copy', apps: apps.map((name) => `./apps/${name}`), ...extra };
}

const mediaOf = (root: string): string => path.join(root, 'public/media');
const sourceOf = (root: string, name: string): string => path.join(root, 'apps', name, 'app_media', name);

/** Regular files below `dir` (links not followed): relative path → sha256. */
function fileShas(dir: string, skip: (rel: string) => boolean = () => false): Map<string, string> {
  const out = new Map<string, string>();
  if (!exists(dir)) return out;
  for (const [rel, entry] of snapshot(dir, { skip })) if (entry.type === 'file') out.set(rel, entry.sha);
  return out;
}

/** What mediaRoot publishes: every file below the app entries, without the tool's own files (records, lock, temporary names). */
function published(root: string): Map<string, string> {
  return fileShas(mediaOf(root), (rel) => rel.startsWith('.app-media') || path.posix.basename(rel).startsWith(TEMP_MARK));
}

/** What mediaRoot must publish for these apps: every source file, as `<name>/<rel>`. */
function expectedOf(root: string, apps: string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const name of apps) for (const [rel, hash] of fileShas(sourceOf(root, name))) out.set(`${name}/${rel}`, hash);
  return out;
}

/** Names anywhere below `dir` that are the tool's temporary files or folders. */
function temporaries(dir: string): string[] {
  const found: string[] = [];
  const visit = (folder: string, rel: string): void => {
    let names: string[];
    try {
      names = readdirSync(folder);
    } catch {
      return;
    }
    for (const name of names) {
      const childRel = rel ? `${rel}/${name}` : name;
      if (name.startsWith(TEMP_MARK)) found.push(childRel);
      const full = path.join(folder, name);
      let isDir = false;
      try {
        isDir = lstatSync(full).isDirectory();
      } catch {
        // gone meanwhile (a run at work)
      }
      if (isDir) visit(full, childRel);
    }
  };
  visit(dir, '');
  return found;
}

/** Lock files, and lock files moved aside while breaking a stale one. */
function locks(root: string): string[] {
  if (!exists(mediaOf(root))) return [];
  return readdirSync(mediaOf(root)).filter((name) => name.startsWith(LOCK));
}

/**
 * The lock is there and written. Not the moment it appears: a kill between its creation and
 * its first write leaves an empty lock, which costs the next run a 5 s wait (see the skipped test).
 */
function lockWritten(media: string): boolean {
  try {
    return statSync(path.join(media, LOCK)).size > 0;
  } catch {
    return false;
  }
}

function readManifest(root: string): { entries: Record<string, { kind: string; files?: Record<string, [number, number]> }> } {
  return JSON.parse(readFileSync(path.join(mediaOf(root), MANIFEST), 'utf8')) as ReturnType<typeof readManifest>;
}

/** The state a user and a web server see is complete and right, and nothing of a run is left behind. */
/**
 * A first copy where one app failed with `code`: that app is error, the other two copied, the run
 * exit non-zero, and nothing partial or left over in mediaRoot. Returns the report's apps by name.
 */
function expectOneFailed(root: string, run: RunResult, failed: string, code: string): Record<string, Record<string, unknown>> {
  expect(run.status, run.output).to.not.equal(0);
  const byName = Object.fromEntries(jsonReport(run).apps.map((app) => [String(app['name']), app]));
  expect(byName[failed]).to.include({ status: 'error' });
  expect(String(byName[failed]?.['reason'])).to.contain(code);
  for (const name of ['blog', 'shop']) expect(byName[name], name).to.include({ status: 'copied' });
  expect(exists(path.join(mediaOf(root), failed)), 'no partial copy at the published path').to.equal(false);
  expect(temporaries(mediaOf(root))).to.deep.equal([]);
  expect(locks(root)).to.deep.equal([]);
  return byName;
}

function expectConverged(root: string, apps: string[], label = ''): void {
  expect(temporaries(mediaOf(root)), `${label} temporary files left`).to.deep.equal([]);
  expect(locks(root), `${label} lock left`).to.deep.equal([]);
  expect(Object.fromEntries(published(root)), `${label} published files equal their sources`).to.deep.equal(Object.fromEntries(expectedOf(root, apps)));
}

interface Spawned {
  child: ChildProcess;
  /** Resolves at exit with the output so far. */
  done: Promise<RunResult & { signal: NodeJS.Signals | null }>;
  output(): string;
}

/** The real gulp CLI, started without waiting for it. */
function spawnGulp(cwd: string, args: string[], env: NodeJS.ProcessEnv = {}, command: string[] = []): Spawned {
  return spawnTool([...command, process.execPath, GULP_BIN, '--no-color', ...args], cwd, env);
}

/** The `app-media` command, started without waiting for it (`media:link` is given as `link`). */
function spawnAppMedia(cwd: string, args: string[], env: NodeJS.ProcessEnv = {}): Spawned {
  return spawnTool([process.execPath, APP_MEDIA_BIN, ...commandArgs(args)], cwd, env);
}

function spawnTool(argv: string[], cwd: string, env: NodeJS.ProcessEnv): Spawned {
  const child = spawn(argv[0] as string, argv.slice(1), {
    cwd,
    env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => { stdout += chunk; });
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => { stderr += chunk; });
  const done = new Promise<RunResult & { signal: NodeJS.Signals | null }>((resolve) => {
    child.once('close', (status, signal) => {
      children.delete(child);
      resolve({ status, signal, stdout, stderr, output: `${stdout}${stderr}` });
    });
  });
  return { child, done, output: () => `${stdout}${stderr}` };
}

/** Fills an app's media with `count` files of `size` random bytes, spread over `dirs` folders. */
function bulkMedia(root: string, name: string, count: number, size: number, dirs = 4): void {
  for (let index = 0; index < count; index++) {
    const dir = path.join(sourceOf(root, name), `d${index % dirs}`);
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, `f${index}.bin`), randomBytes(size));
  }
}

/** Sets a file's mtime to `seconds` after the epoch (plain numbers: sub-millisecond times stay exact). */
function setMtime(file: string, seconds: number): void {
  utimesSync(file, seconds, seconds);
}

// ---------------------------------------------------------------------------

describe('copy mode: incremental (size + mtime; --checksum compares contents)', () => {
  // The first test runs gulp; the others run the app-media command (see `viaCommand`).

  it('a re-run with no change writes nothing at all: same inodes and mtimes, mediaRoot\'s own mtime unchanged, no lock made', () => {
    const root = makeProject({ apps: ['blog', 'shop'], config: copyConfig(['blog', 'shop']) });
    const first = gulp(root, ['media:link']);
    expect(first.status, first.output).to.equal(0);
    expect(first.stdout).to.match(/media:link: 2 copied/);
    const media = mediaOf(root);
    const before = Object.fromEntries(snapshot(media));
    const rootBefore = statSync(media);
    const parentBefore = statSync(path.dirname(media));

    const again = gulp(root, ['media:link']);
    expect(again.status, again.output).to.equal(0);
    expect(again.stdout).to.match(/media:link: 2 up-to-date/);
    expect(Object.fromEntries(snapshot(media)), 'every entry below mediaRoot as it was (inode, mtime, sha, mode)').to.deep.equal(before);
    expect(statSync(media).mtimeMs, 'mediaRoot\'s own mtime: no lock or temporary file was made in it').to.equal(rootBefore.mtimeMs);
    expect(statSync(media).ctimeMs, 'mediaRoot\'s own ctime').to.equal(rootBefore.ctimeMs);
    expect(statSync(path.dirname(media)).mtimeMs).to.equal(parentBefore.mtimeMs);
    expect(exists(path.join(media, LOCK))).to.equal(false);
  });

  it('what a killed run left at the top of mediaRoot is swept by the next run, which has nothing else to do; files of yours with look-alike names stay', async () => {
    const root = makeProject({ apps: ['blog', 'shop'], config: copyConfig(['blog', 'shop']) });
    await linkedInProcess(root);
    // A run killed mid-copy: its lock (its process gone), a copy half built, its records' temporary file.
    const token = randomBytes(8).toString('hex');
    const host = createHash('sha256').update(hostname()).digest('hex').slice(0, 16);
    writeFileSync(path.join(mediaOf(root), LOCK), `${JSON.stringify({ pid: deadPid(), host, token })}\n`);
    writeTree(mediaOf(root), { [`${TEMP_MARK}${token}-0c0ffee00-zoo/css/zoo.css`]: '.zoo { col', [`${TEMP_MARK}${token}-1c0ffee00-.app-media.json`]: '{ "tool"' });
    chmodSync(path.join(mediaOf(root), `${TEMP_MARK}${token}-0c0ffee00-zoo`), 0o700); // a run's private folder
    // A folder at a name of that run that is not private: someone else may have put (or renamed) it there.
    const notPrivate = `${TEMP_MARK}${token}-2c0ffee00-archive`;
    writeTree(mediaOf(root), { [`${notPrivate}/2025.tar`]: 'yours' });
    // Yours: names that look like the tool's, at the top and inside a copy.
    const yours = {
      [`${TEMP_MARK}notes.txt`]: 'my notes', [`${TEMP_MARK}drafts/a.txt`]: 'draft', [`${LOCK}.txt`]: 'not a lock',
      [`${TEMP_MARK}0123456789abcdef-0c0ffee00-x`]: 'no run with this token left a lock', [`shop/css/${TEMP_MARK}mine.css`]: 'mine',
    };
    writeTree(mediaOf(root), yours);
    const again = appMedia(root, ['link']);
    expect(again.status, again.output).to.equal(0);
    expect(again.stdout).to.match(/2 up-to-date/);
    expect(again.output).to.match(/removed 2 temporary files left by an interrupted run/);
    expect(again.output).to.match(new RegExp(`left public/media/${notPrivate}/ \\(temporary folder of an interrupted run that app-media cannot prove is its own`));
    expect(readFileSync(path.join(mediaOf(root), notPrivate, '2025.tar'), 'utf8')).to.equal('yours');
    expect(again.output, 'a file added by hand in a copy is named').to.match(new RegExp(`kept css/${TEMP_MARK}mine\\.css \\(added by hand`));
    for (const [rel, text] of Object.entries(yours)) expect(readFileSync(path.join(mediaOf(root), rel), 'utf8'), rel).to.equal(text);
    expect(readdirSync(mediaOf(root)).filter((name) => (name.includes(token) && name !== notPrivate && !name.startsWith(`${LOCK}.`)) || name === LOCK)).to.deep.equal([]);
  });

  it('rewrites a changed source file, removes a file (and a folder) deleted from the source, adds a new one; touches nothing else', async () => {
    const root = makeProject({ apps: ['blog', 'shop'], config: copyConfig(['blog', 'shop']), files: { 'apps/blog/app_media/blog/old/gone.txt': 'bye' } });
    await linkedInProcess(root);
    const media = mediaOf(root);
    const before = snapshot(media);
    const src = sourceOf(root, 'blog');
    writeFileSync(path.join(src, 'css/blog.css'), '.blog { color: red; }\n');
    setMtime(path.join(src, 'css/blog.css'), 1_700_000_000.5);
    rmSync(path.join(src, 'js/blog.js'));
    rmSync(path.join(src, 'old'), { recursive: true });
    writeTree(src, { 'fonts/new.woff2': 'woff' });

    const run = viaCommand(root, ['media:link']);
    expect(run.status, run.output).to.equal(0);
    expect(run.stdout).to.match(/copied\s+blog\s+public\/media\/blog -> apps\/blog\/app_media\/blog \(copy, 2 files/);
    expect(run.stdout).to.match(/media:link: 1 copied, 1 up-to-date/);
    expectConverged(root, ['blog', 'shop']);
    expect(exists(path.join(media, 'blog/js/blog.js')), 'deleted source file removed from the copy').to.equal(false);
    expect(exists(path.join(media, 'blog/old')), 'folder deleted from the source removed from the copy').to.equal(false);
    expect(statSync(path.join(media, 'blog/css/blog.css')).mtimeMs).to.be.closeTo(1_700_000_000_500, 0.01);
    const after = snapshot(media);
    // Files not changed in the source were not rewritten: same inode and mtime.
    for (const rel of ['blog/img/blog.png', 'shop/css/shop.css', 'shop/js/shop.js', 'shop/img/shop.png']) {
      expect(after.get(rel), rel).to.deep.equal(before.get(rel));
    }
    const record = readManifest(root).entries['blog'];
    expect(Object.keys(record?.files ?? {}).sort()).to.deep.equal(['css/blog.css', 'fonts/new.woff2', 'img/blog.png']);
  });

  it('a file a user added inside the copy is kept and reported; the source\'s changes are still mirrored', async () => {
    const root = makeProject({ apps: ['blog'], config: copyConfig(['blog']) });
    await linkedInProcess(root);
    const mine = path.join(mediaOf(root), 'blog/css/mine.css');
    writeFileSync(mine, '/* mine */');
    writeFileSync(path.join(sourceOf(root, 'blog'), 'js/blog.js'), 'console.log("v2");\n');
    rmSync(path.join(sourceOf(root, 'blog'), 'img/blog.png'));

    const run = viaCommand(root, ['media:link']);
    // Kept and named, but not in the app's way: not a conflict (media:verify still reports it as drift).
    expect(run.status, run.output).to.equal(0);
    expect(run.output).to.match(/kept css\/mine\.css \(added by hand/);
    expect(readFileSync(mine, 'utf8'), 'the user\'s file is kept').to.equal('/* mine */');
    expect(sha(readFileSync(path.join(mediaOf(root), 'blog/js/blog.js')))).to.equal(sha('console.log("v2");\n'));
    expect(exists(path.join(mediaOf(root), 'blog/img/blog.png'))).to.equal(false);
    expect(temporaries(mediaOf(root))).to.deep.equal([]);
    // media:clean removes the tool's files and keeps the user's, with its folder.
    const cleaned = viaCommand(root, ['media:clean']);
    expect(cleaned.status, cleaned.output).to.equal(0);
    expect(readFileSync(mine, 'utf8')).to.equal('/* mine */');
    expect(exists(path.join(mediaOf(root), 'blog/js/blog.js'))).to.equal(false);
  });

  it('--checksum: a source edit that keeps size and mtime is rewritten only with --checksum', async () => {
    const root = makeProject({ apps: ['blog'], config: copyConfig(['blog']) });
    await linkedInProcess(root);
    const source = path.join(sourceOf(root, 'blog'), 'css/blog.css');
    const copy = path.join(mediaOf(root), 'blog/css/blog.css');
    setMtime(source, 1_700_000_000);
    await linkedInProcess(root);
    const original = readFileSync(source, 'utf8');
    const stat = statSync(source);
    const edited = original.replace('teal', 'pink'); // same length
    expect(edited.length).to.equal(original.length);
    writeFileSync(source, edited);
    setMtime(source, 1_700_000_000);
    expect(statSync(source).mtimeMs).to.equal(stat.mtimeMs);

    const plain = viaCommand(root, ['media:link']);
    expect(plain.status, plain.output).to.equal(0);
    expect(plain.stdout).to.match(/media:link: 1 up-to-date/);
    expect(readFileSync(copy, 'utf8'), 'size + mtime cannot see the edit').to.equal(original);

    const checked = viaCommand(root, ['media:link', '--checksum']);
    expect(checked.status, checked.output).to.equal(0);
    expect(checked.stdout).to.match(/copied\s+blog.*\(copy, 1 file,/);
    expect(readFileSync(copy, 'utf8')).to.equal(edited);
    expect(statSync(copy).mtimeMs).to.be.closeTo(stat.mtimeMs, 1);
    expectConverged(root, ['blog']);
    await verifiedInProcess(root);
  });

  it('--checksum: a copy file with the right contents but another mtime is only re-timed (same inode), not rewritten', async () => {
    const root = makeProject({ apps: ['blog'], config: copyConfig(['blog']) });
    await linkedInProcess(root);
    const source = path.join(sourceOf(root, 'blog'), 'img/blog.png');
    const copy = path.join(mediaOf(root), 'blog/img/blog.png');
    // The source is re-saved with the same bytes (an editor, a checkout): only its time moves.
    setMtime(source, 1_600_000_000.25);
    const inode = statSync(copy).ino;
    const others = snapshot(path.join(mediaOf(root), 'blog/css'));

    const run = viaCommand(root, ['media:link', '--checksum', '--json', '--silent']);
    expect(run.status, run.output).to.equal(0);
    const app = jsonReport(run).apps[0];
    expect(app?.['files'], 'no file rewritten').to.equal(0);
    expect(statSync(copy).ino, 'same inode').to.equal(inode);
    expect(statSync(copy).mtimeMs).to.be.closeTo(1_600_000_000_250, 0.01);
    expect(snapshot(path.join(mediaOf(root), 'blog/css'))).to.deep.equal(others);
    // And the next run (without --checksum) sees it as up to date.
    const again = viaCommand(root, ['media:link']);
    expect(again.stdout, again.output).to.match(/media:link: 1 up-to-date/);

    // The other way round: the copy's file got another time (a tool touched it), its bytes are right.
    setMtime(copy, 1_500_000_000);
    const retimed = viaCommand(root, ['media:link', '--checksum', '--json', '--silent']);
    expect(retimed.status, retimed.output).to.equal(0);
    expect(jsonReport(retimed).apps[0]?.['files'], 'no file rewritten').to.equal(0);
    expect(statSync(copy).ino, 'same inode').to.equal(inode);
    expect(statSync(copy).mtimeMs).to.be.closeTo(1_600_000_000_250, 0.01);
    expect(viaCommand(root, ['media:link']).stdout).to.match(/media:link: 1 up-to-date/);
    await verifiedInProcess(root);
  });
});

// ---------------------------------------------------------------------------

describe('copy mode: crash-safe under a real kill -9 (§6 rule 4)', function () {
  this.timeout(60_000);
  const APPS = ['a1', 'a2', 'a3', 'a4', 'a5'];
  const BULK = 120;
  const FILES = BULK + 3; // bulk files + the three of makeProject
  let root: string;
  let media: string;

  before(() => {
    root = makeProject({ apps: APPS, config: copyConfig(APPS) });
    media = mediaOf(root);
    // 5 apps × 120 files × 48 KiB (28 MiB): a copy takes a few hundred milliseconds.
    for (const name of APPS) bulkMedia(root, name, BULK, 48 * 1024);
  });

  interface Kill {
    /** The run was still going when it was killed. */
    midRun: boolean;
    /** Its temporary files or folders that the kill left on disk. */
    leftovers: number;
    /** The lock file was there right before the kill (the run was writing). */
    locked: boolean;
  }

  /**
   * Starts `app-media link` (with `env` added), waits until `when` holds (polled every ms),
   * waits `extra` ms more and kills it with SIGKILL. (The command, not gulp: a kill lands in
   * the same code either way, and gulp's start-up is most of a short run.)
   */
  async function killDuring(cwd: string, args: string[], when: (elapsed: number) => boolean, extra = 0, env: NodeJS.ProcessEnv = {}): Promise<Kill> {
    const run = spawnAppMedia(cwd, args, env);
    let exited = false;
    void run.done.then(() => { exited = true; });
    const started = Date.now();
    while (!exited && Date.now() - started < 15_000 && !when(Date.now() - started)) await sleep(1);
    if (extra > 0) await sleep(extra);
    const locked = exists(path.join(mediaOf(cwd), LOCK));
    run.child.kill('SIGKILL');
    const result = await run.done;
    return { midRun: result.signal === 'SIGKILL', leftovers: temporaries(mediaOf(cwd)).length, locked };
  }

  /**
   * A copy being built under its temporary name. Only a folder counts: the records file is also
   * written under a temporary name, for an instant, and a kill there may find it renamed already
   * (the test then counted one run too few that left temporary files: a flake seen in CI).
   */
  const tempAtTop = (): boolean => {
    try {
      return readdirSync(media, { withFileTypes: true }).some((entry) => entry.name.startsWith(TEMP_MARK) && entry.isDirectory());
    } catch {
      return false;
    }
  };
  const lockThere = (): boolean => lockWritten(media);
  /**
   * A file being staged for an update (the run stages new versions of a copy's files in a
   * private folder at the top of mediaRoot, then renames each into its place).
   */
  const staging = (): boolean => {
    try {
      return readdirSync(media, { withFileTypes: true }).some((entry) => entry.name.startsWith(TEMP_MARK) && entry.isDirectory()
        && readdirSync(path.join(media, entry.name)).length > 0);
    } catch {
      return false;
    }
  };
  /** The new file of this round already in place in app `name`'s copy: the update reached that app. */
  const placedIn = (name: string, round: () => number) => (): boolean => exists(path.join(media, name, 'd3', `new${round()}.bin`));

  /** Right after a kill: every published file is whole, each one equal to a version its source had. */
  function expectNoHalfFile(allowed: Map<string, Set<string>>, fresh: boolean, label: string): void {
    const seen = published(root);
    for (const [rel, hash] of seen) {
      expect(allowed.get(rel)?.has(hash), `${label}: ${rel} is a whole file of some version of its source`).to.equal(true);
    }
    if (fresh) {
      // A new copy is put in place whole: an entry is complete, or (claimed, not yet filled) empty.
      for (const name of APPS) {
        const count = [...seen.keys()].filter((rel) => rel.startsWith(`${name}/`)).length;
        expect([0, FILES], `${label}: ${name} holds ${count} files`).to.include(count);
      }
    }
  }

  /** The next normal run: exit 0, everything published and right, nothing left, verify passes. */
  async function recover(label: string, expected: Map<string, string>): Promise<void> {
    // The next normal run, as an npm script would start it.
    const run = appMedia(root, ['link']);
    expect(run.status, `${label}: the next normal run\n${run.output}`).to.equal(0);
    expect(temporaries(media), `${label}: temporary files left`).to.deep.equal([]);
    expect(locks(root), `${label}: lock left`).to.deep.equal([]);
    expect(Object.fromEntries(published(root)), `${label}: published files equal their sources`).to.deep.equal(Object.fromEntries(expected));
    const checked = await verify({ cwd: root });
    expect(checked.failed, `${label}: verify\n${JSON.stringify(checked.apps)}`).to.equal(false);
    expect(checked.counts).to.deep.equal({ ok: APPS.length });
    const manifest = readManifest(root);
    expect(Object.keys(manifest.entries).sort()).to.deep.equal(APPS);
    for (const name of APPS) expect(manifest.entries[name]?.kind, name).to.equal('copy');
  }

  it('a fresh copy killed at 6 moments: no half-written file is ever published; the next run converges, verify passes, nothing is left', async () => {
    const moments: Array<{ label: string; when: (elapsed: number) => boolean; extra?: number }> = [
      { label: 'at 40 ms (starting up)', when: (t) => t >= 40 },
      { label: 'as the lock is taken', when: lockThere },
      { label: 'as the first temporary folder appears', when: tempAtTop },
      { label: '30 ms into a temporary folder', when: tempAtTop, extra: 30 },
      { label: 'as a2 is put in place', when: () => exists(path.join(media, 'a2')) },
      { label: 'as a5 is put in place (records being written)', when: () => exists(path.join(media, 'a5')) },
    ];
    const expected = expectedOf(root, APPS);
    const allowed = new Map([...expected].map(([rel, hash]) => [rel, new Set([hash])]));
    // Files are copied one at a time: under the fault shim (Linux) each write into a temporary
    // folder first sleeps 1 ms, so a kill after one appears still finds one there.
    const shim = faultsShim().lib;
    const slowTemp = shim ? faultEnv(shim, { FAULT_SLOW_PATH: TEMP_MARK, FAULT_SLOW_US: '1000' }) : {};
    const kills: Kill[] = [];
    for (const moment of moments) {
      rmSync(media, { recursive: true, force: true });
      const kill = await killDuring(root, ['media:link'], moment.when, moment.extra ?? 0, slowTemp);
      kills.push(kill);
      expectNoHalfFile(allowed, true, moment.label);
      await recover(moment.label, expected);
    }
    expect(kills.filter((kill) => kill.midRun).length, 'kills that landed while the run was going').to.be.greaterThanOrEqual(5);
    if (shim) expect(kills.filter((kill) => kill.leftovers > 0).length, 'kills that left temporary files for the next run to sweep').to.be.greaterThanOrEqual(2);
    const checked = viaCommand(root, ['media:verify']);
    expect(checked.status, checked.output).to.equal(0);
  });

  it('an update (changed, added and deleted files) killed at 3 moments: every published file is the old or the new version, whole; then converges', async () => {
    rmSync(media, { recursive: true, force: true });
    await linkedInProcess(root);
    let round = 0;
    const moments: Array<{ label: string; when: (elapsed: number) => boolean; extra?: number }> = [
      { label: 'update: as the first new version is being staged', when: staging },
      { label: 'update: once a new file is in place in a3', when: placedIn('a3', () => round) },
      { label: 'update: 5 ms after a new file is in place in a4', when: placedIn('a4', () => round), extra: 5 },
    ];
    // Files are copied one at a time, each renamed into place as soon as it is written: a kill
    // lands beside a staged file only while one is being written. Under the fault shim (Linux),
    // each write of a staged file first sleeps 3 ms, so it does.
    const shim = faultsShim().lib;
    const slowD0 = shim ? faultEnv(shim, { FAULT_SLOW_PATH: '-staged/', FAULT_SLOW_US: '3000' }) : {};
    const kills: Kill[] = [];
    for (const moment of moments) {
      round++;
      const old = published(root);
      // Every app: a quarter of its files (those in d0) get new contents of another size, one file goes, one comes.
      for (const name of APPS) {
        for (let index = 0; index < BULK; index += 4) {
          writeFileSync(path.join(sourceOf(root, name), 'd0', `f${index}.bin`), randomBytes(40 * 1024 + round));
        }
        rmSync(path.join(sourceOf(root, name), 'd1', `f${round * 4 + 1}.bin`), { force: true });
        writeFileSync(path.join(sourceOf(root, name), 'd3', `new${round}.bin`), randomBytes(4096));
      }
      const expected = expectedOf(root, APPS);
      const allowed = new Map<string, Set<string>>();
      for (const [rel, hash] of [...old, ...expected]) {
        if (!allowed.has(rel)) allowed.set(rel, new Set());
        allowed.get(rel)?.add(hash);
      }
      const kill = await killDuring(root, ['media:link'], moment.when, moment.extra ?? 0, slowD0);
      kills.push(kill);
      expectNoHalfFile(allowed, false, moment.label);
      await recover(moment.label, expected);
    }
    expect(kills.filter((kill) => kill.locked && kill.midRun).length, 'kills that landed while the run held the lock (was writing)').to.be.greaterThanOrEqual(2);
    if (shim) expect(kills.filter((kill) => kill.leftovers > 0).length, 'kills that left staged files for the next run to sweep').to.be.greaterThanOrEqual(2);
    const checked = viaCommand(root, ['media:verify']);
    expect(checked.status, checked.output).to.equal(0);
  });

  it('link mode: runs killed while making links, replacing copies with links, and links with copies: each entry is whole; then converges', async () => {
    const names = Array.from({ length: 30 }, (_, index) => `app${String(index).padStart(2, '0')}`);
    const linkRoot = makeProject({ apps: names });
    const linkMedia = mediaOf(linkRoot);
    const lockAt = (): boolean => lockWritten(linkMedia);
    const plans: Array<{ label: string; from: 'nothing' | 'copy' | 'symlink'; to: 'symlink' | 'copy'; when: (elapsed: number) => boolean; extra?: number }> = [
      { label: 'making links, as the lock is taken', from: 'nothing', to: 'symlink', when: lockAt },
      { label: 'making links, at 130 ms', from: 'nothing', to: 'symlink', when: (t) => t >= 130 },
      { label: 'copies to links, as the lock is taken', from: 'copy', to: 'symlink', when: lockAt },
      { label: 'copies to links, 15 ms after the lock', from: 'copy', to: 'symlink', when: lockAt, extra: 15 },
      { label: 'links to copies, 10 ms after the lock', from: 'symlink', to: 'copy', when: lockAt, extra: 10 },
    ];
    let locked = 0;
    for (const plan of plans) {
      rmSync(linkMedia, { recursive: true, force: true });
      if (plan.from !== 'nothing') await linkedInProcess(linkRoot, { mode: plan.from });
      const kill = await killDuring(linkRoot, ['media:link', '--mode', plan.to], plan.when, plan.extra ?? 0);
      if (kill.locked && kill.midRun) locked++;
      // Each entry is missing, a link to its app's media, or a copy whose files are whole.
      for (const name of names) {
        const entry = path.join(linkMedia, name);
        if (!exists(entry)) continue;
        if (isLink(entry)) {
          expect(statSync(entry).ino, `${plan.label}: ${name} leads to its media folder`).to.equal(statSync(sourceOf(linkRoot, name)).ino);
        } else {
          const files = fileShas(entry);
          const source = fileShas(sourceOf(linkRoot, name));
          for (const [rel, hash] of files) expect(source.get(rel), `${plan.label}: ${name}/${rel}`).to.equal(hash);
        }
      }
      const run = appMedia(linkRoot, ['link', '--mode', plan.to]);
      expect(run.status, `${plan.label}\n${run.output}`).to.equal(0);
      expect(temporaries(linkMedia), plan.label).to.deep.equal([]);
      expect(locks(linkRoot), plan.label).to.deep.equal([]);
      for (const name of names) expect(isLink(path.join(linkMedia, name)), `${plan.label}: ${name}`).to.equal(plan.to === 'symlink');
      const checked = await verify({ cwd: linkRoot });
      expect(checked.failed, `${plan.label}\n${JSON.stringify(checked.apps)}`).to.equal(false);
    }
    expect(locked, 'kills that landed while a run held the lock').to.be.greaterThanOrEqual(2);
    const checked = viaCommand(linkRoot, ['media:verify']);
    expect(checked.status, checked.output).to.equal(0);
  });

  it('a run killed between creating the lock file and writing it does not hold up the next run', () => {
    const project = makeProject({ apps: ['blog'], config: copyConfig(['blog']) });
    mkdirSync(mediaOf(project), { recursive: true });
    writeFileSync(path.join(mediaOf(project), LOCK), ''); // what the kill leaves
    const run = gulp(project, ['media:link']);
    expect(run.status, run.output).to.equal(0);
    expect(run.stdout).to.match(/media:link: 1 copied/);
    // A run that took the empty file for another run's lock would say so and wait for it to go stale.
    expect(run.output, 'no wait for a lock nobody holds').to.not.match(/waiting for another app-media run/);
    expect(locks(project)).to.deep.equal([]);
  });
});

// ---------------------------------------------------------------------------

describe('copy mode: race-safe with real concurrent processes (§6 rule 5)', function () {
  this.timeout(60_000);

  it('4 runs of `gulp media:link --mode copy` at once all exit 0 and end as one run would: each app copied exactly once', async () => {
    const APPS = ['r1', 'r2', 'r3', 'r4'];
    const root = makeProject({ apps: APPS, config: { mediaRoot: 'public/media', apps: APPS.map((name) => `./apps/${name}`) } });
    for (const name of APPS) bulkMedia(root, name, 60, 32 * 1024);
    const runs = Array.from({ length: 4 }, () => spawnGulp(root, ['media:link', '--mode', 'copy', '--json', '--silent']));
    const results = await Promise.all(runs.map((run) => run.done));
    const copied = new Map<string, number>();
    for (const result of results) {
      expect(result.status, result.output).to.equal(0);
      for (const app of jsonReport(result).apps) {
        expect(['copied', 'up-to-date'], JSON.stringify(app)).to.include(app['status']);
        if (app['status'] === 'copied') copied.set(String(app['name']), (copied.get(String(app['name'])) ?? 0) + 1);
      }
    }
    expect(Object.fromEntries(copied), 'each app copied by exactly one of the runs').to.deep.equal(Object.fromEntries(APPS.map((name) => [name, 1])));
    expectConverged(root, APPS);
    const manifestText = readFileSync(path.join(mediaOf(root), MANIFEST), 'utf8');
    const manifest = JSON.parse(manifestText) as ReturnType<typeof readManifest>;
    expect(Object.keys(manifest.entries).sort(), 'each app recorded once').to.deep.equal(APPS);
    for (const name of APPS) {
      expect(manifest.entries[name]?.kind).to.equal('copy');
      expect(Object.keys(manifest.entries[name]?.files ?? {}).sort()).to.deep.equal([...fileShas(sourceOf(root, name)).keys()].sort());
    }
    await verifiedInProcess(root);
    // The state is the one-run state: one more run finds nothing to do and writes nothing.
    const before = projectState(mediaOf(root));
    const again = viaCommand(root, ['media:link', '--mode', 'copy']);
    expect(again.stdout, again.output).to.match(/media:link: 4 up-to-date/);
    expect(projectState(mediaOf(root))).to.deep.equal(before);
  });

  /** A copy-mode project, linked, with foreign entries in mediaRoot; `race` runs 2 link and 2 clean at once. */
  async function mixedProject(): Promise<{ root: string; apps: string[]; race: () => Promise<Array<RunResult & { signal: NodeJS.Signals | null }>>; expectForeignIntact: () => void }> {
    const apps = ['m1', 'm2', 'm3'];
    const root = makeProject({
      apps,
      config: copyConfig(apps),
      files: { 'public/media/robots.txt': 'User-agent: *\n', 'public/media/legacy/index.html': '<p>mine</p>' },
    });
    for (const name of apps) bulkMedia(root, name, 30, 16 * 1024);
    await linkedInProcess(root);
    const robots = sha(readFileSync(path.join(mediaOf(root), 'robots.txt')));
    const legacy = projectState(path.join(mediaOf(root), 'legacy'));
    return {
      root,
      apps,
      // The app-media command, not gulp: it starts in a tenth of the time, so the four runs' work
      // really overlaps (with gulp, most of each run is its own start-up).
      race: () => Promise.all([
        spawnAppMedia(root, ['media:link']), spawnAppMedia(root, ['media:clean']),
        spawnAppMedia(root, ['media:link']), spawnAppMedia(root, ['media:clean']),
      ].map((run) => run.done)),
      expectForeignIntact: () => {
        expect(sha(readFileSync(path.join(mediaOf(root), 'robots.txt')))).to.equal(robots);
        expect(projectState(path.join(mediaOf(root), 'legacy'))).to.deep.equal(legacy);
      },
    };
  }

  it('link and clean at once (2 of each): foreign entries intact, the end is all-or-nothing with whole files, nothing left; link + verify then pass', async () => {
    const { root, apps, race, expectForeignIntact } = await mixedProject();
    for (let round = 0; round < 2; round++) {
      const results = await race();
      for (const result of results) expect(result.signal, result.output).to.equal(null);
      expect(temporaries(mediaOf(root))).to.deep.equal([]);
      expect(locks(root)).to.deep.equal([]);
      expectForeignIntact();
      const present = apps.filter((name) => exists(path.join(mediaOf(root), name)));
      expect([0, apps.length], `round ${round}: apps present ${present.join(', ')}`).to.include(present.length);
      const seen = published(root);
      for (const [rel, hash] of expectedOf(root, present)) expect(seen.get(rel), rel).to.equal(hash);
      await linkedInProcess(root);
      await verifiedInProcess(root);
    }
  });

  it('link and clean at once: every run exits 0', async () => {
    const { race } = await mixedProject();
    for (let round = 0; round < 6; round++) {
      for (const result of await race()) expect(result.status, result.output).to.equal(0);
    }
  });
});

// ---------------------------------------------------------------------------

describe('copy mode: ignore, links inside media, mtimes and modes', () => {
  it('default ignore: dotfiles, *~ and a .git/ folder are not copied; the line says how many were ignored; verify finds nothing exposed', async () => {
    const root = makeProject({
      apps: ['blog'],
      config: copyConfig(['blog']),
      files: {
        'apps/blog/app_media/blog/.env': 'SECRET=1',
        'apps/blog/app_media/blog/css/.hidden.css': 'x',
        'apps/blog/app_media/blog/img/blog.png~': 'backup',
        'apps/blog/app_media/blog/.git/HEAD': 'ref: refs/heads/main',
        'apps/blog/app_media/blog/.git/objects/ab/cdef': 'blob',
      },
    });
    const run = gulp(root, ['media:link']);
    expect(run.status, run.output).to.equal(0);
    expect(run.stdout).to.match(/copied\s+blog\s+public\/media\/blog -> apps\/blog\/app_media\/blog \(copy, 3 files, \d+ B, 4 ignored\)/);
    expect([...published(root).keys()].sort()).to.deep.equal(['blog/css/blog.css', 'blog/img/blog.png', 'blog/js/blog.js']);
    expect(exists(path.join(mediaOf(root), 'blog/.git'))).to.equal(false);
    const report = jsonReport(viaCommand(root, ['media:link', '--json', '--silent']));
    expect(report.apps[0]).to.include({ status: 'up-to-date', ignored: 4 });
    await verifiedInProcess(root);
  });

  it('a custom ignore ["*.psd", "drafts"] skips those files and every folder of that name', async () => {
    const root = makeProject({
      apps: ['blog'],
      config: copyConfig(['blog'], { ignore: ['*.psd', 'drafts'] }),
      files: {
        'apps/blog/app_media/blog/img/hero.psd': 'layers',
        'apps/blog/app_media/blog/drafts/next.css': 'wip',
        'apps/blog/app_media/blog/css/drafts/old.css': 'wip',
        'apps/blog/app_media/blog/css/drafts.css': 'not a folder named drafts',
      },
    });
    const run = gulp(root, ['media:link']);
    expect(run.status, run.output).to.equal(0);
    expect(run.stdout).to.match(/\(copy, 4 files, \d+ B, 3 ignored\)/);
    expect([...published(root).keys()].sort()).to.deep.equal(['blog/css/blog.css', 'blog/css/drafts.css', 'blog/img/blog.png', 'blog/js/blog.js']);
    await verifiedInProcess(root);
  });

  it('a link to a file inside the media folder is copied as a regular file with its bytes; one leading outside is not copied and is named', () => {
    const root = makeProject({ apps: ['blog'], config: copyConfig(['blog']), files: { 'secret.txt': 'password=hunter2' } });
    const src = sourceOf(root, 'blog');
    symlinkSync('blog.png', path.join(src, 'img/alias.png'));
    symlinkSync('../img/blog.png', path.join(src, 'css/up-and-in.png'));
    symlinkSync('../../../../secret.txt', path.join(src, 'secret.txt'));
    const run = gulp(root, ['media:link']);
    expect(run.status, run.output).to.equal(0);
    expect(run.stdout).to.match(/copied\s+blog/);
    expect(run.stdout).to.contain('not copied: secret.txt (link leading outside the media folder)');
    for (const rel of ['img/alias.png', 'css/up-and-in.png']) {
      const copy = path.join(mediaOf(root), 'blog', rel);
      expect(lstatSync(copy).isFile(), `${rel} is a regular file`).to.equal(true);
      expect(sha(readFileSync(copy))).to.equal(sha(readFileSync(path.join(src, 'img/blog.png'))));
    }
    expect(exists(path.join(mediaOf(root), 'blog/secret.txt'))).to.equal(false);
    expect(JSON.stringify(projectState(mediaOf(root)))).to.not.contain(sha('password=hunter2'));
    const checked = viaCommand(root, ['media:verify']);
    expect(checked.status, checked.output).to.equal(0);
    // A re-run is up to date (the followed link is compared by its target's facts).
    expect(viaCommand(root, ['media:link']).stdout).to.match(/media:link: 1 up-to-date/);
  });

  it('keeps each file\'s mtime and mode (0640, 0755), on a new copy and on an update', async () => {
    const root = makeProject({ apps: ['blog'], config: copyConfig(['blog']) });
    const src = sourceOf(root, 'blog');
    chmodSync(path.join(src, 'css/blog.css'), 0o640);
    chmodSync(path.join(src, 'js/blog.js'), 0o755);
    setMtime(path.join(src, 'img/blog.png'), 981_173_106.123);
    const compare = (): void => {
      for (const rel of ['css/blog.css', 'js/blog.js', 'img/blog.png']) {
        const s = statSync(path.join(src, rel));
        const c = statSync(path.join(mediaOf(root), 'blog', rel));
        expect(c.mode & 0o7777, `${rel} mode`).to.equal(s.mode & 0o7777);
        expect(c.mtimeMs, `${rel} mtime`).to.be.closeTo(s.mtimeMs, 0.01);
      }
    };
    await linkedInProcess(root);
    compare();
    writeFileSync(path.join(src, 'js/blog.js'), 'console.log(2);\n');
    chmodSync(path.join(src, 'js/blog.js'), 0o750);
    setMtime(path.join(src, 'js/blog.js'), 1_234_567_890.5);
    await linkedInProcess(root);
    compare();
  });

  it('a mode change alone in the source (chmod, same size and mtime) is mirrored on the next run', async () => {
    const root = makeProject({ apps: ['blog'], config: copyConfig(['blog']) });
    await linkedInProcess(root);
    chmodSync(path.join(sourceOf(root, 'blog'), 'js/blog.js'), 0o700);
    await linkedInProcess(root);
    expect(statSync(path.join(mediaOf(root), 'blog/js/blog.js')).mode & 0o7777).to.equal(0o700);
  });
});

// ---------------------------------------------------------------------------

/** Compiles test/support/faults.c once; the reason when it cannot. */
let faultsBuilt: { lib?: string; why?: string } | undefined;
function faultsShim(): { lib?: string; why?: string } {
  if (faultsBuilt) return faultsBuilt;
  if (process.platform !== 'linux') return (faultsBuilt = { why: 'the fault-injection shim needs Linux (LD_PRELOAD and /proc/self/fd)' });
  const out = path.join(tempDir('faults'), 'faults.so');
  const source = path.join(REPO, 'test', 'support', 'faults.c');
  for (const cc of [process.env['CC'], 'cc', 'gcc', 'clang'].filter(Boolean) as string[]) {
    const run = spawnSync(cc, ['-shared', '-fPIC', '-o', out, source, '-ldl'], { encoding: 'utf8' });
    if (run.status === 0) return (faultsBuilt = { lib: out });
    if (run.error === undefined) return (faultsBuilt = { why: `${cc} failed: ${run.stderr.trim()}` });
  }
  return (faultsBuilt = { why: 'no C compiler (cc, gcc or clang) to build test/support/faults.c' });
}

/** Env for a process under the shim (io_uring off, so every file operation goes through libc). */
function faultEnv(lib: string, faults: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return { LD_PRELOAD: lib, UV_USE_IO_URING: '0', ...faults };
}

function needShim(ctx: Mocha.Context): string {
  const built = faultsShim();
  if (!built.lib) {
    console.log(`      skipped: ${built.why ?? 'unknown reason'}`);
    ctx.skip();
  }
  return built.lib as string;
}

describe('copy mode: a long copy leaves the event loop free for the rest of the process', function () {
  this.timeout(30_000);

  it('a copy slowed to 25 ms a file (fault shim): a 10 ms timer in the same process keeps ticking, as gulp\'s other tasks would', function () {
    const lib = needShim(this);
    const root = makeProject({ apps: ['big'], config: copyConfig(['big']) });
    bulkMedia(root, 'big', 40, 4096);
    const api = pathToFileURL(path.join(REPO, 'dist', 'index.js')).href;
    const script = [
      `import { link } from ${JSON.stringify(api)};`,
      'let ticks = 0;',
      'const timer = setInterval(() => { ticks++; }, 10);',
      "const report = await link({ cwd: process.cwd(), mode: 'copy' });",
      'clearInterval(timer);',
      'console.log(JSON.stringify({ ticks, counts: report.counts }));',
    ].join('\n');
    const env = { ...process.env, ...faultEnv(lib, { FAULT_SLOW_PATH: path.join(root, 'public/media'), FAULT_SLOW_US: '25000' }) };
    const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: root, encoding: 'utf8', env, timeout: 30_000 });
    expect(run.status, run.stderr).to.equal(0);
    const result = JSON.parse(run.stdout) as { ticks: number; counts: Record<string, number> };
    expect(result.counts).to.deep.equal({ copied: 1 });
    // 43 files of 25 ms each are copied one after another, with a turn for the event loop at least
    // every 30 ms: about 20 ticks. A copy that held the loop throughout would let the timer tick
    // only in the few awaits around it.
    expect(result.ticks, 'timer ticks during the copy').to.be.greaterThanOrEqual(10);
    expectConverged(root, ['big']);
  });
});

describe('copy mode: progress line on a terminal only', function () {
  this.timeout(30_000);
  let lib: string;
  let root: string;
  let scriptWorks: string | undefined;

  before(function () {
    lib = needShim(this);
    const probe = spawnSync('script', ['-qfc', 'test -t 1 && test -t 2 && echo tty-ok', '/dev/null'], { encoding: 'utf8', timeout: 10_000 });
    scriptWorks = probe.status === 0 && probe.stdout.includes('tty-ok') ? undefined : `script(1) gives no pseudo-terminal here (${probe.error?.message ?? probe.stderr.trim() ?? probe.status})`;
    root = makeProject({ apps: ['big'], config: copyConfig(['big']) });
    bulkMedia(root, 'big', 80, 4096);
  });

  /** Each copied file takes 20 ms (a slow disk): 83 files last well over a second, the progress line's delay. */
  const slow = (): NodeJS.ProcessEnv => faultEnv(lib, { FAULT_SLOW_PATH: path.join(root, 'public/media'), FAULT_SLOW_US: '20000' });
  const shellQuote = (text: string): string => `'${text.replace(/'/g, "'\\''")}'`;
  const inTerminal = (args: string[]): { status: number | null; output: string; ms: number } => {
    rmSync(mediaOf(root), { recursive: true, force: true });
    const command = [process.execPath, GULP_BIN, '--no-color', ...args].map(shellQuote).join(' ');
    const started = Date.now();
    const run = spawnSync('script', ['-qfc', command, '/dev/null'], { cwd: root, encoding: 'utf8', env: { ...process.env, ...slow() }, timeout: 30_000 });
    return { status: run.status, output: `${run.stdout}${run.stderr}`, ms: Date.now() - started };
  };
  const PROGRESS = /media:link: \d+ files?, [\d.]+ (B|KiB|MiB) \([\d.]+ (B|KiB|MiB)\/s\)/;

  it('on a TTY, a copy lasting over a second shows a progress line (files, bytes, rate), rewritten in place and cleared', function () {
    if (scriptWorks) {
      console.log(`      skipped: ${scriptWorks}`);
      this.skip();
    }
    const run = inTerminal(['media:link']);
    expect(run.status, run.output).to.equal(0);
    expect(run.ms, 'the slowed copy lasts over a second').to.be.greaterThan(1200);
    expect(run.output).to.match(PROGRESS);
    expect(run.output).to.contain('\r\u001b[K');
    expect(run.output).to.match(/copied\s+big .*\(copy, 83 files/);
    expectConverged(root, ['big']);
  });

  it('on a TTY with --json --silent: only the JSON document, no progress text', function () {
    if (scriptWorks) {
      console.log(`      skipped: ${scriptWorks}`);
      this.skip();
    }
    const run = inTerminal(['media:link', '--json', '--silent']);
    expect(run.status, run.output).to.equal(0);
    expect(run.ms).to.be.greaterThan(1200);
    expect(run.output).to.not.match(/\/s\)/);
    expect(run.output).to.not.contain('\u001b[K');
    const json = JSON.parse(run.output.replace(/\r\n/g, '\n')) as { apps: Array<{ status: string }> };
    expect(json.apps[0]?.status).to.equal('copied');
  });

  it('piped (not a TTY): no progress text, no carriage return, even for a long copy', () => {
    rmSync(mediaOf(root), { recursive: true, force: true });
    const started = Date.now();
    const run = gulp(root, ['media:link'], slow());
    expect(run.status, run.output).to.equal(0);
    expect(Date.now() - started).to.be.greaterThan(1200);
    expect(run.output).to.not.contain('\r');
    expect(run.output).to.not.match(/\/s\)/);
    expect(run.stdout).to.match(/copied\s+big .*\(copy, 83 files/);
  });
});

// ---------------------------------------------------------------------------

describe('media:watch with real file changes', function () {
  this.timeout(30_000);

  async function startWatch(root: string, args: string[] = []): Promise<Spawned> {
    const watch = spawnGulp(root, ['media:watch', ...args]);
    const ready = await waitFor(() => /media:watch: watching \d+ paths?/.test(watch.output()), 10_000);
    expect(ready, `the watching line\n${watch.output()}`).to.equal(true);
    // The line comes before the watcher has finished its first scan (see the skipped test below).
    await sleep(500);
    return watch;
  }

  async function stopWatch(watch: Spawned): Promise<RunResult> {
    watch.child.kill('SIGINT');
    const result = await Promise.race([watch.done, sleep(10_000).then(() => undefined)]);
    expect(result, `media:watch ends within 10 s of Ctrl-C\n${watch.output()}`).to.not.equal(undefined);
    return result as RunResult;
  }

  const settled = (file: string, content: string | null): (() => boolean) => () => {
    if (content === null) return !exists(file);
    try {
      return readFileSync(file, 'utf8') === content;
    } catch {
      return false;
    }
  };

  it('copy mode: mirrors an add, a change and a delete, copies a media folder that appears, and ends cleanly on Ctrl-C', async () => {
    const root = makeProject({
      apps: ['blog', 'shop'],
      config: copyConfig(['blog', 'shop', 'late']),
      files: { 'apps/late/README.md': 'no media yet' },
    });
    const watch = await startWatch(root);
    try {
      expect(watch.output()).to.match(/no-media\s+late/);
      expectConverged(root, ['blog', 'shop']);
      const src = sourceOf(root, 'blog');
      const copy = path.join(mediaOf(root), 'blog');

      writeFileSync(path.join(src, 'css/added.css'), '.added {}');
      expect(await waitFor(settled(path.join(copy, 'css/added.css'), '.added {}'), 5000), `add mirrored\n${watch.output()}`).to.equal(true);

      writeFileSync(path.join(src, 'js/blog.js'), 'console.log("changed");\n');
      expect(await waitFor(settled(path.join(copy, 'js/blog.js'), 'console.log("changed");\n'), 5000), `change mirrored\n${watch.output()}`).to.equal(true);

      unlinkSync(path.join(src, 'img/blog.png'));
      expect(await waitFor(settled(path.join(copy, 'img/blog.png'), null), 5000), `delete mirrored\n${watch.output()}`).to.equal(true);

      writeTree(root, { 'apps/late/app_media/late/css/late.css': '.late {}' });
      expect(await waitFor(settled(path.join(mediaOf(root), 'late/css/late.css'), '.late {}'), 5000), `new media folder copied\n${watch.output()}`).to.equal(true);

      // Let the last debounced run finish, then everything is as one run gives.
      expect(await waitFor(() => temporaries(mediaOf(root)).length === 0 && locks(root).length === 0, 5000)).to.equal(true);
      expectConverged(root, ['blog', 'shop', 'late']);
    } finally {
      const result = await stopWatch(watch);
      expect(result.status, result.output).to.equal(0);
      expect(result.output).to.contain('Finished \'media:watch\'');
    }
    await verifiedInProcess(root);
  });

  it('link mode: an app\'s media folder removed or moved away makes watch prune its own link (and only it); one that comes back is linked again', async () => {
    const root = makeProject({ apps: ['blog', 'shop', 'news'], files: { 'public/media/robots.txt': 'mine' } });
    const watch = await startWatch(root, ['--mode', 'symlink']);
    try {
      const entry = (name: string): string => path.join(mediaOf(root), name);
      for (const name of ['blog', 'shop', 'news']) expect(isLink(entry(name)), name).to.equal(true);
      // shop's media folder is deleted; blog's is moved away (as a branch switch would).
      rmSync(sourceOf(root, 'shop'), { recursive: true });
      const saved = path.join(root, 'apps/blog/saved');
      mkdirSync(saved);
      renameSync(sourceOf(root, 'blog'), path.join(saved, 'blog'));
      expect(await waitFor(() => !exists(entry('shop')) && !exists(entry('blog')), 5000), `links pruned\n${watch.output()}`).to.equal(true);
      expect(isLink(entry('news')), 'the other app keeps its link').to.equal(true);
      expect(readFileSync(entry('robots.txt'), 'utf8')).to.equal('mine');
      expect(sha(readFileSync(path.join(saved, 'blog/css/blog.css'))), 'what the link led to is untouched').to.equal(sha('.blog { color: teal; }\n'));

      renameSync(path.join(saved, 'blog'), sourceOf(root, 'blog'));
      expect(await waitFor(() => isLink(entry('blog')) && existsSync(path.join(entry('blog'), 'css/blog.css')), 5000), `linked again\n${watch.output()}`).to.equal(true);
    } finally {
      const result = await stopWatch(watch);
      expect(result.status, result.output).to.equal(0);
      expect(result.output).to.contain('Finished \'media:watch\'');
    }
  });

  it('a change made as soon as the "watching" line is printed is mirrored', async () => {
    const root = makeProject({ apps: ['blog'], config: copyConfig(['blog']) });
    const watch = spawnGulp(root, ['media:watch']);
    try {
      expect(await waitFor(() => watch.output().includes('media:watch: watching'), 10_000, 2)).to.equal(true);
      writeFileSync(path.join(sourceOf(root, 'blog'), 'css/early.css'), '.early {}');
      expect(await waitFor(() => exists(path.join(mediaOf(root), 'blog/css/early.css')), 3000), watch.output()).to.equal(true);
    } finally {
      watch.child.kill('SIGINT');
      await watch.done;
    }
  });
});

// ---------------------------------------------------------------------------

describe('copy mode failures: EACCES as an unprivileged user', function () {
  this.timeout(30_000);
  let asUser: string[] = [];

  before(function () {
    if (process.platform !== 'linux' || process.getuid?.() !== 0) {
      console.log('      skipped: needs Linux and root to run the tool as another (unprivileged) user');
      this.skip();
    }
    for (const candidate of [['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups'], ['runuser', '-u', 'nobody', '--']]) {
      const probe = spawnSync(candidate[0] as string, [...candidate.slice(1), process.execPath, '-p', 'process.getuid()'], { encoding: 'utf8' });
      if (probe.status === 0 && probe.stdout.trim() !== '0') {
        asUser = candidate;
        break;
      }
    }
    if (asUser.length === 0) {
      console.log('      skipped: neither setpriv nor runuser can run a process as an unprivileged user here');
      this.skip();
    }
    // The user runs the app-media command (cli.test.ts proves it and the gulp task give the same
    // output and exit status; it starts in under half of gulp's time), from this checkout when it
    // can reach it. A checkout in a private folder (a CI clone under mktemp -d, mode 0700) is out
    // of its reach: it then runs a copy it can read (one bundled file, plus picomatch, which it
    // loads for a copy's ignore globs). Either way the same code, locally and in CI.
    const reach = spawnSync(asUser[0] as string, [...asUser.slice(1), process.execPath, '-e', `require('fs').accessSync(${JSON.stringify(APP_MEDIA_BIN)})`], { encoding: 'utf8' });
    if (reach.status !== 0) {
      const dir = tempDir('cli-for-nobody');
      chmodSync(dir, 0o755);
      writeFileSync(path.join(dir, 'app-media.mjs'), readFileSync(path.join(REPO, 'dist', 'app-media.js')));
      cpSync(path.join(REPO, 'node_modules', 'picomatch'), path.join(dir, 'node_modules', 'picomatch'), { recursive: true });
      // What bin/app-media.js does, beside the copy.
      const command = path.join(dir, 'command.mjs');
      writeFileSync(command, "import { main } from './app-media.mjs';\nprocess.exitCode = await main(process.argv.slice(2));\n");
      commandFile = command;
      console.log('      (this checkout is out of the unprivileged user\'s reach: it runs a copy of the app-media command)');
    }
  });

  /** The command the unprivileged user runs: this checkout's, or a copy of it. */
  let commandFile = APP_MEDIA_BIN;
  function asNobody(root: string, task: string, args: string[]): RunResult {
    const run = spawnSync(asUser[0] as string, [...asUser.slice(1), process.execPath, commandFile, task, ...args],
      { cwd: root, encoding: 'utf8', env: { ...process.env, HOME: root, NO_COLOR: '1' }, timeout: 30_000 });
    return { status: run.status, stdout: run.stdout, stderr: run.stderr, output: run.stdout + run.stderr };
  }

  /** A copy-mode project of these apps, opened to the user, which has copied them once. */
  function copiedByNobody(apps: string[]): string {
    const root = makeProject({ apps, config: copyConfig(apps) });
    openTo(root);
    const first = asNobody(root, 'link', []);
    expect(first.status, first.output).to.equal(0);
    return root;
  }

  /**
   * The project readable by the user, mediaRoot the user's own. (Writable by everyone instead, it
   * would be refused: APP_MEDIA_SHARED_ROOT, tested in hostile.test.ts.)
   */
  function openTo(root: string): void {
    for (let dir = root; dir !== path.dirname(dir); dir = path.dirname(dir)) {
      const mode = statSync(dir).mode;
      if ((mode & 0o005) !== 0o005 && !(mode & 0o1000)) chmodSync(dir, (mode & 0o7777) | 0o005);
    }
    mkdirSync(mediaOf(root), { recursive: true });
    chownSync(mediaOf(root), NOBODY, NOBODY);
  }

  it('an unreadable source file: that app is error (EACCES, with the hint), the others are copied, exit non-zero, nothing partial published', () => {
    const APPS = ['blog', 'locked', 'shop'];
    const root = makeProject({ apps: APPS, config: copyConfig(APPS) });
    openTo(root);
    const unreadable = path.join(sourceOf(root, 'locked'), 'js/locked.js');
    chmodSync(unreadable, 0o000);
    const byName = expectOneFailed(root, asNobody(root, 'link', ['--json', '--silent']), 'locked', 'EACCES');
    expect(String(byName['locked']?.['hint'])).to.match(/may read the app's media folder/);
    expectConverged(root, ['blog', 'shop']);
    chmodSync(unreadable, 0o644);
  });

  it('an unreadable folder in a source that is copied for the first time: that app is error (EACCES), the others are copied; its dry run says the same', () => {
    // A new copy's source is walked when the copy is made, as one app's step: its failure is that app's.
    const APPS = ['blog', 'locked', 'shop'];
    const root = makeProject({ apps: APPS, config: copyConfig(APPS) });
    openTo(root);
    const unreadable = path.join(sourceOf(root, 'locked'), 'js');
    chmodSync(unreadable, 0o700);
    try {
      // A dry run walks every new copy's source to list its files: the same app is error there.
      const dry = asNobody(root, 'link', ['--dry-run', '--json', '--silent']);
      expect(dry.status, dry.stderr).to.equal(1);
      expect(jsonReport(dry).apps.map((app) => [app['name'], app['status'], app['reason']])).to.deep.equal([
        ['blog', 'copied', null], ['locked', 'error', 'EACCES (scandir) apps/locked/app_media/locked/js'], ['shop', 'copied', null],
      ]);
      expect(exists(mediaOf(root)) ? readdirSync(mediaOf(root)) : [], 'a dry run writes nothing').to.deep.equal([]);
      expectOneFailed(root, asNobody(root, 'link', ['--json', '--silent']), 'locked', 'EACCES');
    } finally {
      chmodSync(unreadable, 0o755);
    }
  });

  it('an unreadable folder in the source of an existing copy: link, its dry run and verify report that app as error (the call, the path, the hint), the others are synced and checked', () => {
    const root = copiedByNobody(['blog', 'shop']);
    writeFileSync(path.join(sourceOf(root, 'blog'), 'css', 'new.css'), '.new {}\n');
    const shopCopy = snapshot(path.join(mediaOf(root), 'shop'));
    const unreadable = path.join(sourceOf(root, 'shop'), 'js');
    chmodSync(unreadable, 0o700);
    try {
      const line = 'EACCES (scandir) apps/shop/app_media/shop/js';
      for (const [task, args, others] of [['link', ['--dry-run'], 'copied'], ['link', [], 'copied'], ['verify', [], 'ok']] as const) {
        const run = asNobody(root, task, [...args, '--json', '--silent']);
        const label = `${task} ${args.join(' ')}`;
        expect(run.status, `${label}: ${run.output}`).to.equal(1);
        const byName = Object.fromEntries(jsonReport(run).apps.map((app) => [app['name'], app]));
        expect(byName['shop'], label).to.include({ status: 'error', reason: line });
        expect(String(byName['shop']?.['hint']), label).to.match(/may read the app's media folder/);
        expect(byName['blog'], label).to.include({ status: others });
      }
      expect(readFileSync(path.join(mediaOf(root), 'blog', 'css', 'new.css'), 'utf8'), 'blog was synced').to.equal('.new {}\n');
      expect(snapshot(path.join(mediaOf(root), 'shop')), 'shop\'s copy is left as it was').to.deep.equal(shopCopy);
      // What a person reads: the app's line with the error, then the hint; no stack trace.
      const plain = asNobody(root, 'verify', []);
      expect(plain.output).to.match(/error\s+shop\s/);
      expect(plain.output).to.contain(line);
      expect(plain.output, 'no stack trace').to.not.match(/\n\s+at /);
      expect(locks(root)).to.deep.equal([]);
    } finally {
      chmodSync(unreadable, 0o755);
    }
    const again = asNobody(root, 'link', ['--json', '--silent']);
    expect(again.status, again.output).to.equal(0);
    expect(jsonReport(again).counts).to.deep.equal({ 'up-to-date': 2 });
  });

  it('link mode: verify cannot read a folder of what a link publishes: that app is error (not ok unchecked), the others ok; link itself is unaffected', () => {
    const APPS = ['blog', 'shop'];
    const root = makeProject({ apps: APPS, config: { mediaRoot: 'public/media', mode: 'symlink', apps: APPS.map((name) => `./apps/${name}`) } });
    openTo(root);
    const first = asNobody(root, 'link', []);
    expect(first.status, first.output).to.equal(0);
    const unreadable = path.join(sourceOf(root, 'shop'), 'js');
    chmodSync(unreadable, 0o700);
    try {
      const run = asNobody(root, 'verify', ['--json', '--silent']);
      expect(run.status, run.output).to.equal(1);
      expect(jsonReport(run).apps.map((app) => [app['name'], app['status'], app['reason']])).to.deep.equal([
        ['blog', 'ok', null], ['shop', 'error', 'EACCES (scandir) apps/shop/app_media/shop/js'],
      ]);
      // A link's run needs no walk of what it leads to.
      const linked = asNobody(root, 'link', ['--json', '--silent']);
      expect(linked.status, linked.output).to.equal(0);
      expect(jsonReport(linked).counts).to.deep.equal({ 'up-to-date': 2 });
    } finally {
      chmodSync(unreadable, 0o755);
    }
  });

  it('an unreadable folder in the tool\'s own copy: link and clean report that entry as error and leave it; the others are done', () => {
    const root = copiedByNobody(['blog', 'shop']);
    // The copy is the user's own (it made it): a folder of it closed to its owner cannot be listed.
    const closed = path.join(mediaOf(root), 'shop', 'js');
    chmodSync(closed, 0o000);
    try {
      // Listing the folder, or (its names known from the copy's stamps) looking at a file in it.
      const line = /^EACCES \((scandir|lstat)\) public\/media\/shop\/js(\/shop\.js)?$/;
      for (const [task, blog] of [['link', 'up-to-date'], ['clean', 'removed']]) {
        const run = asNobody(root, task as string, ['--json', '--silent']);
        expect(run.status, run.output).to.equal(1);
        const [first, second] = jsonReport(run).apps;
        expect(first, task).to.include({ name: 'blog', status: blog });
        expect(second, task).to.include({ name: 'shop', status: 'error' });
        expect(String(second?.['reason']), task).to.match(line);
      }
      expect(exists(path.join(mediaOf(root), 'blog'))).to.equal(false);
      expect(exists(path.join(mediaOf(root), 'shop', 'css', 'shop.css')), 'the unread copy is left as it was').to.equal(true);
      expect(JSON.parse(readFileSync(path.join(mediaOf(root), MANIFEST), 'utf8')).entries).to.have.keys(['shop']);
    } finally {
      chmodSync(closed, 0o755);
    }
    const again = asNobody(root, 'clean', []);
    expect(again.status, again.output).to.equal(0);
    expect(readdirSync(mediaOf(root))).to.deep.equal([]);
  });

  it('a run that cannot go on (clean, a mediaRoot that cannot be listed) fails with one line, the hint and no stack (--verbose adds it); --json prints an error document', () => {
    const root = copiedByNobody(['blog']);
    chmodSync(mediaOf(root), 0o333);
    try {
      const run = asNobody(root, 'clean', []);
      expect(run.status, run.output).to.equal(1);
      expect(run.output).to.match(/EACCES \(scandir\) public\/media\n\s+hint: check that the account running the task may read/);
      expect(run.output, 'no stack trace').to.not.match(/\n\s+at /);
      const verbose = asNobody(root, 'clean', ['--verbose']);
      expect(verbose.output, '--verbose: the stack').to.match(/\n\s+at /);
      const json = asNobody(root, 'clean', ['--json', '--silent']);
      expect(json.status).to.equal(1);
      expect(JSON.parse(json.stdout)).to.deep.equal({
        task: 'clean',
        error: { code: 'EACCES', message: 'EACCES (scandir) public/media', file: 'public/media', field: null, hint: 'check that the account running the task may read the app\'s media folder and write to mediaRoot' },
      });
    } finally {
      chmodSync(mediaOf(root), 0o755);
    }
    expect(exists(path.join(mediaOf(root), 'blog', 'css', 'blog.css')), 'nothing was removed').to.equal(true);
  });

  it('a mediaRoot the user cannot write to, or cannot make: every app is error (EACCES, with the hint), not a stack trace, and nothing is written', () => {
    // The run's first look ends at the first app with something to do. Unable to take the lock,
    // the run looks at every app again before it reports: all three are named.
    const APPS = ['blog', 'shop', 'zoo'];
    const root = makeProject({ apps: APPS, config: copyConfig(APPS) });
    openTo(root);
    chownSync(mediaOf(root), 0, 0); // root's, as a deploy made it: the user may not write it
    chmodSync(mediaOf(root), 0o755);
    const run = asNobody(root, 'link', ['--json', '--silent']);
    expect(run.status, run.stderr).to.not.equal(0);
    const report = jsonReport(run);
    expect(report.apps.map((app) => [app['name'], app['status']])).to.deep.equal(APPS.map((name) => [name, 'error']));
    expect(String(report.apps[0]?.['reason'])).to.equal('EACCES (open) public/media/.app-media.json');
    expect(String(report.apps[0]?.['hint'])).to.match(/write to mediaRoot/);
    expect(readdirSync(mediaOf(root))).to.deep.equal([]);

    // No mediaRoot, in a folder the user cannot write to: the same, through the gulp CLI.
    rmdirSync(mediaOf(root));
    const made = asNobody(root, 'link', []);
    expect(made.status, made.output).to.not.equal(0);
    expect(made.output).to.match(/EACCES \(mkdir\) public\/media/);
    expect(made.output).to.match(/hint: check that the account running the task may read the app's media folder and write to mediaRoot/);
    expect(made.output).to.match(/media:link: 3 error/);
    expect(made.output, 'no stack trace').to.not.match(/\n\s+at /);
    expect(exists(mediaOf(root))).to.equal(false);
  });

  it('an unwritable folder in an existing copy: that app is error (EACCES), its published file stays the old whole one, the others update', () => {
    const APPS = ['blog', 'shop'];
    const root = copiedByNobody(APPS);
    const frozen = path.join(mediaOf(root), 'shop/css');
    const oldBytes = readFileSync(path.join(frozen, 'shop.css'));
    chmodSync(frozen, 0o555);
    writeFileSync(path.join(sourceOf(root, 'shop'), 'css/shop.css'), '.shop { color: navy; } /* v2 */\n');
    writeFileSync(path.join(sourceOf(root, 'blog'), 'css/blog.css'), '.blog { color: navy; } /* v2 */\n');
    try {
      const run = asNobody(root, 'link', []);
      expect(run.status, run.output).to.not.equal(0);
      expect(run.output).to.match(/error\s+shop/);
      expect(run.output).to.match(/EACCES/);
      expect(run.output).to.match(/hint: check that the account running the task may read the app's media folder and write to mediaRoot/);
      expect(run.output).to.match(/copied\s+blog/);
      expect(readFileSync(path.join(frozen, 'shop.css')), 'the published file is the old one, whole').to.deep.equal(oldBytes);
      expect(readdirSync(frozen)).to.deep.equal(['shop.css']);
      expect(readFileSync(path.join(mediaOf(root), 'blog/css/blog.css'), 'utf8')).to.contain('v2');
      expect(temporaries(mediaOf(root))).to.deep.equal([]);
    } finally {
      chmodSync(frozen, 0o755);
    }
    // Once the folder is writable again, the next run converges.
    const again = asNobody(root, 'link', []);
    expect(again.status, again.output).to.equal(0);
    expectConverged(root, APPS);
  });
});

describe('copy mode failures by injection: ENOSPC, a source folder vanishing mid-run (LD_PRELOAD shim)', function () {
  this.timeout(30_000);
  let lib: string;

  before(function () {
    lib = needShim(this);
  });

  /** Node's own fs.copyFile / writeFile / readFile under the shim, in a child process. */
  function nodeUnderShim(script: string, env: NodeJS.ProcessEnv, shim = true): { status: number | null; stdout: string; stderr: string } {
    const run = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', env: { ...process.env, ...(shim ? faultEnv(lib, env) : env) }, timeout: 10_000 });
    return { status: run.status, stdout: run.stdout.trim(), stderr: run.stderr };
  }

  it('sanity: the shim makes Node\'s fs.copyFile and writeFile fail with ENOSPC and open fail with ENOENT, only for marked paths (and not without it)', () => {
    const dir = tempDir('shim-check');
    writeTree(dir, { 'src.bin': randomBytes(200_000), 'diskfull/.keep': '', 'other/.keep': '', 'gone/file.txt': 'here' });
    const script = `const fs = require('fs'); const d = ${JSON.stringify(dir)};
      const out = [];
      const attempt = (label, fn) => { try { fn(); out.push(label + ':ok'); } catch (e) { out.push(label + ':' + e.code); } };
      fs.promises.copyFile(d + '/src.bin', d + '/diskfull/a.bin', fs.constants.COPYFILE_EXCL)
        .then(() => out.push('copy:ok'), (e) => out.push('copy:' + e.code))
        .then(() => fs.promises.copyFile(d + '/src.bin', d + '/other/a.bin').then(() => out.push('other:ok'), (e) => out.push('other:' + e.code)))
        .then(() => attempt('write', () => fs.writeFileSync(d + '/diskfull/b.txt', 'x')))
        .then(() => attempt('open', () => fs.readFileSync(d + '/gone/file.txt')))
        .then(() => attempt('read', () => fs.readFileSync(d + '/src.bin')))
        .then(() => console.log(out.join(' ')));`;
    const faults = { FAULT_WRITE_PATH: `${dir}/diskfull/`, FAULT_OPEN_PATH: `${dir}/gone/` };
    const shimmed = nodeUnderShim(script, faults);
    expect(shimmed.stdout, shimmed.stderr).to.equal('copy:ENOSPC other:ok write:ENOSPC open:ENOENT read:ok');
    expect(exists(path.join(dir, 'diskfull/a.bin')), 'libuv removes the failed copy').to.equal(false);
    rmSync(path.join(dir, 'other/a.bin'));
    rmSync(path.join(dir, 'diskfull/b.txt'), { force: true });
    expect(nodeUnderShim(script, faults, false).stdout, 'the same script without the shim').to.equal('copy:ok other:ok write:ok open:ok read:ok');
  });

  it('ENOSPC on a new copy: that app is error (ENOSPC, "disk is full"), the others are copied, exit non-zero, nothing partial or temporary left', () => {
    const APPS = ['blog', 'diskfull', 'shop'];
    const root = makeProject({ apps: APPS, config: copyConfig(APPS) });
    bulkMedia(root, 'diskfull', 20, 64 * 1024);
    const run = gulp(root, ['media:link', '--json', '--silent'], faultEnv(lib, { FAULT_WRITE_PATH: 'diskfull' }));
    const byName = expectOneFailed(root, run, 'diskfull', 'ENOSPC');
    expect(String(byName['diskfull']?.['hint'])).to.contain('the disk is full');
    expectConverged(root, ['blog', 'shop']);
    expect(Object.keys(readManifest(root).entries).sort(), 'no record for what was not made').to.deep.equal(['blog', 'shop']);
    // The text output says it as clearly.
    rmSync(mediaOf(root), { recursive: true });
    const text = gulp(root, ['media:link'], faultEnv(lib, { FAULT_WRITE_PATH: 'diskfull' }));
    expect(text.status).to.not.equal(0);
    expect(text.output).to.match(/error\s+diskfull/);
    expect(text.output).to.match(/hint: the disk is full: free some space and run again/);
    // Space freed: the next run converges.
    const again = viaCommand(root, ['media:link']);
    expect(again.status, again.output).to.equal(0);
    expectConverged(root, APPS);
  });

  it('files over 512 KiB (copied on the thread pool, 4 at a time, beside the small ones): whole, with their time and mode; rewritten when they change; ENOSPC on one keeps the old one and leaves nothing', async () => {
    const root = makeProject({ apps: ['video'], config: copyConfig(['video']) });
    const big = path.join(sourceOf(root, 'video'), 'clips', 'intro.bin');
    mkdirSync(path.dirname(big), { recursive: true });
    writeFileSync(big, randomBytes(9 * 1024 * 1024));
    // More big files around it, so several are in flight when one fails.
    for (let index = 0; index < 8; index++) writeFileSync(path.join(path.dirname(big), `part${index}.bin`), randomBytes(600 * 1024 + index));
    bulkMedia(root, 'video', 30, 2048);
    chmodSync(big, 0o640);
    utimesSync(big, 1_600_000_000.5, 1_600_000_000.5);
    const copy = path.join(mediaOf(root), 'video', 'clips', 'intro.bin');
    await linkedInProcess(root);
    expectConverged(root, ['video']);
    expect(statSync(copy).mtimeMs).to.be.closeTo(1_600_000_000_500, 0.01);
    expect(statSync(copy).mode & 0o777).to.equal(0o640);
    // New versions of the big files, and the disk full for one: the old one stays, whole.
    const old = sha(readFileSync(copy));
    writeFileSync(big, randomBytes(9 * 1024 * 1024 + 1));
    for (let index = 0; index < 8; index++) writeFileSync(path.join(path.dirname(big), `part${index}.bin`), randomBytes(700 * 1024 + index));
    const full = viaCommand(root, ['media:link', '--json', '--silent'], faultEnv(lib, { FAULT_WRITE_PATH: 'intro.bin' }));
    expect(full.status, full.output).to.not.equal(0);
    expect(String(jsonReport(full).apps[0]?.['reason'])).to.contain('ENOSPC');
    expect(sha(readFileSync(copy)), 'the published file is the old one, whole').to.equal(old);
    expect(temporaries(mediaOf(root))).to.deep.equal([]);
    // Space again: the new version is copied.
    await linkedInProcess(root);
    expectConverged(root, ['video']);
    expect(statSync(copy).size).to.equal(9 * 1024 * 1024 + 1);
  });

  it('ENOSPC on an update: the published files stay the old whole ones, no temporary file is left beside them, the others update', async () => {
    const APPS = ['blog', 'diskfull'];
    const root = makeProject({ apps: APPS, config: copyConfig(APPS) });
    bulkMedia(root, 'diskfull', 20, 64 * 1024, 1);
    await linkedInProcess(root);
    const before = published(root);
    for (let index = 0; index < 20; index += 3) writeFileSync(path.join(sourceOf(root, 'diskfull'), 'd0', `f${index}.bin`), randomBytes(70_000));
    writeFileSync(path.join(sourceOf(root, 'blog'), 'css/blog.css'), '.blog { v: 2 }');
    const run = viaCommand(root, ['media:link', '--json', '--silent'], faultEnv(lib, { FAULT_WRITE_PATH: '-diskfull-' }));
    expect(run.status, run.output).to.not.equal(0);
    const byName = Object.fromEntries(jsonReport(run).apps.map((app) => [app['name'], app]));
    expect(byName['diskfull']).to.include({ status: 'error' });
    expect(String(byName['diskfull']?.['reason'])).to.contain('ENOSPC');
    expect(byName['blog']).to.include({ status: 'copied' });
    const after = published(root);
    for (const [rel, hash] of after) if (rel.startsWith('diskfull/')) expect(hash, rel).to.equal(before.get(rel));
    expect([...after.keys()].filter((rel) => rel.startsWith('diskfull/')).length).to.equal([...before.keys()].filter((rel) => rel.startsWith('diskfull/')).length);
    expect(after.get('blog/css/blog.css')).to.equal(sha('.blog { v: 2 }'));
    expect(temporaries(mediaOf(root))).to.deep.equal([]);
    await linkedInProcess(root);
    expectConverged(root, APPS);
  });

  it('EIO (a failing disk) on an update: that app is error with the disk hint, its published files stay the old whole ones, the others update', async () => {
    const APPS = ['blog', 'failing'];
    const root = makeProject({ apps: APPS, config: copyConfig(APPS) });
    bulkMedia(root, 'failing', 12, 32 * 1024, 1);
    await linkedInProcess(root);
    const before = published(root);
    for (let index = 0; index < 12; index += 2) writeFileSync(path.join(sourceOf(root, 'failing'), 'd0', `f${index}.bin`), randomBytes(40_000));
    writeFileSync(path.join(sourceOf(root, 'blog'), 'css/blog.css'), '.blog { v: 3 }');
    const run = viaCommand(root, ['media:link', '--json', '--silent'], faultEnv(lib, { FAULT_WRITE_PATH: '-failing-', FAULT_WRITE_ERRNO: 'EIO' }));
    expect(run.status, run.output).to.not.equal(0);
    const byName = Object.fromEntries(jsonReport(run).apps.map((app) => [app['name'], app]));
    expect(byName['failing']).to.include({ status: 'error' });
    expect(String(byName['failing']?.['reason'])).to.match(/^EIO/);
    expect(String(byName['failing']?.['hint'])).to.contain('read or write error');
    expect(byName['blog']).to.include({ status: 'copied' });
    const after = published(root);
    for (const [rel, hash] of before) if (rel.startsWith('failing/')) expect(after.get(rel), rel).to.equal(hash);
    expect(after.get('blog/css/blog.css')).to.equal(sha('.blog { v: 3 }'));
    expect(temporaries(mediaOf(root))).to.deep.equal([]);
    expect(locks(root)).to.deep.equal([]);
    await linkedInProcess(root);
    expectConverged(root, APPS);
  });

  it('a source folder vanishing mid-run (open gives ENOENT): that app is error, the others are copied, nothing partial published', () => {
    const APPS = ['blog', 'shop', 'vanish'];
    const root = makeProject({ apps: APPS, config: copyConfig(APPS) });
    const run = viaCommand(root, ['media:link', '--json', '--silent'], faultEnv(lib, { FAULT_OPEN_PATH: '/apps/vanish/app_media/vanish' }));
    expect(run.status, run.output).to.not.equal(0);
    const byName = Object.fromEntries(jsonReport(run).apps.map((app) => [app['name'], app]));
    expect(byName['vanish']).to.include({ status: 'error' });
    expect(String(byName['vanish']?.['reason'])).to.contain('ENOENT');
    expect(String(byName['vanish']?.['hint'])).to.match(/vanished/);
    expect(byName['blog']).to.include({ status: 'copied' });
    expect(byName['shop']).to.include({ status: 'copied' });
    expect(exists(path.join(mediaOf(root), 'vanish'))).to.equal(false);
    expect(temporaries(mediaOf(root))).to.deep.equal([]);
    expectConverged(root, ['blog', 'shop']);
  });

  it('an error reason names the file relative to the project, once, without the temporary name', () => {
    const root = makeProject({ apps: ['diskfull'], config: copyConfig(['diskfull']) });
    const run = viaCommand(root, ['media:link', '--json', '--silent'], faultEnv(lib, { FAULT_WRITE_PATH: 'diskfull' }));
    const reason = String(jsonReport(run).apps[0]?.['reason']);
    expect(reason).to.not.match(/ENOSPC: ENOSPC/);
    expect(reason).to.not.contain(root);
    expect(reason).to.not.contain(TEMP_MARK);
  });
});

// ---------------------------------------------------------------------------

describe('copy mode through the programmatic API', () => {
  it('link() then verify() agree, and a no-change link() writes nothing', async () => {
    const root = makeProject({ apps: ['blog', 'shop'], gulp: false });
    const first = await link({ cwd: root, mode: 'copy' });
    expect(first.counts).to.deep.equal({ copied: 2 });
    const state = projectState(mediaOf(root));
    const again = await link({ cwd: root, mode: 'copy' });
    expect(again.counts).to.deep.equal({ 'up-to-date': 2 });
    expect(projectState(mediaOf(root))).to.deep.equal(state);
    const checked = await verify({ cwd: root });
    expect(checked.failed).to.equal(false);
    expect(checked.counts).to.deep.equal({ ok: 2 });
  });
});
