/**
 * Whole process: the gulp CLI in the generated project, next to node's and
 * gulp's own start-up and to the peers (cp -r, rsync -a, Django's
 * collectstatic), each in a fresh output folder.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Project } from './generate.js';
import { flushDisk, remove, type Sample } from './measure.js';
import { runMeasured, type Tools } from './processes.js';
import { Rows, type Row } from './rows.js';

export interface WholeContext {
  tools: Tools;
  gulpBin: string;
  /** The package's own command (`bin/app-media.js`), where this checkout has one. */
  cliBin: string | null;
}

const GULP_NOOP = ['gulp.noop'];
/**
 * Issue 9's start-up figure: `app-media link` and `node -e 0` run alternately
 * this many times per round, so both see the same machine state (short runs
 * are noisy on a loaded machine: more pairs, steadier medians).
 */
export const STARTUP_PAIRS = 5;

/** `media:link` without gulp: the package's own command, else the programmatic API in a plain node process. */
function bareLink(ctx: WholeContext, mode: 'symlink' | 'copy'): string[] {
  if (ctx.cliBin) return [ctx.cliBin, 'link', '--mode', mode];
  return [
    '--input-type=module',
    '-e',
    `import { link } from 'gulp-app-media'; const report = await link({ mode: '${mode}' }); ` +
      `if (report.failed) process.exit(1);`,
  ];
}

export function wholeProcessRows(ctx: WholeContext): Rows {
  const { tools } = ctx;
  const rows = new Rows();
  const skip = (name: string): { skipped: string } | Record<string, never> => {
    const why = tools.skipped.get(name);
    return why ? { skipped: why } : {};
  };
  rows.add({
    id: 'gulp.link.clean',
    label: '`gulp media:link --mode symlink`, clean',
    kind: 'ours',
    floors: GULP_NOOP,
    peers: ['django.link.clean'],
  });
  rows.add({
    id: 'gulp.link.rerun',
    label: '`gulp media:link --mode symlink`, no-change re-run',
    kind: 'ours',
    floors: GULP_NOOP,
    peers: ['django.link.rerun'],
  });
  rows.add({
    id: 'gulp.copy.clean',
    label: '`gulp media:link --mode copy`, clean',
    kind: 'ours',
    floors: GULP_NOOP,
    peers: ['cp', 'rsync.clean', 'django.copy.clean'],
  });
  rows.add({
    id: 'gulp.copy.rerun',
    label: '`gulp media:link --mode copy`, no-change re-run',
    kind: 'ours',
    floors: GULP_NOOP,
    peers: ['rsync.rerun', 'django.copy.rerun'],
  });
  const bare = (mode: string): string =>
    ctx.cliBin
      ? `\`app-media link --mode ${mode}\` (no gulp)`
      : `\`link({ mode: '${mode}' })\` in a bare node process (no gulp)`;
  rows.add({
    id: 'bare.link.clean',
    label: `${bare('symlink')}, clean`,
    kind: 'ours',
    floors: ['node'],
    peers: ['django.link.clean'],
  });
  rows.add({
    id: 'bare.link.rerun',
    label: `${bare('symlink')}, no-change re-run`,
    kind: 'ours',
    floors: ['node'],
    peers: ['django.link.rerun'],
  });
  rows.add({
    id: 'bare.copy.clean',
    label: `${bare('copy')}, clean`,
    kind: 'ours',
    floors: ['node'],
    peers: ['cp', 'rsync.clean', 'django.copy.clean'],
  });
  rows.add({
    id: 'bare.copy.rerun',
    label: `${bare('copy')}, no-change re-run`,
    kind: 'ours',
    floors: ['node'],
    peers: ['rsync.rerun', 'django.copy.rerun'],
  });
  const noCli = ctx.cliBin ? {} : { skipped: 'no bin/app-media.js in this checkout' };
  rows.add({
    id: 'startup.cli',
    label:
      `\`app-media link\` (no flags), up-to-date project: start-up, ` +
      `${STARTUP_PAIRS} runs a round alternating with the next line`,
    short: 'app-media link (start-up)',
    kind: 'ours',
    floors: ['startup.node'],
    peers: ['django.link.rerun'],
    ...noCli,
  });
  rows.add({
    id: 'startup.node',
    label: `\`node -e 0\`, ${STARTUP_PAIRS} runs a round alternating with the line above`,
    short: 'node -e 0 (paired)',
    kind: 'baseline',
    ...noCli,
  });
  rows.add({ id: 'node', label: '`node -e 0`', short: 'node -e 0', kind: 'baseline' });
  rows.add({
    id: 'gulp.noop',
    label: '`gulp noop` (a do-nothing task in the same gulpfile)',
    short: 'gulp noop',
    kind: 'baseline',
    floors: ['node'],
  });
  rows.add({ id: 'cp', label: 'peer: `cp -r`', short: 'cp -r', kind: 'peer', ...skip('cp -r') });
  rows.add({
    id: 'rsync.clean',
    label: 'peer: `rsync -a`, clean',
    short: 'rsync -a',
    kind: 'peer',
    ...skip('rsync -a'),
  });
  rows.add({
    id: 'rsync.rerun',
    label: 'peer: `rsync -a`, no-change re-run',
    short: 'rsync -a re-run',
    kind: 'peer',
    ...skip('rsync -a'),
  });
  rows.add({
    id: 'django.link.clean',
    label: 'peer: `collectstatic --link`, clean',
    short: 'collectstatic --link',
    kind: 'peer',
    ...skip('collectstatic'),
  });
  rows.add({
    id: 'django.link.rerun',
    label: 'peer: `collectstatic --link`, no-change re-run',
    short: 'collectstatic --link re-run',
    kind: 'peer',
    ...skip('collectstatic'),
  });
  rows.add({
    id: 'django.copy.clean',
    label: 'peer: `collectstatic` (copy), clean',
    short: 'collectstatic',
    kind: 'peer',
    ...skip('collectstatic'),
  });
  rows.add({
    id: 'django.copy.rerun',
    label: 'peer: `collectstatic` (copy), no-change re-run',
    short: 'collectstatic re-run',
    kind: 'peer',
    ...skip('collectstatic'),
  });
  return rows;
}

