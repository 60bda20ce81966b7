/**
 * The `app-media` command (bin/app-media.js → the esbuild bundle in dist/) as
 * npm lifecycle scripts run it: a real child process per run, in real
 * temporary projects. What is checked is what a user sees: the exit status,
 * the lines on stdout and stderr, and what is left on disk. The same
 * behaviour tests run through `gulp media:<task>` and `app-media <task>` on
 * twin projects and must agree; the workspace layouts (npm for real, a
 * pnpm-style isolated node_modules built here) and the example project close it.
 */
import { expect } from 'chai';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { flagName, flagsFor, plain, TASKS, taskDescriptions } from '../src/core/options.js';
import type { TaskName } from '../src/core/types.js';
import {
  APP_MEDIA_BIN,
  appMedia,
  entryLine,
  exists,
  GULP_BIN,
  gulp,
  isLink,
  linkedInProcess,
  makeProject,
  mediaFiles,
  npm,
  projectState,
  REPO,
  removeTempDirs,
  tempDir,
  writeTree,
  type ProjectOptions,
  type RunResult,
} from './support/project.js';

const children: ChildProcess[] = [];
after(() => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  removeTempDirs();
});

const MEDIA = 'public/media';
const MANIFEST = `${MEDIA}/.app-media.json`;

const esc = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

function nonEmptyLines(text: string): string[] {
  return text.split('\n').filter((line) => line.trim() !== '');
}

function names(dir: string): string[] {
  return fs.readdirSync(dir).sort();
}

/** A folder left by hand at mediaRoot/<name>: the conflict every test below uses. */
function handMadeFolder(root: string, name = 'blog'): void {
  writeTree(root, { [`${MEDIA}/${name}/index.html`]: '<p>mine</p>\n', [`${MEDIA}/${name}/sub/a.txt`]: 'a\n' });
}

/** Everything below `dir` (links not followed), as plain data. */
function stateOf(dir: string): Record<string, unknown> {
  return projectState(dir);
}

function expectLinkedTo(root: string, name: string, source: string): void {
  const entry = path.join(root, MEDIA, name);
  expect(isLink(entry), `${MEDIA}/${name} is a link`).to.equal(true);
  expect(fs.realpathSync(entry), `${MEDIA}/${name} leads to ${source}`).to.equal(
    fs.realpathSync(path.join(root, source)),
  );
}

const noStack = /\n\s+at /;

/** A long-running child (media:watch), with its output as it comes. */
interface Running {
  child: ChildProcess;
  out: { stdout: string; stderr: string };
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  waitFor(pattern: RegExp, ms?: number): Promise<void>;
}

function start(cwd: string, args: string[]): Running {
  const child = spawn(process.execPath, args, {
    cwd,
    env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  const out = { stdout: '', stderr: '' };
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    out.stdout += chunk;
  });
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    out.stderr += chunk;
  });
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on('exit', (code, signal) => resolve({ code, signal }));
  });
  const waitFor = (pattern: RegExp, ms = 15_000): Promise<void> =>
    new Promise((resolve, reject) => {
      const started = Date.now();
      const poll = setInterval(() => {
        if (pattern.test(`${out.stdout}${out.stderr}`)) {
          clearInterval(poll);
          resolve();
        } else if (Date.now() - started > ms || child.exitCode !== null) {
          clearInterval(poll);
          reject(
            new Error(
              `no ${String(pattern)} within ${ms} ms (exit ${child.exitCode}); output:\n${out.stdout}${out.stderr}`,
            ),
          );
        }
      }, 20);
    });
  return { child, out, exit, waitFor };
}

async function stop(running: Running): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  running.child.kill('SIGINT');
  const timeout = new Promise<never>((_, reject) =>
    setTimeout(
      () => reject(new Error(`no exit within 10 s after SIGINT; output:\n${running.out.stdout}${running.out.stderr}`)),
      10_000,
    ),
  );
  return Promise.race([running.exit, timeout]);
}

// ---------------------------------------------------------------------------

