/**
 * Real temporary projects for the tests, and what a user would check in them:
 * files, links, checksums, exit codes and output.
 */
import { spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { link, verify } from '../../src/index.js';
import type { Report, RunOptions } from '../../src/core/types.js';
import { recordsTrust } from '../../src/link/session.js';
import type { ApplyContext } from '../../src/link/entry.js';
import type { ResolvedConfig } from '../../src/core/config/load.js';
import { openFolder } from '../../src/core/fs/folder.js';
import { Workspace } from '../../src/core/fs/workspace.js';

export const REPO = path.resolve(fileURLToPath(new URL('../..', import.meta.url)));
export const GULP_BIN = path.join(REPO, 'node_modules', 'gulp', 'bin', 'gulp.js');

const made: string[] = [];

/** A fresh folder under the system's temp folder, removed after the run. */
export function tempDir(label = 'project'): string {
  const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), `app-media-${label}-`)));
  made.push(dir);
  return dir;
}

export function removeTempDirs(): void {
  for (const dir of made.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
}

/** Writes files given as `{ 'apps/blog/app_media/blog/css/site.css': 'body{}' }`. */
export function writeTree(root: string, files: Record<string, string | Buffer>): void {
  for (const [rel, content] of Object.entries(files)) {
    const file = path.join(root, rel);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, content);
  }
}

/** A stylesheet, a script and an image for an app, under `<appDir>/<mediaDirname>/<name>/`. */
export function mediaFiles(appDir: string, name: string, mediaDirname = 'app_media'): Record<string, string | Buffer> {
  const base = `${appDir}/${mediaDirname}/${name}`;
  return {
    [`${base}/css/${name}.css`]: `.${name} { color: teal; }\n`,
    [`${base}/js/${name}.js`]: `console.log(${JSON.stringify(name)});\n`,
    [`${base}/img/${name}.png`]: Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, name.length]),
  };
}

export interface ProjectOptions {
  /** Folder apps to create under apps/<name> with default media. */
  apps?: string[];
  config?: unknown;
  files?: Record<string, string | Buffer>;
  /** Link gulp and this package into node_modules so the gulp CLI runs in the project. */
  gulp?: boolean;
}

/** A project with folder apps, a config and (optionally) gulp wired to this package's build. */
export function makeProject(options: ProjectOptions = {}): string {
  const root = tempDir();
  const apps = options.apps ?? ['blog', 'shop'];
  for (const name of apps) writeTree(root, mediaFiles(`apps/${name}`, name));
  const config =
    options.config !== undefined
      ? options.config
      : { mediaRoot: 'public/media', apps: apps.map((name) => `./apps/${name}`) };
  if (config !== null)
    fs.writeFileSync(path.join(root, 'app-media.config.json'), `${JSON.stringify(config, null, 2)}\n`);
  writeTree(root, options.files ?? {});
  if (options.gulp ?? true) wireGulp(root);
  return root;
}

/** Wires gulp and this package into a project's node_modules, with a gulpfile that registers the tasks. */
export function wireGulp(root: string): void {
  fs.mkdirSync(path.join(root, 'node_modules'), { recursive: true });
  fs.symlinkSync(path.join(REPO, 'node_modules', 'gulp'), path.join(root, 'node_modules', 'gulp'));
  fs.symlinkSync(REPO, path.join(root, 'node_modules', 'gulp-app-media'));
  fs.writeFileSync(
    path.join(root, 'gulpfile.mjs'),
    "import gulp from 'gulp';\nimport { registerMediaTasks } from 'gulp-app-media';\n\nregisterMediaTasks(gulp);\n",
  );
}

