/**
 * `npm run bench [-- --size small|medium|large|huge-files|all] [--repeats N] [--seed N] [--cache DIR] [--publish
 * with|only|no]`
 *
 * Generates (or reuses) a deterministic project per size in a cache folder
 * outside the repository, times the programmatic API against bare node:fs
 * floors and the gulp CLI against cp, rsync and Django's collectstatic, prints
 * the tables and merges them into bench/results.md. Needs `npm run build`
 * first: the generated gulpfile imports this package's dist/.
 */
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { formatMiB, generateProject, SIZE_NAMES, SIZES, type SizeName } from './generate.js';
import { runInProcess } from './in-process.js';
import { detectTools } from './processes.js';
import { mergeResults, sizeSection, type SizeResult } from './report.js';
import { peakRssMiB, Rows } from './rows.js';
import { copyRss, runWholeProcess, type WholeContext } from './whole-process.js';
import { detectCollectPeers, runCollect } from './collect.js';
import { publishSection, runPublishBench } from './publish.js';

const REPO = path.resolve(fileURLToPath(new URL('..', import.meta.url)));
const RESULTS = path.join(REPO, 'bench', 'results.md');

interface Args {
  sizes: SizeName[];
  /** Measure media:collect on every size asked for (it is measured on medium and huge-files anyway). */
  collect: boolean;
  /** `collect`: only collect's rows, printed, results.md untouched (for a quick look). */
  only: string | undefined;
  repeats: number | undefined;
  seed: number;
  cache: string;
  /** media:publish's rows (issue 28): after the others, alone, or not at all. */
  publish: 'with' | 'only' | 'no';
}

/** V8 flag for the memory comparison: the young generation's semi-spaces held at 1 MiB. */
const SMALL_YOUNG_GEN = '--max-semi-space-size=1';

function readArgs(argv: readonly string[]): Args {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      size: { type: 'string', default: 'small' },
      repeats: { type: 'string' },
      seed: { type: 'string', default: '1' },
      cache: { type: 'string', default: process.env['BENCH_CACHE'] ?? path.join(os.tmpdir(), 'gulp-app-media-bench') },
      help: { type: 'boolean', default: false },
      collect: { type: 'boolean', default: false },
      only: { type: 'string' },
      publish: { type: 'string', default: 'with' },
    },
  });
  if (values.help) {
    console.log(
      'usage: npm run bench -- [--size small|medium|large|huge-files|all] [--repeats N] [--seed N] ' +
        '[--cache DIR] [--collect] [--only collect] [--publish with|only|no]',
    );
    process.exit(0);
  }
  const size = values.size;
  if (size !== 'all' && !SIZE_NAMES.includes(size as SizeName))
    throw new Error(`--size must be one of ${[...SIZE_NAMES, 'all'].join(', ')}, not "${size}"`);
  const repeats = values.repeats === undefined ? undefined : Number(values.repeats);
  if (repeats !== undefined && !(Number.isInteger(repeats) && repeats >= 1))
    throw new Error('--repeats must be a whole number of at least 1');
  const seed = Number(values.seed);
  if (!Number.isInteger(seed)) throw new Error('--seed must be a whole number');
  const cache = path.resolve(values.cache);
  const rel = path.relative(REPO, cache);
  if (rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel)))
    throw new Error(`--cache ${cache} is inside the repository: generated projects never go there`);
  const publish = values.publish;
  if (publish !== 'with' && publish !== 'only' && publish !== 'no')
    throw new Error(`--publish must be with, only or no, not "${publish}"`);
  return {
    sizes: size === 'all' ? [...SIZE_NAMES] : [size as SizeName],
    repeats,
    seed,
    cache,
    collect: values.collect || values.only === 'collect',
    only: values.only,
    publish,
  };
}

function log(line: string): void {
  process.stderr.write(`${line}\n`);
}