describe('app-media <task>: each task through the command', () => {
  it('link: links every app, one line per app and a summary on stdout, nothing on stderr, exit 0', () => {
    const root = makeProject({ apps: ['blog', 'shop'], gulp: false });
    const sources = stateOf(path.join(root, 'apps'));
    const run = appMedia(root, ['link']);
    expect(run.status, run.output).to.equal(0);
    expect(run.stdout).to.match(entryLine('linked', 'blog', ' -> apps/blog/app_media/blog (symlink)'));
    expect(run.stdout).to.match(entryLine('linked', 'shop', ' -> apps/shop/app_media/shop (symlink)'));
    expect(run.stdout).to.match(/^media:link: 2 linked in public\/media \(\d+ ms\)$/m);
    expect(run.stderr).to.equal('');
    expectLinkedTo(root, 'blog', 'apps/blog/app_media/blog');
    expectLinkedTo(root, 'shop', 'apps/shop/app_media/shop');
    expect(stateOf(path.join(root, 'apps')), 'the apps are untouched').to.deep.equal(sources);
  });

  it(
    'link: a conflict exits 1 (default), names the app on stderr with a hint, ' +
      'leaves the folder in the way untouched and links the others',
    () => {
      const root = makeProject({ apps: ['blog', 'shop'], gulp: false });
      handMadeFolder(root);
      const before = stateOf(path.join(root, MEDIA, 'blog'));
      const run = appMedia(root, ['link']);
      expect(run.status, run.output).to.equal(1);
      expect(run.stderr).to.match(entryLine('conflict', 'blog'));
      expect(run.stderr).to.match(/hint: /);
      expect(run.output).to.match(/media:link: 1 conflict, 1 linked in public\/media/);
      expect(run.output, 'no stack trace').to.not.match(noStack);
      expect(stateOf(path.join(root, MEDIA, 'blog'))).to.deep.equal(before);
      expect(fs.lstatSync(path.join(root, MEDIA, 'blog')).isDirectory()).to.equal(true);
      expectLinkedTo(root, 'shop', 'apps/shop/app_media/shop');
    },
  );

  for (const form of [['--conflicts=warn'], ['--conflicts', 'warn']]) {
    it(
      `link ${form.join(' ')}: the conflict is printed just as on failure (stderr), ` +
        `the fixture is untouched, exit 0`,
      () => {
        const failing = makeProject({ apps: ['blog', 'shop'], gulp: false });
        handMadeFolder(failing);
        const warning = makeProject({ apps: ['blog', 'shop'], gulp: false });
        handMadeFolder(warning);
        const before = stateOf(path.join(warning, MEDIA, 'blog'));

        const fail = appMedia(failing, ['link']);
        const warn = appMedia(warning, ['link', ...form]);
        expect(fail.status, fail.output).to.equal(1);
        expect(warn.status, warn.output).to.equal(0);
        expect(warn.stderr).to.match(entryLine('conflict', 'blog'));
        // The same conflict lines, word for word (the summary is the only line that may move to stdout).
        const conflictLines = (text: string): string[] =>
          nonEmptyLines(text).filter((line) => !line.startsWith('media:link: '));
        expect(conflictLines(warn.stderr)).to.deep.equal(conflictLines(fail.stderr));
        expect(conflictLines(warn.stderr).length).to.be.greaterThan(1);
        expect(warn.output).to.match(/media:link: 1 conflict, 1 linked in public\/media/);
        expect(stateOf(path.join(warning, MEDIA, 'blog')), 'the hand-made folder is untouched').to.deep.equal(before);
        expectLinkedTo(warning, 'shop', 'apps/shop/app_media/shop');

        const json = appMedia(warning, ['link', ...form, '--json']);
        expect(json.status, json.output).to.equal(0);
        const report = JSON.parse(json.stdout) as { failed: boolean; counts: Record<string, number> };
        expect(report.failed).to.equal(false);
        expect(report.counts).to.deep.equal({ conflict: 1, 'up-to-date': 1 });
      },
    );
  }

  it('clean: removes the links it made and nothing else, exit 0; --dry-run writes nothing', () => {
    const root = makeProject({ apps: ['blog', 'shop'], gulp: false, files: { [`${MEDIA}/robots.txt`]: 'mine\n' } });
    expect(appMedia(root, ['link']).status).to.equal(0);
    const linked = stateOf(root);
    const dry = appMedia(root, ['clean', '--dry-run']);
    expect(dry.status, dry.output).to.equal(0);
    expect(dry.stdout).to.match(/would remove\s+blog/);
    expect(stateOf(root)).to.deep.equal(linked);

    const run = appMedia(root, ['clean']);
    expect(run.status, run.output).to.equal(0);
    expect(run.stdout).to.match(entryLine('removed', 'blog', ' (symlink)'));
    expect(run.stdout).to.match(entryLine('removed', 'shop', ' (symlink)'));
    expect(run.stdout).to.match(/^foreign\s+robots\.txt\s+public\/media\/robots\.txt$/m);
    expect(run.stdout).to.match(/^media:clean: 2 removed, 1 foreign in public\/media \(\d+ ms\)$/m);
    expect(names(path.join(root, MEDIA))).to.deep.equal(['robots.txt']);
    expect(exists(path.join(root, 'apps/blog/app_media/blog/css/blog.css'))).to.equal(true);
  });

  it('verify: exit 0 when every app is served; exit 1 when an entry is missing, naming it', () => {
    const root = makeProject({ apps: ['blog', 'shop'], gulp: false });
    const missing = appMedia(root, ['verify']);
    expect(missing.status, missing.output).to.equal(1);
    expect(missing.stderr).to.match(entryLine('missing', 'blog'));
    expect(appMedia(root, ['link']).status).to.equal(0);
    const linked = stateOf(root);

    const ok = appMedia(root, ['verify']);
    expect(ok.status, ok.output).to.equal(0);
    expect(ok.stdout).to.match(entryLine('ok', 'blog'));
    expect(ok.stdout).to.match(/^media:verify: 2 ok in public\/media \(\d+ ms\)$/m);
    expect(stateOf(root), 'verify writes nothing').to.deep.equal(linked);

    fs.rmSync(path.join(root, MEDIA, 'shop'));
    const one = appMedia(root, ['verify']);
    expect(one.status, one.output).to.equal(1);
    expect(one.stderr).to.match(entryLine('missing', 'shop'));
    expect(one.output).to.match(/media:verify: 1 ok, 1 missing in public\/media/);
  });

  it('find --path: exit 0 with the file and its URL when found, exit 1 when not found', () => {
    const root = makeProject({ apps: ['blog', 'shop'], gulp: false });
    expect(appMedia(root, ['link']).status).to.equal(0);
    const found = appMedia(root, ['find', '--path', 'blog/css/blog.css']);
    expect(found.status, found.output).to.equal(0);
    expect(found.stdout).to.match(
      new RegExp(
        '^found\\s+blog\\s+public/media/blog/css/blog\\.css -> apps/blog/app_media/blog/css/blog\\.css ' +
          'at /media/blog/css/blog\\.css$',
        'm',
      ),
    );
    const inline = appMedia(root, ['find', '--path=shop/js/shop.js']);
    expect(inline.status, inline.output).to.equal(0);
    expect(inline.stdout).to.match(/^found\s+shop\s/m);

    const notFound = appMedia(root, ['find', '--path', 'blog/css/nope.css']);
    expect(notFound.status, notFound.output).to.equal(1);
    expect(notFound.stderr).to.match(/^not-found\s+blog\s+public\/media\/blog\/css\/nope\.css$/m);
    expect(notFound.output).to.not.match(noStack);

    const noPath = appMedia(root, ['find']);
    expect(noPath.status, noPath.output).to.equal(1);
    expect(noPath.stderr).to.match(/^APP_MEDIA_BAD_FLAG: --path/m);
  });

  it(
    'watch: links, prints the watching line, relinks on a config change, and Ctrl-C (SIGINT) ' + 'ends it with exit 0',
    async () => {
      const root = makeProject({
        apps: ['blog', 'shop'],
        gulp: false,
        config: { mediaRoot: MEDIA, apps: ['./apps/blog'] },
      });
      const watching = start(root, [APP_MEDIA_BIN, 'watch']);
      await watching.waitFor(/media:watch: watching \d+ paths?; Ctrl-C to stop/);
      expect(watching.out.stdout).to.match(entryLine('linked', 'blog'));
      expectLinkedTo(root, 'blog', 'apps/blog/app_media/blog');

      fs.writeFileSync(
        path.join(root, 'app-media.config.json'),
        JSON.stringify({ mediaRoot: MEDIA, apps: ['./apps/blog', './apps/shop'] }),
      );
      await watching.waitFor(entryLine('linked', 'shop'));
      expectLinkedTo(root, 'shop', 'apps/shop/app_media/shop');

      const { code, signal } = await stop(watching);
      expect({ code, signal }, watching.out.stdout + watching.out.stderr).to.deep.equal({ code: 0, signal: null });
      expect(watching.out.stdout).to.match(/media:watch: stopped/);
      expect(watching.out.stderr).to.equal('');
    },
  );

  it(
    'watch with a conflict: exit 1 after Ctrl-C by default, as `gulp media:watch`; ' +
      '0 with --conflicts=warn, the conflict still on stderr',
    async () => {
      const exits: Record<string, number | null> = {};
      for (const [label, args] of [
        ['command', [APP_MEDIA_BIN, 'watch']],
        ['gulp', [GULP_BIN, '--no-color', 'media:watch']],
        ['command --conflicts=warn', [APP_MEDIA_BIN, 'watch', '--conflicts=warn']],
      ] as const) {
        const root = makeProject({ apps: ['blog', 'shop'] });
        handMadeFolder(root);
        const before = stateOf(path.join(root, MEDIA, 'blog'));
        const watching = start(root, [...args]);
        await watching.waitFor(/media:watch: watching/);
        expect(watching.out.stderr, label).to.match(/conflict\s+blog\s+public\/media\/blog/);
        const { code } = await stop(watching);
        exits[label] = code;
        expect(stateOf(path.join(root, MEDIA, 'blog')), label).to.deep.equal(before);
      }
      expect(exits).to.deep.equal({ command: 1, gulp: 1, 'command --conflicts=warn': 0 });
    },
  );

  it(
    'a bad config: the APP_MEDIA_ code, file, field and hint on stderr, no stack, exit 1; ' +
      '--verbose adds the stack',
    () => {
      const root = makeProject({
        apps: ['blog'],
        gulp: false,
        config: { mediaRoot: MEDIA, apps: ['./apps/blog'], mdoe: 'copy' },
      });
      const before = stateOf(root);
      const run = appMedia(root, ['link']);
      expect(run.status, run.output).to.equal(1);
      expect(run.stdout).to.equal('');
      expect(run.stderr).to.equal(
        'APP_MEDIA_UNKNOWN_FIELD: app-media.config.json mdoe: unknown field "mdoe" (did you mean "mode"?)\n  hint: ' +
          'rename it to "mode"\n',
      );
      expect(run.stderr).to.not.match(noStack);

      const verbose = appMedia(root, ['link', '--verbose']);
      expect(verbose.status, verbose.output).to.equal(1);
      expect(verbose.stderr.startsWith(run.stderr), verbose.stderr).to.equal(true);
      expect(verbose.stderr).to.match(/\n\s+at .+:\d+:\d+\)?\n/);

      for (const task of ['clean', 'verify'] as const) {
        const other = appMedia(root, [task]);
        expect(other.status, `${task}: ${other.output}`).to.equal(1);
        expect(other.stderr, task).to.match(/^APP_MEDIA_UNKNOWN_FIELD: /);
        expect(other.stderr, task).to.not.match(noStack);
      }
      const none = makeProject({ apps: ['blog'], gulp: false, config: null });
      const noConfig = appMedia(none, ['link']);
      expect(noConfig.status, noConfig.output).to.equal(1);
      expect(noConfig.stderr).to.match(/^APP_MEDIA_NO_CONFIG: /);
      expect(noConfig.stderr).to.not.match(noStack);
      expect(stateOf(root), 'nothing written').to.deep.equal(before);
    },
  );
});