export function runWholeProcess(
  project: Project,
  repeats: number,
  ctx: WholeContext,
  log: (line: string) => void,
): Rows {
  const { tools } = ctx;
  const rows = wholeProcessRows(ctx);
  const cwd = project.root;
  const mediaRoot = path.join(project.root, 'public', 'media');
  // The peers write into mediaRoot, just removed, as the tool does: on ext4 the folder decides
  // where new inodes go and how long finding a free one takes after many deletions (cp -r of
  // medium took 1.1 s into a fresh folder elsewhere in /tmp and 4.2 s into public/media).
  const scratch = path.join(project.home, 'out');
  const sources = project.apps.map((app) => app.mediaDir);

  const record = (id: string, sample: Sample): void => {
    (rows.get(id) as Row).samples.push(sample);
  };
  const node = (id: string, args: readonly string[]): void =>
    record(id, runMeasured(tools, process.execPath, args, { cwd }));
  const gulp = (id: string, ...args: string[]): void => node(id, [ctx.gulpBin, ...args]);
  const django = (id: string, staticRoot: string, link: boolean): void => {
    const python = tools.python;
    if (!python) return;
    const args = ['-m', 'django', 'collectstatic', '--noinput', '-v', '0', ...(link ? ['--link'] : [])];
    record(
      id,
      runMeasured(tools, python.bin, args, {
        cwd,
        env: {
          DJANGO_SETTINGS_MODULE: 'bench_settings',
          PYTHONPATH: project.root,
          PYTHONDONTWRITEBYTECODE: '1',
          BENCH_STATIC_ROOT: staticRoot,
        },
      }),
    );
  };
  /** mediaRoot, fresh and empty, for a peer to write into. */
  const fresh = (): string => {
    remove(mediaRoot);
    mkdirSync(mediaRoot, { recursive: true });
    return mediaRoot;
  };

  remove(mediaRoot);
  remove(scratch); // where earlier versions of the bench wrote
  for (let round = 1; round <= repeats; round++) {
    log(`  whole process, round ${round}/${repeats}`);
    node('node', ['-e', '0']);
    gulp('gulp.noop', 'noop');

    remove(mediaRoot);
    gulp('gulp.link.clean', 'media:link', '--mode', 'symlink');
    gulp('gulp.link.rerun', 'media:link', '--mode', 'symlink');
    remove(mediaRoot);
    // The same work without gulp: what gulp and its task wrapper cost.
    node('bare.link.clean', bareLink(ctx, 'symlink'));
    node('bare.link.rerun', bareLink(ctx, 'symlink'));
    if (ctx.cliBin) {
      // Issue 9: the command exactly as an npm script runs it, on the links just made.
      expectUpToDate(ctx.cliBin, cwd, project.apps.length);
      for (let pair = 0; pair < STARTUP_PAIRS; pair++) {
        const cli = (): void => node('startup.cli', [ctx.cliBin as string, 'link']);
        const bareNode = (): void => node('startup.node', ['-e', '0']);
        // Which goes first alternates too: neither is always the one after a pause.
        if (pair % 2 === 0) {
          bareNode();
          cli();
        } else {
          cli();
          bareNode();
        }
      }
    }
    remove(mediaRoot);

    if (tools.python) {
      const staticRoot = fresh();
      django('django.link.clean', staticRoot, true);
      django('django.link.rerun', staticRoot, true);
      remove(staticRoot);
    }

    flushDisk();
    gulp('gulp.copy.clean', 'media:link', '--mode', 'copy');
    gulp('gulp.copy.rerun', 'media:link', '--mode', 'copy');
    remove(mediaRoot);

    flushDisk();
    node('bare.copy.clean', bareLink(ctx, 'copy'));
    node('bare.copy.rerun', bareLink(ctx, 'copy'));
    remove(mediaRoot);

    if (tools.cp) {
      const out = fresh();
      flushDisk();
      record('cp', runMeasured(tools, tools.cp, ['-r', ...sources, `${out}/`], { cwd }));
      remove(out);
    }

    if (tools.rsync) {
      const out = fresh();
      flushDisk();
      record('rsync.clean', runMeasured(tools, tools.rsync, ['-a', ...sources, `${out}/`], { cwd }));
      record('rsync.rerun', runMeasured(tools, tools.rsync, ['-a', ...sources, `${out}/`], { cwd }));
      remove(out);
    }

    if (tools.python) {
      const staticRoot = fresh();
      flushDisk();
      django('django.copy.clean', staticRoot, false);
      django('django.copy.rerun', staticRoot, false);
      remove(staticRoot);
    }
  }
  return rows;
}

