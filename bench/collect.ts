/**
 * media:collect (issue 27) on the generated projects, against its floors and
 * peers timed in the same run:
 *
 * - a clean collect without compression: `app-media collect --no-compress`
 *   against Django's `collectstatic` with ManifestStaticFilesStorage, and a
 *   gulp-rev pipeline (gulp.src → rev() → gulp.dest → rev.manifest());
 * - with compression: `app-media collect` (brotli 11, gzip 9) against
 *   collectstatic + `python3 -m whitenoise.compress` (the same levels);
 * - a no-change re-run, in process, against the stat walk floor;
 * - one changed CSS file, in process, against the least any tool must do:
 *   the stat walk that finds the change, then hashing and writing the file
 *   and a manifest of the same size;
 * - peak RSS of a whole-process collect.
 *
 * Config and settings files for the runs are written into the generated
 * project here (the generator's output is not changed).
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync, lstatSync } from 'node:fs';
import path from 'node:path';
import { collect, type Report } from 'gulp-app-media';
import type { Project } from './generate.js';
import { flushDisk, remove } from './measure.js';
import { runMeasured, type Tools } from './processes.js';
import { Rows, type Row } from './rows.js';

const OUT = 'dist/media';
const CONFIG = 'app-media.collect.json';
const GULPFILE = 'gulpfile-rev.mjs';

export interface CollectContext {
  tools: Tools;
  gulpBin: string;
  cliBin: string | null;
  repo: string;
  /** whitenoise importable by the python that has Django. */
  whitenoise: boolean;
  /** gulp-rev installed in this checkout. */
  gulpRev: boolean;
}

export function detectCollectPeers(
  tools: Tools,
  repo: string,
): { whitenoise: boolean; gulpRev: boolean; skipped: Map<string, string> } {
  const skipped = new Map<string, string>();
  let whitenoise = false;
  if (tools.python) {
    whitenoise =
      spawnSync(tools.python.bin, ['-c', 'import whitenoise.compress, brotli'], { stdio: 'ignore' }).status === 0;
  }
  if (!whitenoise)
    skipped.set(
      'whitenoise.compress',
      '`python3 -c "import whitenoise.compress, brotli"` fails (Debian: ' +
        'apt-get install python3-whitenoise python3-brotli)',
    );
  const gulpRev = existsSync(path.join(repo, 'node_modules', 'gulp-rev', 'package.json'));
  if (!gulpRev) skipped.set('gulp-rev', 'gulp-rev is not installed (npm install)');
  return { whitenoise, gulpRev, skipped };
}

export function collectRows(ctx: Pick<CollectContext, 'tools' | 'whitenoise' | 'gulpRev' | 'cliBin'>): Rows {
  const rows = new Rows();
  const noDjango = ctx.tools.python
    ? {}
    : { skipped: ctx.tools.skipped.get('collectstatic') ?? 'Django is not installed' };
  const noWhitenoise =
    ctx.tools.python && ctx.whitenoise ? {} : { skipped: 'whitenoise.compress (or brotli) is not installed' };
  const noRev = ctx.gulpRev ? {} : { skipped: 'gulp-rev is not installed' };
  const noCli = ctx.cliBin ? {} : { skipped: 'no bin/app-media.js in this checkout' };
  rows.add({
    id: 'collect.clean',
    label: '`app-media collect --no-compress`, clean',
    kind: 'ours',
    floors: ['node'],
    peers: ['django.manifest', 'gulp-rev'],
    ...noCli,
  });
  rows.add({
    id: 'collect.compress',
    label: '`app-media collect` (brotli 11, gzip 9), clean',
    kind: 'ours',
    floors: ['node'],
    peers: ['django.whitenoise'],
    ...noCli,
  });
  rows.add({
    id: 'collect.rerun.cli',
    label: '`app-media collect`, no-change re-run',
    kind: 'ours',
    floors: ['node'],
    ...noCli,
  });
  rows.add({
    id: 'collect.api.rerun',
    label: 'in process: `collect()`, no-change re-run',
    kind: 'ours',
    floors: ['floor.walk'],
  });
  rows.add({
    id: 'collect.api.css',
    label: 'in process: `collect()`, one CSS file changed',
    kind: 'ours',
    floors: ['floor.css'],
  });
  rows.add({
    id: 'floor.walk',
    label: 'floor: sync stat walk (readdir and `lstat` every source, `lstat` its file in collectRoot)',
    short: 'stat walk',
    kind: 'floor',
  });
  rows.add({
    id: 'floor.css',
    label: 'floor: that stat walk, then hash and write the changed CSS file, then write a manifest of the same size',
    short: 'walk + hash + write',
    kind: 'floor',
  });
  rows.add({ id: 'node', label: '`node -e 0`', short: 'node -e 0', kind: 'baseline' });
  rows.add({
    id: 'django.manifest',
    label: 'peer: `collectstatic` with ManifestStaticFilesStorage, clean',
    short: 'collectstatic (manifest)',
    kind: 'peer',
    ...noDjango,
  });
  rows.add({
    id: 'django.whitenoise',
    label: 'peer: the same, then `python3 -m whitenoise.compress` (brotli 11, gzip 9)',
    short: 'collectstatic + whitenoise',
    kind: 'peer',
    ...(ctx.tools.python ? noWhitenoise : noDjango),
  });
  rows.add({
    id: 'gulp-rev',
    label: 'peer: gulp.src → rev() → gulp.dest → rev.manifest() → gulp.dest',
    short: 'gulp-rev',
    kind: 'peer',
    ...noRev,
  });
  return rows;
}