// ---------------------------------------------------------------------------

describe('app-media: help, bad tasks and flags, --version', () => {
  it('--help lists every task with its description from the table, on stdout, exit 0', () => {
    const run = appMedia(REPO, ['--help']);
    expect(run.status, run.output).to.equal(0);
    expect(run.stderr).to.equal('');
    expect(run.stdout).to.match(/^Usage: app-media <task> \[flags\]$/m);
    const listed = nonEmptyLines(run.stdout)
      .map((line) => /^ {2}(\S+) +(.+)$/.exec(line))
      .filter((match) => match !== null)
      .map((match) => [match[1], match[2]]);
    expect(listed).to.deep.equal(TASKS.map((task) => [task, taskDescriptions[task]]));
    expect(appMedia(REPO, ['-h']).stdout).to.equal(run.stdout);
  });

  for (const task of TASKS) {
    it(
      `${task} --help lists exactly the flags of ${task} in the table (with their argument ` +
        `and description), exit 0`,
      () => {
        const run = appMedia(REPO, [task, '--help']);
        expect(run.status, run.output).to.equal(0);
        expect(run.stderr).to.equal('');
        expect(run.stdout).to.match(new RegExp(`^Usage: app-media ${task} \\[flags\\]$`, 'm'));
        expect(run.stdout).to.contain(taskDescriptions[task]);
        const rows = nonEmptyLines(run.stdout)
          .map((line) => /^ {2}(--[^\s,]+)(?: (<[^>]+>))?(?:, -\w)? +(.+)$/.exec(line))
          .filter((match) => match !== null);
        // Every row of the table for the task (its own flags, then the command's: --silent, --help...), but --version.
        const expected = flagsFor(task, 'command')
          .filter((flag) => flag.name !== 'version')
          .map((flag) => [flagName(flag), flag.arg, plain(flag.description)]);
        expect(rows.map((row) => [row[1], row[2], row[3]])).to.deep.equal(expected);
        // Each flag of another task is absent.
        const own = new Set(flagsFor(task).map((flag) => flag.name));
        for (const other of TASKS.flatMap((name) => flagsFor(name)).filter((flag) => !own.has(flag.name))) {
          expect(run.stdout, `${task} --help`).to.not.match(new RegExp(`--(no-)?${esc(other.name)}\\b`));
        }
        expect(appMedia(REPO, [task, '-h']).stdout).to.equal(run.stdout);
      },
    );
  }

  it('no task: the usage on stderr, exit 1', () => {
    const run = appMedia(REPO, []);
    expect(run.status, run.output).to.equal(1);
    expect(run.stdout).to.equal('');
    expect(run.stderr).to.match(/^Usage: app-media <task> \[flags\]$/m);
    for (const task of TASKS) expect(run.stderr).to.contain(taskDescriptions[task]);
  });

  it('an unknown task `lnk`: APP_MEDIA_BAD_FLAG, did you mean link, exit 1, no stack, nothing written', () => {
    const root = makeProject({ apps: ['blog'], gulp: false });
    const before = stateOf(root);
    const run = appMedia(root, ['lnk']);
    expect(run.status, run.output).to.equal(1);
    expect(run.stdout).to.equal('');
    expect(run.stderr).to.match(/^APP_MEDIA_BAD_FLAG: .*unknown task "lnk"/m);
    expect(run.stderr).to.match(/hint: did you mean "app-media link"\?/);
    expect(run.stderr).to.not.match(noStack);
    expect(stateOf(root)).to.deep.equal(before);
  });

  it('an unknown flag `--dryrun`: APP_MEDIA_BAD_FLAG, did you mean --dry-run, exit 1, nothing written', () => {
    const root = makeProject({ apps: ['blog'], gulp: false });
    const before = stateOf(root);
    const run = appMedia(root, ['link', '--dryrun']);
    expect(run.status, run.output).to.equal(1);
    expect(run.stdout).to.equal('');
    expect(run.stderr).to.match(/^APP_MEDIA_BAD_FLAG: --dryrun: unknown flag --dryrun$/m);
    expect(run.stderr).to.match(/hint: did you mean --dry-run\?/);
    expect(run.stderr).to.not.match(noStack);
    expect(stateOf(root), 'a typo never runs the task').to.deep.equal(before);
    expect(exists(path.join(root, MEDIA))).to.equal(false);
  });

  it(
    'a flag of another task (`link --force`, `verify --conflicts=warn`) ' +
      'is an error naming the flag and the task, exit 1',
    () => {
      const root = makeProject({ apps: ['blog'], gulp: false });
      const force = appMedia(root, ['link', '--force']);
      expect(force.status, force.output).to.equal(1);
      expect(force.stderr).to.match(/^APP_MEDIA_BAD_FLAG: --force: --force is not a flag of app-media link$/m);
      expect(force.stderr).to.match(/app-media link --help/);
      const conflicts = appMedia(root, ['verify', '--conflicts=warn']);
      expect(conflicts.status, conflicts.output).to.equal(1);
      expect(conflicts.stderr).to.match(/--conflicts is not a flag of app-media verify/);
      expect(exists(path.join(root, MEDIA))).to.equal(false);
    },
  );

  it(
    'a bad flag value (`--mode bogus`, `--conflicts=maybe`, `--mode` without one) ' +
      'is an error naming the allowed values, exit 1',
    () => {
      const root = makeProject({ apps: ['blog'], gulp: false });
      const mode = appMedia(root, ['link', '--mode', 'bogus']);
      expect(mode.status, mode.output).to.equal(1);
      expect(mode.stderr).to.match(
        /^APP_MEDIA_BAD_FLAG: --mode: --mode must be one of auto, symlink, copy, not "bogus"$/m,
      );
      const conflicts = appMedia(root, ['link', '--conflicts=maybe']);
      expect(conflicts.status, conflicts.output).to.equal(1);
      expect(conflicts.stderr).to.match(/--conflicts must be one of warn, fail, not "maybe"/);
      const empty = appMedia(root, ['link', '--mode']);
      expect(empty.status, empty.output).to.equal(1);
      expect(empty.stderr).to.match(/--mode needs a value/);
      const extra = appMedia(root, ['link', 'blog']);
      expect(extra.status, extra.output).to.equal(1);
      expect(extra.stderr).to.match(/unexpected argument "blog"/);
      expect(exists(path.join(root, MEDIA))).to.equal(false);
    },
  );

  it("--version prints package.json's version, exit 0", () => {
    const { version } = JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8')) as { version: string };
    const run = appMedia(REPO, ['--version']);
    expect(run.status, run.output).to.equal(0);
    expect(run.stdout).to.equal(`${version}\n`);
    expect(run.stderr).to.equal('');
  });
});