async function main(): Promise<void> {
  const args = readArgs(process.argv.slice(2));
  if (!existsSync(path.join(REPO, 'dist', 'index.js'))) throw new Error('dist/ is missing: run `npm run build` first');
  const gulpBin = path.join(REPO, 'node_modules', 'gulp', 'bin', 'gulp.js');
  if (!existsSync(gulpBin)) throw new Error(`${gulpBin} is missing: run \`npm install\` first`);

  const tools = detectTools();
  for (const [name, why] of tools.skipped) log(`skipping ${name}: ${why}`);
  if (!tools.time) log('GNU time (/usr/bin/time) not found: peak RSS is measured for node processes only');
  const collectPeers = detectCollectPeers(tools, REPO);
  for (const [name, why] of collectPeers.skipped) {
    tools.skipped.set(name, why);
    log(`skipping ${name}: ${why}`);
  }
  const cliBin = path.join(REPO, 'bin', 'app-media.js');
  const ctx: WholeContext = { tools, gulpBin, cliBin: existsSync(cliBin) ? cliBin : null };

  for (const sizeName of args.sizes) {
    const started = performance.now();
    const loadBefore = os.loadavg()[0] ?? 0;
    const spec = SIZES[sizeName];
    const repeats = args.repeats ?? spec.repeats;
    const project = generateProject(spec, args.seed, args.cache, REPO, log);
    log(
      `${sizeName}: ${spec.apps} apps, ${project.files} files, ${formatMiB(project.bytes)} in ` +
        `${project.root}${project.reused ? ' (reused)' : ''}; ${repeats} repeat(s)`,
    );
    if (args.publish === 'only') {
      await publishRows(project, sizeName, args.repeats ?? 1, tools, log);
      continue;
    }

    // media:collect (issue 27) is measured on the sizes its targets are set for, or with --collect on any.
    const collectRows =
      args.collect || sizeName === 'medium' || sizeName === 'huge-files'
        ? await runCollect(
            project,
            repeats,
            { ...ctx, repo: REPO, whitenoise: collectPeers.whitenoise, gulpRev: collectPeers.gulpRev },
            log,
          )
        : undefined;
    if (args.only === 'collect') {
      const section = sizeSection({
        project,
        repeats,
        inProcess: new Rows(),
        whole: new Rows(),
        smallCopyRssMiB: Number.NaN,
        tools,
        ...(collectRows ? { collect: collectRows } : {}),
        totalMs: performance.now() - started,
        date: new Date(),
        load: [loadBefore, os.loadavg()[0] ?? 0],
      });
      console.log(`\n${section}\n`);
      continue;
    }
    const inProcess = await runInProcess(project, repeats, log);
    const whole = runWholeProcess(project, repeats, ctx, log);
    // Memory should stay flat as files grow: the small project's copy, in this same run, is the reference.
    const smallCopyRssMiB =
      sizeName === 'small'
        ? peakRssMiB(whole.get('gulp.copy.clean'))
        : (copyRss(generateProject(SIZES.small, args.seed, args.cache, REPO, log), ctx).rssKiB ?? Number.NaN) / 1024;

    // And the spec's own words, "flat as file sizes grow": huge-files against medium, the same file count.
    const mediumCopyRssMiB =
      sizeName === 'huge-files'
        ? (copyRss(generateProject(SIZES.medium, args.seed, args.cache, REPO, log), ctx).rssKiB ?? Number.NaN) / 1024
        : undefined;

    // How much of the growth is V8 sizing its young generation (up to 2 × 16 MiB by default for
    // a process that allocates fast), not data the tool holds: both copies again with it held at 1 MiB.
    const youngGenRssMiB =
      sizeName === 'huge-files'
        ? {
            size: (copyRss(project, ctx, SMALL_YOUNG_GEN).rssKiB ?? Number.NaN) / 1024,
            small:
              (copyRss(generateProject(SIZES.small, args.seed, args.cache, REPO, log), ctx, SMALL_YOUNG_GEN).rssKiB ??
                Number.NaN) / 1024,
          }
        : undefined;

    const result: SizeResult = {
      project,
      repeats,
      inProcess,
      whole,
      smallCopyRssMiB,
      tools,
      ...(mediumCopyRssMiB !== undefined ? { mediumCopyRssMiB } : {}),
      ...(youngGenRssMiB !== undefined ? { youngGenRssMiB } : {}),
      ...(collectRows ? { collect: collectRows } : {}),
      totalMs: performance.now() - started,
      date: new Date(),
      load: [loadBefore, os.loadavg()[0] ?? 0],
    };
    const section = sizeSection(result);
    console.log(`\n${section}\n`);
    mergeResults(RESULTS, sizeName, section);
    log(`${sizeName} done in ${(result.totalMs / 1000).toFixed(1)} s; ${path.relative(REPO, RESULTS)} updated`);
    if (args.publish === 'with') await publishRows(project, sizeName, args.repeats ?? 1, tools, log);
  }
}

/** media:publish's rows, in a section of their own (`publish-<size>`), so a size's other rows stay. */
async function publishRows(
  project: Awaited<ReturnType<typeof generateProject>>,
  sizeName: SizeName,
  repeats: number,
  tools: ReturnType<typeof detectTools>,
  log: (line: string) => void,
): Promise<void> {
  const started = performance.now();
  const load = os.loadavg()[0] ?? 0;
  const bench = await runPublishBench(project, repeats, tools, log);
  const section = [
    `## publish, ${sizeName}`,
    '',
    `${new Date().toISOString()}; ${os.cpus().length} cores; Node ${process.version}; ` +
      `load ${load.toFixed(2)} → ${(os.loadavg()[0] ?? 0).toFixed(2)}; ${repeats} repeat(s); ` +
      `${((performance.now() - started) / 1000).toFixed(0)} s in all.`,
    '',
    publishSection(bench, sizeName),
  ].join('\n');
  console.log(`\n${section}\n`);
  mergeResults(RESULTS, `publish-${sizeName}` as SizeName, section);
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