function writeRunFiles(project: Project, ctx: CollectContext): void {
  const config = JSON.parse(readFileSync(path.join(project.root, 'app-media.config.json'), 'utf8')) as Record<
    string,
    unknown
  >;
  writeFileSync(path.join(project.root, CONFIG), `${JSON.stringify({ ...config, collectRoot: OUT }, null, 2)}\n`);
  writeFileSync(
    path.join(project.root, 'bench_manifest_settings.py'),
    [
      '# Written by the gulp-app-media benchmark: bench_settings with hashed names and staticfiles.json.',
      'from bench_settings import *  # noqa: F401,F403',
      "STATICFILES_STORAGE = 'django.contrib.staticfiles.storage.ManifestStaticFilesStorage'",
      '',
    ].join('\n'),
  );
  writeFileSync(
    path.join(project.root, GULPFILE),
    [
      "import gulp from 'gulp';",
      "import rev from 'gulp-rev';",
      '',
      'export function rev_() {',
      "  return gulp.src('apps/*/static/**/*', { encoding: false, nodir: true })",
      '    .pipe(rev())',
      `    .pipe(gulp.dest('${OUT}'))`,
      '    .pipe(rev.manifest())',
      `    .pipe(gulp.dest('${OUT}'));`,
      '}',
      '',
    ].join('\n'),
  );
  const link = path.join(project.root, 'node_modules', 'gulp-rev');
  if (ctx.gulpRev && !existsSync(link)) symlinkSync(path.join(ctx.repo, 'node_modules', 'gulp-rev'), link);
}

/** The least a tool must do to know nothing changed: walk the sources, look at each one's file in collectRoot. */
function statWalk(project: Project, out: string): number {
  let files = 0;
  const visit = (source: string, dest: string): void => {
    for (const entry of readdirSync(source, { withFileTypes: true })) {
      const from = path.join(source, entry.name);
      const to = path.join(dest, entry.name);
      if (entry.isDirectory()) {
        visit(from, to);
        continue;
      }
      lstatSync(from);
      lstatSync(to);
      files++;
    }
  };
  for (const app of project.apps) visit(path.join(project.root, app.mediaDir), path.join(out, app.name));
  return files;
}

function expectRun(report: Report, what: string, status: string): void {
  if (report.failed || (report.counts[status as keyof Report['counts']] ?? 0) === 0) {
    throw new Error(
      `${what}: expected ${status}, got ${JSON.stringify(report.counts)} ${report.warnings.slice(0, 3).join('; ')}`,
    );
  }
}