// ---------------------------------------------------------------------------

/**
 * One step of a scenario: a task and its flags, or a change to the project between runs (awaited; its result unused).
 */
type Step = { task: TaskName; args?: string[] } | ((root: string) => unknown);

interface Scenario {
  title: string;
  project?: ProjectOptions;
  setup?: (root: string) => void;
  steps: Step[];
  /** The exit status of the last run, so each scenario is known to test what it says. */
  status: 0 | 1;
  /** Known to differ: the test is skipped and reported as a bug. */
  bug?: string;
  check?: (last: RunResult) => void;
}

const noMedia: ProjectOptions = {
  apps: ['blog'],
  config: { mediaRoot: MEDIA, apps: ['./apps/blog', './apps/empty'] },
  files: { 'apps/empty/README.md': 'no media\n' },
};
const badConfig: ProjectOptions = { apps: ['blog'], config: { mediaRoot: MEDIA, apps: ['./apps/blog'], mdoe: 'copy' } };

// A first link before the run under comparison is made in process in both twins (linkedInProcess):
// 'first link' compares that run itself, and a gulp start-up costs half a second.
const SCENARIOS: Scenario[] = [
  {
    title: 'first link',
    steps: [{ task: 'link' }],
    status: 0,
    check: (run) => expect(run.output).to.match(/media:link: 2 linked/),
  },
  {
    title: 're-run: up-to-date',
    steps: [linkedInProcess, { task: 'link' }],
    status: 0,
    check: (run) => expect(run.output).to.match(/media:link: 2 up-to-date/),
  },
  {
    title: 're-run --verbose',
    steps: [linkedInProcess, { task: 'link', args: ['--verbose'] }],
    status: 0,
    check: (run) => expect(run.output).to.match(/up-to-date\s+blog/),
  },
  {
    title: 'conflict',
    setup: handMadeFolder,
    steps: [{ task: 'link' }],
    status: 1,
    check: (run) => expect(run.stderr).to.match(/conflict\s+blog/),
  },
  {
    title: 'conflict --conflicts=warn',
    setup: handMadeFolder,
    steps: [{ task: 'link', args: ['--conflicts=warn'] }],
    status: 0,
    check: (run) => expect(run.stderr).to.match(/conflict\s+blog/),
  },
  {
    title: 'conflict --silent',
    setup: handMadeFolder,
    steps: [{ task: 'link', args: ['--silent'] }],
    status: 1,
    check: (run) => expect(run.output).to.equal(''),
  },
  {
    title: 'dry-run',
    steps: [{ task: 'link', args: ['--dry-run'] }],
    status: 0,
    check: (run) => expect(run.stdout).to.match(/would link\s+blog/),
  },
  { title: 'json', steps: [{ task: 'link', args: ['--json'] }], status: 0 },
  { title: 'json with a conflict', setup: handMadeFolder, steps: [{ task: 'link', args: ['--json'] }], status: 1 },
  {
    title: 'copy mode, twice',
    steps: [
      { task: 'link', args: ['--mode', 'copy'] },
      { task: 'link', args: ['--mode', 'copy'] },
    ],
    status: 0,
  },
  {
    title: 'an app with no media',
    project: noMedia,
    steps: [{ task: 'link' }],
    status: 0,
    check: (run) => expect(run.output).to.match(/no-media\s+empty/),
  },
  {
    title: 'prune after an app left the config',
    steps: [
      linkedInProcess,
      (root) =>
        fs.writeFileSync(
          path.join(root, 'app-media.config.json'),
          JSON.stringify({ mediaRoot: MEDIA, apps: ['./apps/shop'] }),
        ),
      { task: 'link' },
    ],
    status: 0,
    check: (run) => expect(run.stdout).to.match(/pruned\s+blog/),
  },
  {
    title: 'clean',
    steps: [linkedInProcess, { task: 'clean' }],
    status: 0,
    check: (run) => expect(run.stdout).to.match(/removed\s+blog/),
  },
  { title: 'verify ok', steps: [linkedInProcess, { task: 'verify' }], status: 0 },
  {
    title: 'verify missing',
    steps: [linkedInProcess, (root) => fs.rmSync(path.join(root, MEDIA, 'blog')), { task: 'verify' }],
    status: 1,
    check: (run) => expect(run.stderr).to.match(/missing\s+blog/),
  },
  { title: 'verify --json, nothing linked', steps: [{ task: 'verify', args: ['--json'] }], status: 1 },
  { title: 'find found', steps: [linkedInProcess, { task: 'find', args: ['--path', 'blog/css/blog.css'] }], status: 0 },
  { title: 'find not-found', steps: [{ task: 'find', args: ['--path', 'blog/css/nope.css'] }], status: 1 },
  {
    title: 'bad config',
    project: badConfig,
    steps: [{ task: 'link' }],
    status: 1,
    check: (run) => expect(run.stderr).to.match(/APP_MEDIA_UNKNOWN_FIELD/),
  },
  { title: 'bad config --json', project: badConfig, steps: [{ task: 'link', args: ['--json'] }], status: 1 },
  {
    title: 'bad config --silent',
    project: badConfig,
    steps: [{ task: 'link', args: ['--silent'] }],
    status: 1,
  },
];

