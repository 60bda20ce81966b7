/**
 * Whole-process runs: wall time from spawn to exit, and peak RSS, measured by
 * GNU time where it is installed, else (node processes only) by a preloaded
 * script that reports `process.resourceUsage().maxRSS` at exit.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Sample } from './measure.js';

const MAXRSS_PRELOAD = fileURLToPath(new URL('./maxrss.cjs', import.meta.url));

export interface Python {
  bin: string;
  django: string;
}

export interface Tools {
  /** GNU time (`/usr/bin/time`), for peak RSS of any command. */
  time: string | null;
  cp: string | null;
  rsync: string | null;
  python: Python | null;
  /** Peers that cannot run here, with why. */
  skipped: Map<string, string>;
}

function which(command: string): string | null {
  const result = spawnSync('sh', ['-c', `command -v ${command}`], { encoding: 'utf8' });
  const found = result.stdout.trim();
  return result.status === 0 && found !== '' ? found : null;
}

/** Django as `python3` sees it, else as the system's python3 does (Debian's python3-django installs there). */
function findDjango(): Python | null {
  const candidates = [
    ...new Set([which('python3'), '/usr/bin/python3'].filter((bin): bin is string => bin !== null && existsSync(bin))),
  ];
  for (const bin of candidates) {
    const result = spawnSync(bin, ['-c', 'import django; print(django.get_version())'], { encoding: 'utf8' });
    if (result.status === 0) return { bin, django: result.stdout.trim() };
  }
  return null;
}

export function detectTools(): Tools {
  const skipped = new Map<string, string>();
  const time =
    existsSync('/usr/bin/time') && spawnSync('/usr/bin/time', ['-f', '%M', 'true']).status === 0
      ? '/usr/bin/time'
      : null;
  const cp = which('cp');
  if (!cp) skipped.set('cp -r', 'cp not found');
  const rsync = which('rsync');
  if (!rsync) skipped.set('rsync -a', 'rsync is not installed (Debian: apt-get install rsync)');
  const python = findDjango();
  if (!python)
    skipped.set('collectstatic', '`python3 -c "import django"` fails (Debian: apt-get install python3-django)');
  return { time, cp, rsync, python, skipped };
}

export interface RunOptions {
  cwd: string;
  env?: NodeJS.ProcessEnv;
}

/**
 * Runs a command to its end and returns its wall time and peak RSS. A run
 * that fails throws: a benchmark of a failing run measures nothing.
 */
export function runMeasured(tools: Tools, command: string, args: readonly string[], options: RunOptions): Sample {
  const scratch = mkdtempSync(path.join(os.tmpdir(), 'bench-rss-'));
  const rssFile = path.join(scratch, 'maxrss');
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0', ...options.env };
  let file = command;
  let argv = [...args];
  if (tools.time) {
    file = tools.time;
    argv = ['-f', '%M', '-o', rssFile, command, ...args];
  } else if (command === process.execPath) {
    argv = ['--require', MAXRSS_PRELOAD, ...args];
    env['BENCH_MAXRSS_FILE'] = rssFile;
  }
  try {
    const started = performance.now();
    const result = spawnSync(file, argv, { cwd: options.cwd, env, encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
    const ms = performance.now() - started;
    if (result.error) throw result.error;
    if (result.status !== 0) {
      const output = `${result.stdout}${result.stderr}`.trim().split('\n').slice(-15).join('\n');
      throw new Error(`${[command, ...args].join(' ').slice(0, 200)} exited with ${result.status}:\n${output}`);
    }
    const sample: Sample = { ms };
    const rss = readRss(rssFile);
    if (rss !== undefined) sample.rssKiB = rss;
    return sample;
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

function readRss(file: string): number | undefined {
  if (!existsSync(file)) return undefined;
  // GNU time writes "Command exited with non-zero status N" before the figure when the command fails.
  const last = readFileSync(file, 'utf8').trim().split('\n').pop() ?? '';
  const kib = Number.parseInt(last, 10);
  return Number.isFinite(kib) ? kib : undefined;
}
