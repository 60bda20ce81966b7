/**
 * Helpers of the copy-mode tests (copy-mode, copy-crash, copy-faults, watch): projects in copy
 * mode, what mediaRoot publishes, the tool's leftovers, processes spawned for real, and the
 * LD_PRELOAD fault shim (test/support/faults.c).
 */
import { expect } from 'chai';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import {
  APP_MEDIA_BIN,
  commandArgs,
  exists,
  GULP_BIN,
  jsonReport,
  REPO,
  removeTempDirs,
  snapshot,
  tempDir,
  type RunResult,
} from './project.js';

/** A pid no process has now: one that just ended. */
export function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  return Number(child.stdout);
}

/** The unprivileged user of the permission tests (nobody). */
export const NOBODY = 65534;

export const TEMP_MARK = '.app-media-tmp-';
export const LOCK = '.app-media.lock';
export const MANIFEST = '.app-media.json';

/** Every child this file spawns, so none outlives a failed test. */
const children = new Set<ChildProcess>();

/** Kills every child still running (a failed test's), and removes the temporary folders: each file's `after`. */
export function endChildren(): void {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  removeTempDirs();
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `check` every `step` ms until it holds or `ms` pass; returns whether it held. */
export async function waitFor(check: () => boolean, ms: number, step = 25): Promise<boolean> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (check()) return true;
    if (Date.now() > deadline) return false;
    await sleep(step);
  }
}

export function copyConfig(apps: string[], extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { mediaRoot: 'public/media', mode: 'copy', apps: apps.map((name) => `./apps/${name}`), ...extra };
}

export const mediaOf = (root: string): string => path.join(root, 'public/media');
export const sourceOf = (root: string, name: string): string => path.join(root, 'apps', name, 'app_media', name);

/** Regular files below `dir` (links not followed): relative path → sha256. */
export function fileShas(dir: string, skip: (rel: string) => boolean = () => false): Map<string, string> {
  const out = new Map<string, string>();
  if (!exists(dir)) return out;
  for (const [rel, entry] of snapshot(dir, { skip })) if (entry.type === 'file') out.set(rel, entry.sha);
  return out;
}

/**
 * What mediaRoot publishes: every file below the app entries, without the tool's own files (records, lock, temporary
 * names).
 */
export function published(root: string): Map<string, string> {
  return fileShas(
    mediaOf(root),
    (rel) => rel.startsWith('.app-media') || path.posix.basename(rel).startsWith(TEMP_MARK),
  );
}

/** What mediaRoot must publish for these apps: every source file, as `<name>/<rel>`. */
export function expectedOf(root: string, apps: string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const name of apps) for (const [rel, hash] of fileShas(sourceOf(root, name))) out.set(`${name}/${rel}`, hash);
  return out;
}

/** Names anywhere below `dir` that are the tool's temporary files or folders. */
export function temporaries(dir: string): string[] {
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
export function locks(root: string): string[] {
  if (!exists(mediaOf(root))) return [];
  return readdirSync(mediaOf(root)).filter((name) => name.startsWith(LOCK));
}

/**
 * The lock is there and written. Not the moment it appears: a kill between its creation and
 * its first write leaves an empty lock, which costs the next run a 5 s wait (see the skipped test).
 */
export function lockWritten(media: string): boolean {
  try {
    return statSync(path.join(media, LOCK)).size > 0;
  } catch {
    return false;
  }
}

export function readManifest(root: string): {
  entries: Record<string, { kind: string; files?: Record<string, [number, number]> }>;
} {
  return JSON.parse(readFileSync(path.join(mediaOf(root), MANIFEST), 'utf8')) as ReturnType<typeof readManifest>;
}

/** The state a user and a web server see is complete and right, and nothing of a run is left behind. */
/**
 * A first copy where one app failed with `code`: that app is error, the other two copied, the run
 * exit non-zero, and nothing partial or left over in mediaRoot. Returns the report's apps by name.
 */
export function expectOneFailed(
  root: string,
  run: RunResult,
  failed: string,
  code: string,
): Record<string, Record<string, unknown>> {
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

export function expectConverged(root: string, apps: string[], label = ''): void {
  expect(temporaries(mediaOf(root)), `${label} temporary files left`).to.deep.equal([]);
  expect(locks(root), `${label} lock left`).to.deep.equal([]);
  expect(Object.fromEntries(published(root)), `${label} published files equal their sources`).to.deep.equal(
    Object.fromEntries(expectedOf(root, apps)),
  );
}

export interface Spawned {
  child: ChildProcess;
  /** Resolves at exit with the output so far. */
  done: Promise<RunResult & { signal: NodeJS.Signals | null }>;
  output(): string;
}

/** The real gulp CLI, started without waiting for it. */
export function spawnGulp(cwd: string, args: string[], env: NodeJS.ProcessEnv = {}, command: string[] = []): Spawned {
  return spawnTool([...command, process.execPath, GULP_BIN, '--no-color', ...args], cwd, env);
}

/** The `app-media` command, started without waiting for it (`media:link` is given as `link`). */
export function spawnAppMedia(cwd: string, args: string[], env: NodeJS.ProcessEnv = {}): Spawned {
  return spawnTool([process.execPath, APP_MEDIA_BIN, ...commandArgs(args)], cwd, env);
}

export function spawnTool(argv: string[], cwd: string, env: NodeJS.ProcessEnv): Spawned {
  const child = spawn(argv[0] as string, argv.slice(1), {
    cwd,
    env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
  });
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  const done = new Promise<RunResult & { signal: NodeJS.Signals | null }>((resolve) => {
    child.once('close', (status, signal) => {
      children.delete(child);
      resolve({ status, signal, stdout, stderr, output: `${stdout}${stderr}` });
    });
  });
  return { child, done, output: () => `${stdout}${stderr}` };
}

/** Fills an app's media with `count` files of `size` random bytes, spread over `dirs` folders. */
export function bulkMedia(root: string, name: string, count: number, size: number, dirs = 4): void {
  for (let index = 0; index < count; index++) {
    const dir = path.join(sourceOf(root, name), `d${index % dirs}`);
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, `f${index}.bin`), randomBytes(size));
  }
}

// ---------------------------------------------------------------------------

/** Compiles test/support/faults.c once; the reason when it cannot. */
let faultsBuilt: { lib?: string; why?: string } | undefined;
export function faultsShim(): { lib?: string; why?: string } {
  // Built into a temporary folder, which a test file's `after` removes: a file run later in the same worker builds it
  // again.
  if (faultsBuilt && (faultsBuilt.lib === undefined || existsSync(faultsBuilt.lib))) return faultsBuilt;
  if (process.platform !== 'linux')
    return (faultsBuilt = { why: 'the fault-injection shim needs Linux (LD_PRELOAD and /proc/self/fd)' });
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
export function faultEnv(lib: string, faults: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return { LD_PRELOAD: lib, UV_USE_IO_URING: '0', ...faults };
}

export function needShim(ctx: Mocha.Context): string {
  const built = faultsShim();
  if (!built.lib) {
    console.log(`      skipped: ${built.why ?? 'unknown reason'}`);
    ctx.skip();
  }
  return built.lib;
}