type Entry = 'gulp' | 'command';

function runEntry(entry: Entry, root: string, task: TaskName, args: string[]): RunResult {
  return entry === 'gulp' ? gulp(root, [`media:${task}`, ...args]) : appMedia(root, [task, ...args]);
}

/** gulp's own lines and `[hh:mm:ss] ` prefixes go; times and the project's path are neutralised. */
function comparable(text: string, root: string, entry: Entry): string[] {
  return text
    .split('\n')
    .map((line) => (entry === 'gulp' ? line.replace(/^\[\d{2}:\d{2}:\d{2}\] /, '') : line))
    .filter(
      (line) =>
        entry !== 'gulp' ||
        !(
          /^Using gulpfile /.test(line) ||
          /^Starting '/.test(line) ||
          /^Finished '/.test(line) ||
          /^'[^']+' errored after /.test(line) ||
          // gulp prints the failing task's error after "errored": our one line naming what failed (the summary above
          // has the counts).
          /^media:[a-z]+ failed: /.test(line)
        ),
    )
    .map((line) =>
      line
        .split(root)
        .join('<root>')
        .replace(/\(\d+(\.\d+)? ms\)/g, '(N ms)')
        .replace(/"ms": \d+/, '"ms": N'),
    )
    .filter((line) => line !== '');
}

/** The JSON document in a run's stdout (gulp prints its own lines around it), without `ms`. */
function jsonDoc(stdout: string): Record<string, unknown> {
  const lines = stdout.split('\n');
  const startAt = lines.findIndex((line) => line === '{');
  const endAt = lines.indexOf('}', startAt);
  expect(startAt, stdout).to.be.greaterThan(-1);
  const doc = JSON.parse(lines.slice(startAt, endAt + 1).join('\n')) as Record<string, unknown>;
  delete doc['ms'];
  return doc;
}

/**
 * Tree state that twins share: types, contents, file modes and link texts (not times or inodes).
 * The records file is compared as parsed, without its folder stamps (times of the run, fs/stamp.ts)
 * and without its source stamps (a twin's sources get them only when they are two seconds old when its
 * run begins, so which twin has them depends on how fast the runs before it were).
 */
function portableState(root: string): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(projectState(root)).map(([rel, entry]) => [
      rel,
      path.basename(rel) === '.app-media.json'
        ? { type: entry.type, records: recordsWithoutStamps(path.join(root, rel)) }
        : entry.type === 'file'
          ? { type: 'file', sha: entry.sha, mode: entry.mode }
          : entry.type === 'link'
            ? { type: 'link', text: entry.text }
            : { type: 'dir' },
    ]),
  );
}

/** The records as parsed, each folder stamp replaced by which folder it stamps, source stamps left out. */
function recordsWithoutStamps(file: string): unknown {
  const records = JSON.parse(fs.readFileSync(file, 'utf8')) as {
    entries: Record<string, { stamps?: Record<string, number>; sourceStamps?: Record<string, number> }>;
  };
  for (const record of Object.values(records.entries)) {
    if (record.stamps) record.stamps = Object.fromEntries(Object.keys(record.stamps).map((folder) => [folder, 0]));
    delete record.sourceStamps;
  }
  return records;
}

/** Two identical projects (the second a copy of the first, times preserved). */
function twins(scenario: Scenario): [string, string] {
  const first = makeProject(scenario.project ?? { apps: ['blog', 'shop'] });
  scenario.setup?.(first);
  const second = tempDir();
  fs.cpSync(first, second, { recursive: true, preserveTimestamps: true, verbatimSymlinks: true });
  return [first, second];
}

describe('the same behaviour through `gulp media:<task>` and `app-media <task>` (twin projects)', () => {
  for (const scenario of SCENARIOS) {
    const test = scenario.bug ? it.skip : it;
    test(
      `${scenario.title}: same exit status, same lines, same JSON, ` +
        `same tree${scenario.bug ? ` (bug: ${scenario.bug})` : ''}`,
      async () => {
        const roots = twins(scenario);
        const results: Record<Entry, RunResult[]> = { gulp: [], command: [] };
        for (const [index, entry] of (['gulp', 'command'] as const).entries()) {
          const root = roots[index] as string;
          for (const step of scenario.steps) {
            if (typeof step === 'function') await step(root);
            else results[entry].push(runEntry(entry, root, step.task, step.args ?? []));
          }
        }
        const [gulpRoot, commandRoot] = roots;
        results.gulp.forEach((viaGulp, index) => {
          const viaCommand = results.command[index] as RunResult;
          const step = `step ${index + 1}`;
          expect(
            viaCommand.status,
            `${step}: exit status\n--- gulp:\n${viaGulp.output}\n--- command:\n${viaCommand.output}`,
          ).to.equal(viaGulp.status);
          expect(comparable(viaCommand.stdout, commandRoot, 'command'), `${step}: stdout`).to.deep.equal(
            comparable(viaGulp.stdout, gulpRoot, 'gulp'),
          );
          expect(comparable(viaCommand.stderr, commandRoot, 'command'), `${step}: stderr`).to.deep.equal(
            comparable(viaGulp.stderr, gulpRoot, 'gulp'),
          );
          if (scenario.steps.some((s) => typeof s !== 'function' && s.args?.includes('--json'))) {
            expect(jsonDoc(viaCommand.stdout), `${step}: JSON report`).to.deep.equal(jsonDoc(viaGulp.stdout));
          }
        });
        const last = results.command.at(-1) as RunResult;
        expect(last.status, last.output).to.equal(scenario.status);
        scenario.check?.(last);
        scenario.check?.(results.gulp.at(-1) as RunResult);
        expect(portableState(commandRoot), 'the resulting trees').to.deep.equal(portableState(gulpRoot));
      },
    );
  }
});

