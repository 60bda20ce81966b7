/**
 * Running as another, unprivileged user (nobody), as the permission and cross-user tests need:
 * sessions and CI run as root. `setpriv` (util-linux), else `runuser`.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, writeFileSync } from 'node:fs';
import { buildSync } from 'esbuild';
import path from 'node:path';
import { APP_MEDIA_BIN, REPO, tempDir, type RunResult } from './project.js';

export const NOBODY = 65534;

let prefix: string[] | null | undefined;

/** The command prefix that runs a program as nobody, or null where none can (not Linux, not root, neither tool). */
export function nobodyPrefix(): string[] | null {
  if (prefix !== undefined) return prefix;
  prefix = null;
  if (process.platform !== 'linux' || process.getuid?.() !== 0) return prefix;
  for (const candidate of [
    ['setpriv', `--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups'],
    ['runuser', '-u', 'nobody', '--'],
  ]) {
    const probe = spawnSync(
      candidate[0] as string,
      [...candidate.slice(1), process.execPath, '-p', 'process.getuid()'],
      { encoding: 'utf8' },
    );
    if (probe.status === 0 && probe.stdout.trim() !== '0') {
      prefix = candidate;
      break;
    }
  }
  return prefix;
}

/** In a mocha `before`: skips the suite, saying why, where nothing can run as nobody. */
export function skipUnlessNobody(context: Mocha.Context): void {
  if (nobodyPrefix()) return;
  console.log('      skipped: needs Linux, root and setpriv or runuser to run as another (unprivileged) user');
  context.skip();
}

let command: string | undefined;

/**
 * The app-media command nobody runs: this checkout's, or, when the checkout is out of its reach
 * (a CI clone under mktemp -d, or Stryker's sandbox, both mode 0700), a copy it can read: the
 * command's bundle with the packages it loads when it runs (vinyl-fs for links, del and globby for
 * removals) bundled in, in one file, and picomatch beside it. Either way the same code.
 */
export function nobodyCommand(): string {
  // A test file's after(removeTempDirs) removes the copy; mocha's worker then runs another file with
  // this module still loaded: the copy is made again rather than a command that is gone being run.
  if (command && existsSync(command)) return command;
  const run = nobodyPrefix() as string[];
  const reach = spawnSync(
    run[0] as string,
    [...run.slice(1), process.execPath, '-e', `require('fs').accessSync(${JSON.stringify(APP_MEDIA_BIN)})`],
    { encoding: 'utf8' },
  );
  if (reach.status === 0) return (command = APP_MEDIA_BIN);
  const dir = tempDir('cli-for-nobody');
  chmodSync(dir, 0o755);
  buildSync({
    // The command's ES module entry (the bundle beside it, dist/app-media.cjs, is CommonJS).
    entryPoints: [path.join(REPO, 'dist', 'cli', 'main.js')],
    outfile: path.join(dir, 'app-media.mjs'),
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    external: ['./publish/*'],
    // The CommonJS packages bundled in call require() for Node's own modules.
    banner: {
      js:
        "import { createRequire as __appMediaRequire } from 'node:module';\nconst require = " +
        '__appMediaRequire(import.meta.url);',
    },
    logLevel: 'error',
  });
  // walk.ts loads picomatch with a require() of its own, which no bundler follows.
  cpSync(path.join(REPO, 'node_modules', 'picomatch'), path.join(dir, 'node_modules', 'picomatch'), {
    recursive: true,
  });
  command = path.join(dir, 'command.mjs');
  writeFileSync(
    command,
    "import { main } from './app-media.mjs';\nprocess.exitCode = await main(process.argv.slice(2));\n",
  );
  return command;
}

/** `app-media <args>` run by nobody in `cwd`. */
export function appMediaAsNobody(cwd: string, args: string[]): RunResult {
  return asNobody(cwd, [process.execPath, nobodyCommand(), ...args]);
}

/** Any command run by nobody (a shell line that races a run of root's, for instance). */
export function asNobody(cwd: string, argv: string[]): RunResult {
  const run = nobodyPrefix() as string[];
  const result = spawnSync(run[0] as string, [...run.slice(1), ...argv], {
    cwd,
    encoding: 'utf8',
    env: { ...process.env, HOME: cwd, NO_COLOR: '1' },
    timeout: 30_000,
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr, output: result.stdout + result.stderr };
}