export async function runCollect(
  project: Project,
  repeats: number,
  ctx: CollectContext,
  log: (line: string) => void,
): Promise<Rows> {
  const rows = collectRows(ctx);
  const cwd = project.root;
  const out = path.join(cwd, OUT);
  const record = (id: string, ms: number, rssKiB?: number): void => {
    (rows.get(id) as Row).samples.push(rssKiB === undefined ? { ms } : { ms, rssKiB });
  };
  const timed = async <T>(id: string, fn: () => Promise<T> | T): Promise<T> => {
    const started = performance.now();
    const result = await fn();
    record(id, performance.now() - started);
    return result;
  };
  const measured = (id: string, command: string, args: string[], env?: NodeJS.ProcessEnv): void => {
    const sample = runMeasured(ctx.tools, command, args, { cwd, ...(env ? { env } : {}) });
    (rows.get(id) as Row).samples.push(sample);
  };
  writeRunFiles(project, ctx);
  const django = ['-m', 'django', 'collectstatic', '--noinput', '-v', '0'];
  const djangoEnv = (settings: string): NodeJS.ProcessEnv => ({
    DJANGO_SETTINGS_MODULE: settings,
    PYTHONPATH: project.root,
    PYTHONDONTWRITEBYTECODE: '1',
    BENCH_STATIC_ROOT: out,
  });
  // One stylesheet of the project to change: its first app's first CSS file.
  const app = project.apps[0];
  const cssRel = app?.files.find((file) => file.rel.endsWith('.css'))?.rel;
  const css = app && cssRel ? path.join(cwd, app.mediaDir, cssRel) : undefined;
  const original = css ? readFileSync(css) : undefined;

  try {
    for (let round = 1; round <= repeats; round++) {
      log(`  collect, round ${round}/${repeats}`);
      measured('node', process.execPath, ['-e', '0']);
      if (ctx.cliBin) {
        remove(out);
        flushDisk();
        measured('collect.clean', process.execPath, [ctx.cliBin, 'collect', '--config', CONFIG, '--no-compress']);
        remove(out);
        flushDisk();
        measured('collect.compress', process.execPath, [ctx.cliBin, 'collect', '--config', CONFIG]);
        measured('collect.rerun.cli', process.execPath, [ctx.cliBin, 'collect', '--config', CONFIG]);
      }
      // In process, on the compressed build: the no-change re-run against the stat walk, back to back.
      if (!existsSync(path.join(out, 'manifest.json')))
        expectRun(await collect({ cwd, config: CONFIG }), 'collect', 'collected');
      flushDisk();
      for (let count = 0; count < 5; count++) {
        await timed('floor.walk', () => statWalk(project, out));
        expectRun(
          await timed('collect.api.rerun', () => collect({ cwd, config: CONFIG })),
          'collect re-run',
          'up-to-date',
        );
      }
      // One CSS file changed (its size changes, so any tool sees it), then changed back.
      if (css && original) {
        for (let count = 0; count < 3; count++) {
          const variant = Buffer.concat([original, Buffer.from(`\n.bench-${round}-${count} { color: red; }\n`)]);
          writeFileSync(css, variant);
          expectRun(
            await timed('collect.api.css', () => collect({ cwd, config: CONFIG })),
            'collect one css',
            'collected',
          );
          const manifestSize = readFileSync(path.join(out, 'manifest.json')).length;
          const scratch = path.join(project.home, 'floor-css');
          rmSync(scratch, { recursive: true, force: true });
          await timed('floor.css', () => {
            statWalk(project, out);
            const bytes = readFileSync(css);
            const hash = createHash('sha256').update(bytes).digest('hex');
            writeFileSync(`${scratch}.${hash.slice(0, 10)}.css`, bytes);
            writeFileSync(`${scratch}.manifest.json`, Buffer.alloc(manifestSize, 32));
          });
          rmSync(`${scratch}.${createHash('sha256').update(variant).digest('hex').slice(0, 10)}.css`, { force: true });
          rmSync(`${scratch}.manifest.json`, { force: true });
        }
        writeFileSync(css, original);
      }
      remove(out);

      if (ctx.tools.python) {
        flushDisk();
        measured('django.manifest', ctx.tools.python.bin, django, djangoEnv('bench_manifest_settings'));
        remove(out);
        if (ctx.whitenoise) {
          flushDisk();
          const python = ctx.tools.python.bin;
          measured(
            'django.whitenoise',
            'sh',
            [
              '-c',
              `"${python}" -m django collectstatic --noinput -v 0 && "${python}" -m whitenoise.compress -q "${out}"`,
            ],
            djangoEnv('bench_manifest_settings'),
          );
          remove(out);
        }
      }
      if (ctx.gulpRev) {
        flushDisk();
        measured('gulp-rev', process.execPath, [ctx.gulpBin, '--gulpfile', GULPFILE, 'rev_']);
        remove(out);
      }
    }
  } finally {
    if (css && original) writeFileSync(css, original);
    remove(out);
  }
  return rows;
}