// ---------------------------------------------------------------------------

describe('app-media link is quiet enough for every npm install', () => {
  it('up-to-date: exactly one line (the summary) on stdout, nothing on stderr; --verbose shows every app', () => {
    const root = makeProject({ apps: ['blog', 'shop'], gulp: false });
    expect(appMedia(root, ['link']).status).to.equal(0);
    const run = appMedia(root, ['link']);
    expect(run.status, run.output).to.equal(0);
    expect(run.stdout).to.match(/^media:link: 2 up-to-date in public\/media \(\d+ ms\)\n$/);
    expect(run.stderr).to.equal('');
    const verbose = appMedia(root, ['link', '--verbose']);
    expect(verbose.status, verbose.output).to.equal(0);
    expect(nonEmptyLines(verbose.stdout)).to.have.length(3);
    expect(verbose.stdout).to.match(entryLine('up-to-date', 'blog'));
    expect(verbose.stdout).to.match(entryLine('up-to-date', 'shop'));
  });

  it('only what changed gets a line: one relinked app among up-to-date ones', () => {
    const root = makeProject({ apps: ['blog', 'shop'], gulp: false });
    expect(appMedia(root, ['link']).status).to.equal(0);
    fs.rmSync(path.join(root, MEDIA, 'shop'));
    const run = appMedia(root, ['link']);
    expect(run.status, run.output).to.equal(0);
    expect(nonEmptyLines(run.stdout)).to.have.length(2);
    expect(run.stdout).to.match(entryLine('linked', 'shop'));
    expect(run.stdout).to.match(/^media:link: 1 up-to-date, 1 linked in public\/media/m);
  });

  it(
    '--silent prints nothing at all: first link, up-to-date, a conflict (exit 1), ' +
      'a conflict with --conflicts=warn (exit 0), clean',
    () => {
      const root = makeProject({ apps: ['blog', 'shop'], gulp: false });
      for (const [args, status] of [
        [['link', '--silent'], 0],
        [['link', '--silent'], 0],
        [['verify', '--silent'], 0],
        [['clean', '--silent'], 0],
      ] as const) {
        const run = appMedia(root, [...args]);
        expect(run.status, args.join(' ')).to.equal(status);
        expect(run.output, args.join(' ')).to.equal('');
      }
      handMadeFolder(root);
      const conflict = appMedia(root, ['link', '--silent']);
      expect(conflict.status).to.equal(1);
      expect(conflict.output).to.equal('');
      const warned = appMedia(root, ['link', '--silent', '--conflicts=warn']);
      expect(warned.status).to.equal(0);
      expect(warned.output).to.equal('');
      expectLinkedTo(root, 'shop', 'apps/shop/app_media/shop');
    },
  );

  it(
    'an app with no media never fails: exit 0 on link (first and again), the other apps linked; ' + 'verify passes too',
    () => {
      const root = makeProject({
        apps: ['blog'],
        gulp: false,
        config: { mediaRoot: MEDIA, apps: ['./apps/blog', './apps/api', './apps/admin'] },
        files: { 'apps/api/index.js': 'export {};\n', 'apps/admin/app_media/.keep': '' },
      });
      const first = appMedia(root, ['link']);
      expect(first.status, first.output).to.equal(0);
      expect(first.output).to.match(/media:link: 1 linked, 2 no-media in public\/media/);
      expect(first.output).to.not.match(noStack);
      const again = appMedia(root, ['link', '--conflicts=fail']);
      expect(again.status, again.output).to.equal(0);
      const verify = appMedia(root, ['verify']);
      expect(verify.status, verify.output).to.equal(0);
      expectLinkedTo(root, 'blog', 'apps/blog/app_media/blog');
      expect(names(path.join(root, MEDIA))).to.deep.equal(['.app-media.json', 'blog']);
    },
  );
});

// ---------------------------------------------------------------------------

/** Node modules loaded from node_modules (CommonJS ones land in require.cache), printed at exit by a preload. */
function loadedPackages(root: string, args: string[]): { run: RunResult; packages: string[] } {
  const trace = path.join(root, 'trace-loads.cjs');
  fs.writeFileSync(
    trace,
    `process.on('exit', () => {
  const names = new Set(Object.keys(require.cache).filter((file) => file.includes('/node_modules/'))
    .map((file) => { const rest = file.slice(file.lastIndexOf('/node_modules/') + 14).split('/'); \
return rest[0].startsWith('@') ? rest[0] + '/' + rest[1] : rest[0]; }));
  process.stderr.write('LOADED ' + JSON.stringify([...names].sort()) + '\\n');
});\n`,
  );
  const run = appMedia(root, args, {}, ['--require', trace]);
  const line = /^LOADED (.*)$/m.exec(run.stderr);
  expect(line, run.output).to.not.equal(null);
  return { run, packages: JSON.parse(line?.[1] ?? '[]') as string[] };
}

describe('app-media loads only what the task needs', () => {
  it('no task loads gulp; an up-to-date link, verify, find and clean load no vinyl-fs either', () => {
    const root = makeProject({ apps: ['blog', 'shop'], gulp: false });
    expect(appMedia(root, ['link']).status).to.equal(0);
    for (const args of [['link'], ['verify'], ['find', '--path', 'blog/css/blog.css'], ['clean']]) {
      const { run, packages } = loadedPackages(root, args);
      expect(run.status, run.output).to.equal(0);
      expect(packages, args.join(' ')).to.not.include.members(['gulp']);
      expect(
        packages.filter((name) => /^(gulp|gulp-cli|undertaker|vinyl-fs|vinyl|glob-watcher|chokidar)$/.test(name)),
        args.join(' '),
      ).to.deep.equal([]);
    }
  });

  it(
    'link in symlink mode that makes links loads vinyl-fs (links are made by its symlink()); ' +
      'the same run up to date does not',
    () => {
      const root = makeProject({ apps: ['blog', 'shop'], gulp: false });
      const first = loadedPackages(root, ['link', '--mode', 'symlink']);
      expect(first.run.status, first.run.output).to.equal(0);
      expect(first.run.stdout).to.match(/2 linked/);
      expect(first.packages).to.include('vinyl-fs');
      const again = loadedPackages(root, ['link', '--mode', 'symlink']);
      expect(again.run.stdout).to.match(/2 up-to-date/);
      expect(again.packages).to.not.include('vinyl-fs');
    },
  );
});