/** Installs a package folder into the project's node_modules, as a symlink (like npm workspaces and pnpm do). */
export function installPackage(
  root: string,
  name: string,
  files: Record<string, string | Buffer>,
  pkg: Record<string, unknown> = {},
): string {
  const source = path.join(root, 'packages', name.replace(/^@[^/]+\//, ''));
  writeTree(source, files);
  fs.writeFileSync(path.join(source, 'package.json'), JSON.stringify({ name, version: '1.0.0', ...pkg }));
  const link = path.join(root, 'node_modules', name);
  fs.mkdirSync(path.dirname(link), { recursive: true });
  fs.symlinkSync(path.relative(path.dirname(link), source), link);
  return source;
}

export interface RunResult {
  status: number | null;
  stdout: string;
  stderr: string;
  /** stdout and stderr together. */
  output: string;
}

/** Runs the real gulp CLI in `cwd`. */
export function gulp(cwd: string, args: string[], env: NodeJS.ProcessEnv = {}): RunResult {
  const result: SpawnSyncReturns<string> = spawnSync(process.execPath, [GULP_BIN, '--no-color', ...args], {
    cwd,
    encoding: 'utf8',
    env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0', ...env },
    timeout: 60_000,
  });
  return {
    status: result.status,
    stdout: result.stdout,
    stderr: result.stderr,
    output: `${result.stdout}${result.stderr}`,
  };
}

/** npm in `cwd`, without its update notice or colours, its output gathered. */
export function npm(cwd: string, args: string[]): RunResult {
  const run = spawnSync('npm', args, {
    cwd,
    encoding: 'utf8',
    timeout: 240_000,
    env: { ...process.env, NO_COLOR: '1', npm_config_update_notifier: 'false' },
  });
  return {
    status: run.status,
    stdout: run.stdout,
    stderr: run.stderr,
    output: `${run.stdout}${run.stderr}${run.error ? String(run.error) : ''}`,
  };
}

/**
 * The line printed for one entry, by the command (`removed      blog  public/media/blog ...`) or
 * through gulp's logger (after its `[hh:mm:ss] `).
 */
export function entryLine(status: string, name: string, rest = '', mediaRoot = 'public/media'): RegExp {
  const esc = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`(?:^|\\] )${esc(status)}\\s+${esc(name)}\\s+${esc(`${mediaRoot}/${name}`)}${esc(rest)}`, 'm');
}

export type EntrySnapshot =
  | { type: 'file'; sha: string; size: number; mtimeMs: number; ino: number; mode: number }
  | { type: 'dir'; mtimeMs: number; ino: number }
  | { type: 'link'; text: string; mtimeMs: number; ino: number }
  /** A FIFO, a socket, a device: its identity, never its contents (reading a FIFO would hang). */
  | { type: 'other'; mtimeMs: number; ino: number; mode: number };

/** One entry, a link not followed, with its content hash; undefined when nothing is there (any more). */
export function entryOf(full: string): EntrySnapshot | undefined {
  let stat;
  try {
    stat = fs.lstatSync(full);
  } catch {
    return undefined;
  }
  if (stat.isSymbolicLink()) return { type: 'link', text: fs.readlinkSync(full), mtimeMs: stat.mtimeMs, ino: stat.ino };
  if (stat.isDirectory()) return { type: 'dir', mtimeMs: stat.mtimeMs, ino: stat.ino };
  if (stat.isFile())
    return {
      type: 'file',
      sha: sha(fs.readFileSync(full)),
      size: stat.size,
      mtimeMs: stat.mtimeMs,
      ino: stat.ino,
      mode: stat.mode,
    };
  return { type: 'other', mtimeMs: stat.mtimeMs, ino: stat.ino, mode: stat.mode };
}

export interface SnapshotOptions {
  /** Entries left out (and not entered), by their path relative to `root`. */
  skip?: (rel: string) => boolean;
  /** The same, by their full path. */
  skipPath?: (full: string) => boolean;
  /** A folder that cannot be listed (gone meanwhile) is taken as empty instead of failing the snapshot. */
  tolerant?: boolean;
}

/** Every entry below `root` (links not followed), with content hashes: compare two to prove nothing changed. */
export function snapshot(root: string, options: SnapshotOptions = {}): Map<string, EntrySnapshot> {
  const out = new Map<string, EntrySnapshot>();
  const visit = (dir: string, rel: string): void => {
    let names: string[];
    try {
      names = fs.readdirSync(dir).sort();
    } catch (error) {
      if (options.tolerant) return;
      throw error;
    }
    for (const name of names) {
      const childRel = rel ? `${rel}/${name}` : name;
      const full = path.join(dir, name);
      if (options.skip?.(childRel) || options.skipPath?.(full)) continue;
      const entry = entryOf(full);
      if (!entry) continue;
      out.set(childRel, entry);
      if (entry.type === 'dir') visit(full, childRel);
    }
  };
  visit(root, '');
  return out;
}

/** A snapshot without node_modules (whose links the fixture made), as plain data for deep equality. */
export function projectState(root: string): Record<string, EntrySnapshot> {
  return Object.fromEntries(snapshot(root, { skip: (rel) => rel === 'node_modules' }));
}

/**
 * Sets a file's or folder's modification (and access) time, in milliseconds since the epoch (exact to the microsecond).
 */
export function setMtime(file: string, mtimeMs: number): void {
  fs.utimesSync(file, mtimeMs / 1000, mtimeMs / 1000);
}

export function sha(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

export function isLink(file: string): boolean {
  try {
    return fs.lstatSync(file).isSymbolicLink();
  } catch {
    return false;
  }
}

export function exists(file: string): boolean {
  try {
    fs.lstatSync(file);
    return true;
  } catch {
    return false;
  }
}

/** Parses the JSON report a `--json --silent` run printed. */
export function jsonReport(result: RunResult): {
  apps: Array<Record<string, unknown>>;
  counts: Record<string, number>;
  [key: string]: unknown;
} {
  const start = result.stdout.indexOf('{');
  return JSON.parse(result.stdout.slice(start)) as ReturnType<typeof jsonReport>;
}

/** The `app-media` command of this package (bin/app-media.js, which runs the esbuild bundle in dist/). */
export const APP_MEDIA_BIN = path.join(REPO, 'bin', 'app-media.js');

/** Runs the real `app-media` command in `cwd`, as an npm lifecycle script would. */
export function appMedia(cwd: string, args: string[], env: NodeJS.ProcessEnv = {}, nodeArgs: string[] = []): RunResult {
  const result: SpawnSyncReturns<string> = spawnSync(process.execPath, [...nodeArgs, APP_MEDIA_BIN, ...args], {
    cwd,
    encoding: 'utf8',
    env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0', ...env },
    timeout: 60_000,
  });
  return {
    status: result.status,
    stdout: result.stdout,
    stderr: result.stderr,
    output: `${result.stdout}${result.stderr}`,
  };
}

/**
 * The `app-media` command given a gulp task's arguments (`media:link --json` runs `app-media link
 * --json`). A test runs its user-facing run through gulp, and the runs that repeat or check and
 * whose lines it reads through the command: cli.test.ts proves its lines, JSON and exit status the
 * same as gulp's, and it starts in under half of gulp's time (most of the suite's time is processes
 * starting). Runs whose output no test reads call the API in process (linkedInProcess).
 */
export function viaCommand(cwd: string, args: string[], env: NodeJS.ProcessEnv = {}): RunResult {
  return appMedia(cwd, commandArgs(args), env);
}

/** A gulp task's arguments as the `app-media` command takes them: `media:link --json` → `link --json`. */
export function commandArgs(args: readonly string[]): string[] {
  const [task = '', ...rest] = args;
  return [task.replace(/^media:/, ''), ...rest];
}

/**
 * Runs a command to its end without blocking this process: the servers and the proxy
 * answer from this process's event loop, so a spawnSync would wait for itself.
 */
export function runAsync(
  args: string[],
  cwd: string,
  env: NodeJS.ProcessEnv = {},
): Promise<{ status: number | null; stdout: string; stderr: string; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, {
      cwd,
      env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', reject);
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr, output: `${stdout}${stderr}` });
    });
  });
}