/**
 * An untimed `app-media link --json`: every app must already be up to date, else the start-up pair would time other
 * work.
 */
function expectUpToDate(cliBin: string, cwd: string, apps: number): void {
  const result = spawnSync(process.execPath, [cliBin, 'link', '--json'], {
    cwd,
    encoding: 'utf8',
    env: { ...process.env, NO_COLOR: '1' },
  });
  let counts: Record<string, number> = {};
  try {
    counts = (JSON.parse(result.stdout) as { counts: Record<string, number> }).counts;
  } catch {
    // Reported below.
  }
  if (result.status !== 0 || counts['up-to-date'] !== apps || Object.keys(counts).length !== 1) {
    throw new Error(
      `app-media link on the linked project: expected ${apps} up-to-date, ` +
        `got status ${result.status} ${JSON.stringify(counts)}\n${result.stderr.trim()}`,
    );
  }
}

/**
 * Peak RSS of one `gulp media:link --mode copy` of a project (another size than the one
 * measured), to see whether memory stays flat. `nodeOptions`: V8 flags for that run.
 */
export function copyRss(project: Project, ctx: WholeContext, nodeOptions?: string): Sample {
  const mediaRoot = path.join(project.root, 'public', 'media');
  remove(mediaRoot);
  const env = nodeOptions ? { NODE_OPTIONS: nodeOptions } : undefined;
  const sample = runMeasured(ctx.tools, process.execPath, [ctx.gulpBin, 'media:link', '--mode', 'copy'], {
    cwd: project.root,
    ...(env ? { env } : {}),
  });
  remove(mediaRoot);
  return sample;
}