// ---------------------------------------------------------------------------

describe('workspaces: npm for real', () => {
  it(
    "npm install at the monorepo root runs the site's postinstall `app-media link --conflicts=warn`: package and " +
      'folder apps linked, a conflict does not break the install; then `npm exec -w site -- app-media verify` exits 0',
    function () {
      this.timeout(120_000);
      const packed = tempDir('pack');
      const pack = npm(REPO, ['pack', '--ignore-scripts', '--json', '--pack-destination', packed]);
      expect(pack.status, pack.output).to.equal(0);
      const tarball = path.join(
        packed,
        (JSON.parse(pack.stdout.slice(pack.stdout.indexOf('['))) as Array<{ filename: string }>)[0]!.filename,
      );

      const mono = tempDir('monorepo');
      writeTree(mono, {
        'package.json': JSON.stringify(
          { name: 'acme-monorepo', private: true, workspaces: ['packages/*', 'site'] },
          null,
          2,
        ),
        'packages/ui/package.json': JSON.stringify({ name: '@acme/ui', version: '1.0.0', appMedia: {} }, null, 2),
        ...mediaFiles('packages/ui', 'ui'),
        'site/package.json': JSON.stringify(
          {
            name: 'site',
            version: '1.0.0',
            private: true,
            scripts: { postinstall: 'app-media link --conflicts=warn' },
            dependencies: { '@acme/ui': '*', 'gulp-app-media': `file:${tarball}` },
          },
          null,
          2,
        ),
        'site/app-media.config.json': JSON.stringify(
          { mediaRoot: MEDIA, apps: ['@acme/ui', './apps/blog', './apps/news'] },
          null,
          2,
        ),
        ...mediaFiles('site/apps/blog', 'blog'),
        ...mediaFiles('site/apps/news', 'news'),
        // Someone put a folder where news would go: the install must still succeed.
        [`site/${MEDIA}/news/index.html`]: '<p>hand-made</p>\n',
      });
      const handMade = stateOf(path.join(mono, 'site', MEDIA, 'news'));

      const install = npm(mono, ['install', '--prefer-offline', '--no-audit', '--no-fund', '--foreground-scripts']);
      expect(install.status, install.output).to.equal(0);
      expect(isLink(path.join(mono, 'node_modules/@acme/ui')), 'npm hoisted and linked the workspace package').to.equal(
        true,
      );
      expect(exists(path.join(mono, 'site/node_modules/@acme/ui')), 'not installed under site').to.equal(false);
      // The postinstall ran and said what it did, conflict included.
      expect(install.output).to.match(/linked\s+ui\s+public\/media\/ui/);
      expect(install.output).to.match(/conflict\s+news\s+public\/media\/news/);
      expect(install.output).to.match(/media:link: 2 linked, 1 conflict in public\/media/);

      const site = path.join(mono, 'site');
      expect(isLink(path.join(site, MEDIA, 'ui'))).to.equal(true);
      expect(fs.realpathSync(path.join(site, MEDIA, 'ui'))).to.equal(path.join(mono, 'packages/ui/app_media/ui'));
      expect(fs.readFileSync(path.join(site, MEDIA, 'ui/css/ui.css'), 'utf8')).to.contain('.ui');
      expectLinkedTo(site, 'blog', 'apps/blog/app_media/blog');
      expect(stateOf(path.join(site, MEDIA, 'news')), 'the hand-made folder is untouched').to.deep.equal(handMade);
      const record = fs.readFileSync(path.join(site, MANIFEST), 'utf8');
      expect(record).to.not.contain(mono);
      expect((JSON.parse(record) as { entries: Record<string, { source: string }> }).entries['ui']?.source).to.equal(
        'node_modules/@acme/ui/app_media/ui',
      );

      // verify in CI still catches the conflict; once it is cleared, a link and a verify through npm exec pass.
      const caught = npm(mono, ['exec', '-w', 'site', '--', 'app-media', 'verify']);
      expect(caught.status, caught.output).to.not.equal(0);
      expect(caught.output).to.match(/news/);
      fs.rmSync(path.join(site, MEDIA, 'news'), { recursive: true });
      const relink = npm(mono, ['exec', '-w', 'site', '--', 'app-media', 'link']);
      expect(relink.status, relink.output).to.equal(0);
      expect(relink.stdout).to.match(/linked\s+news/);
      const verify = npm(mono, ['exec', '-w', 'site', '--', 'app-media', 'verify']);
      expect(verify.status, verify.output).to.equal(0);
      expect(verify.stdout).to.match(/media:verify: 3 ok in public\/media/);
      // The bin npm installed, run from the workspace folder itself.
      const direct = spawnSync(path.join(mono, 'node_modules/.bin/app-media'), ['verify'], {
        cwd: site,
        encoding: 'utf8',
        env: { ...process.env, NO_COLOR: '1' },
      });
      expect(direct.status, `${direct.stdout}${direct.stderr}`).to.equal(0);
    },
  );
});

// ---------------------------------------------------------------------------

/**
 * pnpm's isolated layout: the package lives in `<store>/.pnpm/<id>/node_modules/<name>`, and `<at>/node_modules/<name>`
 * is a symlink to it.
 */
function pnpmInstall(storeRoot: string, at: string, version: string): string {
  const id = `@acme+ui@${version}`;
  const real = path.join(storeRoot, 'node_modules/.pnpm', id, 'node_modules/@acme/ui');
  writeTree(real, {
    'package.json': JSON.stringify({ name: '@acme/ui', version, appMedia: {} }),
    ...mediaFiles('.', 'ui'),
    'app_media/ui/VERSION': `${version}\n`,
  });
  const link = path.join(at, 'node_modules/@acme/ui');
  fs.mkdirSync(path.dirname(link), { recursive: true });
  fs.rmSync(link, { force: true });
  fs.symlinkSync(path.relative(path.dirname(link), real), link);
  return real;
}