/**
 * A link run in this process (the API), for a set-up or check run whose output no test reads: it
 * must succeed. The gulp task and the command are under test where their lines are read
 * (cli.test.ts proves them the same); a process start-up costs many times the run.
 */
export async function linkedInProcess(cwd: string, options: RunOptions = {}): Promise<Report> {
  const report = await link({ cwd, ...options });
  if (report.failed) throw new Error(`link failed in ${cwd}: ${JSON.stringify(report.apps)}`);
  return report;
}

/** A verify run in this process that must pass, as linkedInProcess. */
export async function verifiedInProcess(cwd: string, options: RunOptions = {}): Promise<Report> {
  const report = await verify({ cwd, ...options });
  if (report.failed) throw new Error(`verify failed in ${cwd}: ${JSON.stringify(report.apps)}`);
  return report;
}

/**
 * What a writing run holds while it applies a plan (mediaRoot open, a run token, whose records
 * are trusted), for the tests that call apply's steps one by one. Close it with `ws.root.close()`.
 */
export function applyContextOf(config: ResolvedConfig, realMediaRoot: string): ApplyContext {
  fs.mkdirSync(config.mediaRoot, { recursive: true });
  const ws = new Workspace(openFolder(config.mediaRoot, { follow: true }), randomBytes(8).toString('hex'));
  return {
    projectRoot: config.projectRoot,
    mediaRoot: config.mediaRoot,
    realMediaRoot,
    relative: config.relative,
    ignore: config.ignore,
    ws,
    trust: recordsTrust(config),
  };
}