function expectCleanRecord(project: string): void {
  const text = fs.readFileSync(path.join(project, MANIFEST), 'utf8');
  const manifest = JSON.parse(text) as { entries: Record<string, { source: string }> };
  expect(Object.keys(manifest.entries)).to.deep.equal(['ui']);
  expect(manifest.entries['ui']?.source, 'only from the last node_modules/ on').to.equal(
    'node_modules/@acme/ui/app_media/ui',
  );
  expect(text).to.not.contain('.pnpm');
  expect(text).to.not.contain(project);
  expect(text).to.not.match(/"\//);
}

describe('workspaces: a pnpm-style isolated node_modules (built by the test)', () => {
  it(
    'project/node_modules/@acme/ui → .pnpm/@acme+ui@1.0.0/...: linked as `ui`, the record holds no .pnpm path, ' +
      'verify ok; after an upgrade to 1.1.0 (old folder deleted) link and verify still pass',
    () => {
      const project = tempDir('pnpm');
      writeTree(project, { 'app-media.config.json': JSON.stringify({ mediaRoot: MEDIA, apps: ['@acme/ui'] }) });
      const old = pnpmInstall(project, project, '1.0.0');

      const run = appMedia(project, ['link']);
      expect(run.status, run.output).to.equal(0);
      expect(run.stdout).to.match(entryLine('linked', 'ui', ' -> node_modules/@acme/ui/app_media/ui (symlink)'));
      expect(fs.readFileSync(path.join(project, MEDIA, 'ui/VERSION'), 'utf8')).to.equal('1.0.0\n');
      expectCleanRecord(project);
      const verify = appMedia(project, ['verify']);
      expect(verify.status, verify.output).to.equal(0);

      // pnpm upgrades: a new store folder, the symlink repointed, the old folder gone.
      pnpmInstall(project, project, '1.1.0');
      fs.rmSync(path.dirname(path.dirname(path.dirname(old))), { recursive: true });
      expect(exists(old)).to.equal(false);
      const again = appMedia(project, ['link']);
      expect(again.status, again.output).to.equal(0);
      expect(again.output).to.match(/media:link: 1 (up-to-date|relinked) in public\/media/);
      expect(fs.readFileSync(path.join(project, MEDIA, 'ui/VERSION'), 'utf8')).to.equal('1.1.0\n');
      expectCleanRecord(project);
      const after = appMedia(project, ['verify']);
      expect(after.status, after.output).to.equal(0);
      expect(after.stdout).to.match(entryLine('ok', 'ui'));
    },
  );

  it(
    "a workspace package whose dependency resolves from the monorepo root's node_modules (→ .pnpm): " +
      'linked, record clean; after an upgrade verify names the stale link as dangling (if it led ' +
      'through the old store folder), link relinks, verify passes',
    () => {
      const mono = tempDir('pnpm-mono');
      const site = path.join(mono, 'site');
      writeTree(site, {
        'package.json': JSON.stringify({ name: 'site', private: true, dependencies: { '@acme/ui': 'workspace:*' } }),
        'app-media.config.json': JSON.stringify({ mediaRoot: MEDIA, apps: ['@acme/ui'] }),
      });
      const old = pnpmInstall(mono, mono, '1.0.0');

      const run = appMedia(site, ['link']);
      expect(run.status, run.output).to.equal(0);
      expect(run.stdout).to.match(/^linked\s+ui\s/m);
      expect(fs.readFileSync(path.join(site, MEDIA, 'ui/VERSION'), 'utf8')).to.equal('1.0.0\n');
      expectCleanRecord(site);
      expect(appMedia(site, ['verify']).status).to.equal(0);

      pnpmInstall(mono, mono, '1.1.0');
      fs.rmSync(path.dirname(path.dirname(path.dirname(old))), { recursive: true });
      const stale = appMedia(site, ['verify']);
      // Either the link went through node_modules/@acme/ui (still fine) or through the old store folder (now dangling,
      // and said so).
      if (stale.status !== 0) expect(stale.stderr).to.match(/^dangling\s+ui\s/m);
      const again = appMedia(site, ['link']);
      expect(again.status, again.output).to.equal(0);
      expect(again.output).to.match(/media:link: 1 (up-to-date|relinked) in public\/media/);
      expect(fs.readFileSync(path.join(site, MEDIA, 'ui/VERSION'), 'utf8')).to.equal('1.1.0\n');
      expectCleanRecord(site);
      const after = appMedia(site, ['verify']);
      expect(after.status, after.output).to.equal(0);
    },
  );
});

// ---------------------------------------------------------------------------

describe('the example project', () => {
  it(
    '`app-media link --conflicts=warn` in example/ (its postinstall) exits 0 with blog, ' +
      'shop and gallery in example/public/media',
    () => {
      const example = path.join(REPO, 'example');
      const media = path.join(example, MEDIA);
      const existed = exists(media);
      const before = existed ? stateOf(media) : undefined;
      const { scripts } = JSON.parse(fs.readFileSync(path.join(example, 'package.json'), 'utf8')) as {
        scripts: Record<string, string>;
      };
      // It builds this repository's dist/ first (a user's project installs the package built), then links.
      expect(scripts['postinstall']).to.equal('npm run --prefix .. build && app-media link --conflicts=warn');
      try {
        const run = spawnSync(process.execPath, [path.join(REPO, 'bin/app-media.js'), 'link', '--conflicts=warn'], {
          cwd: example,
          encoding: 'utf8',
          env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' },
        });
        expect(run.status, `${run.stdout}${run.stderr}`).to.equal(0);
        expect(run.stderr, 'no conflict in the example').to.equal('');
        for (const name of ['blog', 'shop', 'gallery']) {
          expect(exists(path.join(media, name)), name).to.equal(true);
          expect(fs.readdirSync(path.join(media, name)).length, `${name} serves files`).to.be.greaterThan(0);
        }
        if (existed && ['blog', 'shop', 'gallery'].every((name) => before?.[name] !== undefined)) {
          expect(run.stdout).to.match(/^media:link: 3 up-to-date in public\/media \(\d+ ms\)\n$/);
          expect(stateOf(media), 'nothing rewritten').to.deep.equal(before);
        } else {
          expect(run.stdout).to.match(/media:link: .*in public\/media/);
        }
        const verify = spawnSync(process.execPath, [path.join(REPO, 'bin/app-media.js'), 'verify'], {
          cwd: example,
          encoding: 'utf8',
          env: { ...process.env, NO_COLOR: '1' },
        });
        expect(verify.status, `${verify.stdout}${verify.stderr}`).to.equal(0);
      } finally {
        if (!existed && exists(media)) {
          const clean = spawnSync(process.execPath, [path.join(REPO, 'bin/app-media.js'), 'clean'], {
            cwd: example,
            encoding: 'utf8',
          });
          expect(clean.status, `${clean.stdout}${clean.stderr}`).to.equal(0);
          fs.rmSync(path.join(media, '.app-media.json'), { force: true });
          fs.rmdirSync(media);
        }
      }
    },
  );
});
