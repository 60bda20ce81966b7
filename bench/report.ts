/** The markdown: tables per size, the issue's targets with PASS/MISS, and bench/results.md merged by size. */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatMiB, SIZE_NAMES, type Project, type SizeName } from './generate.js';
import type { Tools } from './processes.js';
import { fastest, medianMs, minMs, peakRssMiB, ratioTo, type Row, type Rows } from './rows.js';

const REPO = path.resolve(fileURLToPath(new URL('..', import.meta.url)));

export interface SizeResult {
  project: Project;
  repeats: number;
  inProcess: Rows;
  whole: Rows;
  /** Peak RSS of a copy of the small project in the same run, MiB (for "flat from small"). */
  smallCopyRssMiB: number;
  /**
   * huge-files only: peak RSS of a copy of the medium project in the same run, MiB: the same
   * 10,000 files with 13× fewer bytes, so it isolates what spec §7 asks ("flat as file sizes grow").
   */
  mediumCopyRssMiB?: number;
  /**
   * huge-files only: peak RSS of the same copy runs (this size, and small) with V8's young
   * generation held at 1 MiB (`--max-semi-space-size=1`), MiB: what is V8's sizing, not our data.
   */
  youngGenRssMiB?: { size: number; small: number };
  tools: Tools;
  totalMs: number;
  date: Date;
  /** 1-minute load averages at the start and the end of the size's run (other work on the machine skews times). */
  load: [number, number];
  /** media:collect's rows (issue 27), for the sizes it is measured on. */
  collect?: Rows;
}

export function formatMs(ms: number): string {
  if (!Number.isFinite(ms)) return '—';
  if (ms < 10) return ms.toFixed(2);
  if (ms < 100) return ms.toFixed(1);
  return Math.round(ms).toLocaleString('en-US');
}

function formatRatio(value: number): string {
  return Number.isFinite(value) ? `${value < 10 ? value.toFixed(2) : value.toFixed(1)}×` : '—';
}

function shortName(row: Row): string {
  return row.short ?? row.label;
}

/** A markdown table; columns listed in `numeric` are right-aligned. */
function table(
  headers: readonly string[],
  lines: ReadonlyArray<readonly string[]>,
  numeric: readonly number[] = [],
): string {
  const escape = (cell: string): string => cell.replace(/\|/g, '\\|');
  return [
    `| ${headers.join(' | ')} |`,
    `| ${headers.map((_, index) => (numeric.includes(index) ? '---:' : '---')).join(' | ')} |`,
    ...lines.map((line) => `| ${line.map(escape).join(' | ')} |`),
  ].join('\n');
}

function ratioCell(rows: Rows, row: Row, ids: readonly string[] | undefined): string {
  const ratio = ratioTo(rows, row, ids);
  return ratio ? `${formatRatio(ratio.value)} ${shortName(ratio.against)}` : '—';
}

function rowCells(rows: Rows, row: Row, withRss: boolean): string[] {
  if (row.skipped) return [row.label, 'skipped', '', ...(withRss ? [''] : []), row.skipped, ''];
  const rss = peakRssMiB(row);
  return [
    row.label,
    formatMs(medianMs(row)),
    formatMs(minMs(row)),
    ...(withRss ? [Number.isFinite(rss) ? rss.toFixed(1) : '—'] : []),
    ratioCell(rows, row, row.floors),
    ratioCell(rows, row, row.peers),
  ];
}

export function rowsTable(rows: Rows, withRss: boolean): string {
  const headers = [
    'operation',
    'runs',
    'median ms',
    'min ms',
    ...(withRss ? ['peak RSS MiB'] : []),
    'ratio to its floor',
    'ratio to best peer',
  ];
  const cells = rows.list.map((row) => {
    const [label, ...rest] = rowCells(rows, row, withRss);
    return [label ?? '', row.skipped ? '—' : String(row.samples.length), ...rest];
  });
  return table(headers, cells, withRss ? [1, 2, 3, 4] : [1, 2, 3]);
}

export interface TargetOutcome {
  target: string;
  /** The size (or sizes) the issue sets the target for. */
  size: SizeName | 'every size' | readonly SizeName[];
  measured: string;
  limit: string;
  /** null: could not be measured here (a peer is missing). */
  pass: boolean | null;
}

/** The issue's targets, as ratios of rows measured in the same run. */
export function evaluateTargets(result: SizeResult): TargetOutcome[] {
  const { inProcess: inp, whole } = result;
  const out: TargetOutcome[] = [];
  const walk = fastest(inp, ['floor.walk', 'floor.walk-sync']);
  const asyncWalk = inp.get('floor.walk');

  const linkRow = inp.get('link.clean');
  const loop = fastest(inp, ['floor.symlink', 'floor.symlink-sync']);
  if (linkRow && loop) {
    const limit = 2 * medianMs(loop) + 20;
    // For comparison: the same links through bare vinyl-fs streams, the way the tool must make them.
    const vinyl = inp.get('vinyl.symlink');
    const vinylNote =
      vinyl && vinyl.samples.length > 0
        ? `; ${formatRatio(medianMs(linkRow) / medianMs(vinyl))} of bare vinyl-fs streams' ` +
          `${formatMs(medianMs(vinyl))} ms`
        : '';
    out.push({
      target: 'Link, in process: at most 2× the bare symlink loop + 20 ms',
      size: 'large',
      measured:
        `${formatMs(medianMs(linkRow))} ms (${formatRatio(medianMs(linkRow) / medianMs(loop))} ` +
        `of the loop's ${formatMs(medianMs(loop))} ms${vinylNote})`,
      limit: `${formatMs(limit)} ms`,
      pass: medianMs(linkRow) <= limit,
    });
  }

  const gulpLink = whole.get('gulp.link.clean');
  const djangoLink = whole.get('django.link.clean');
  out.push(
    speedup('Link, whole process: at least 5× faster than `collectstatic --link`', 'large', gulpLink, djangoLink, 5),
  );

  for (const [id, what] of [
    ['link.rerun', 'No-change re-run (symlink)'],
    ['copy.rerun', 'No-change re-run (copy)'],
    ['verify.link', '`verify` (links)'],
    ['verify.copy', '`verify` (copies)'],
  ] as const) {
    const row = inp.get(id);
    if (!row || !walk) continue;
    const ratio = medianMs(row) / medianMs(walk);
    // Against the faster walk (the floor); the async walk, which works like the tool's, for comparison.
    let other =
      asyncWalk && asyncWalk !== walk
        ? `; ${formatRatio(medianMs(row) / medianMs(asyncWalk))} the async walk's ${formatMs(medianMs(asyncWalk))} ms`
        : '';
    // Copies: also against the walk that lists the copy's folders, as the tool must (information, not the target).
    const listing = inp.get('walk.listing');
    if (id.endsWith('.copy') || id === 'copy.rerun') {
      if (listing && listing.samples.length > 0)
        other +=
          `; ${formatRatio(medianMs(row) / medianMs(listing))} the walk that also lists the copy's ` +
          `folders (${formatMs(medianMs(listing))} ms)`;
    }
    out.push({
      target: `${what}, in process: at most 1.5× the bare stat walk`,
      size: 'every size',
      measured:
        `${formatMs(medianMs(row))} ms = ${formatRatio(ratio)} the ${shortName(walk)}'s ` +
        `${formatMs(medianMs(walk))} ms${other}`,
      limit: '1.5×',
      pass: ratio <= 1.5,
    });
  }

  const gulpCopy = whole.get('gulp.copy.clean');
  const cp = whole.get('cp');
  if (gulpCopy && cp && !cp.skipped) {
    const ratio = medianMs(gulpCopy) / medianMs(cp);
    out.push({
      target: 'Copy clean, whole process: at most 1.5× `cp -r`',
      size: 'medium',
      measured: `${formatMs(medianMs(gulpCopy))} ms = ${formatRatio(ratio)} cp's ${formatMs(medianMs(cp))} ms`,
      limit: '1.5×',
      pass: ratio <= 1.5,
    });
  } else {
    out.push({
      target: 'Copy clean, whole process: at most 1.5× `cp -r`',
      size: 'medium',
      measured: 'cp -r skipped',
      limit: '1.5×',
      pass: null,
    });
  }
  const rsync = whole.get('rsync.clean');
  out.push(speedup('Copy clean, whole process: faster than `rsync -a`', 'medium', gulpCopy, rsync, 1));

  const copyRss = Math.max(peakRssMiB(whole.get('gulp.copy.clean')), peakRssMiB(whole.get('gulp.copy.rerun')));
  out.push({
    target: 'Peak RSS of a copy run: at most 150 MiB',
    size: 'huge-files',
    measured: Number.isFinite(copyRss) ? `${copyRss.toFixed(1)} MiB` : 'not measured',
    limit: '150 MiB',
    pass: Number.isFinite(copyRss) ? copyRss <= 150 : null,
  });
  /** A copy run's peak RSS against another project's copy run, at most 1.2×. */
  const flatAgainst = (target: string, name: string, reference: number): TargetOutcome => {
    const growth = copyRss / reference;
    return {
      target,
      size: 'huge-files',
      measured: Number.isFinite(growth)
        ? `${copyRss.toFixed(1)} MiB = ${formatRatio(growth)} ${name}'s ${reference.toFixed(1)} MiB`
        : 'not measured',
      limit: '1.2×',
      pass: Number.isFinite(growth) ? growth <= 1.2 : null,
    };
  };
  const fromSmall = flatAgainst(
    "Peak RSS flat from `small`: a copy run at most 1.2× the small project's copy run",
    'small',
    result.smallCopyRssMiB,
  );
  const young = result.youngGenRssMiB;
  if (young && Number.isFinite(young.size / young.small)) {
    fromSmall.measured +=
      `; for comparison, both with V8's young generation held at 1 MiB (\`--max-semi-space-size=1\`): ` +
      `${young.size.toFixed(1)} MiB = ${formatRatio(young.size / young.small)} small's ` +
      `${young.small.toFixed(1)} MiB`;
  }
  out.push(fromSmall);
  if (result.mediumCopyRssMiB !== undefined) {
    out.push(
      flatAgainst(
        "Peak RSS flat as file sizes grow (spec §7): a copy run at most 1.2× the medium project's " +
          '(the same 10,000 files, 13× fewer bytes)',
        'medium',
        result.mediumCopyRssMiB,
      ),
    );
  }

  out.push(startup(whole.get('startup.cli'), whole.get('startup.node')));
  if (result.collect) out.push(...collectTargets(result.collect));

  const noop = whole.get('gulp.noop');
  for (const [id, what] of [
    ['gulp.link.rerun', 'symlink'],
    ['gulp.copy.rerun', 'copy'],
  ] as const) {
    const row = whole.get(id);
    if (!row || !noop) continue;
    const ratio = medianMs(row) / medianMs(noop);
    out.push({
      target: `Start-up: \`gulp media:link\` (${what}) on an up-to-date project at most 1.3× the do-nothing gulp task`,
      size: 'small',
      measured: `${formatMs(medianMs(row))} ms = ${formatRatio(ratio)} noop's ${formatMs(medianMs(noop))} ms`,
      limit: '1.3×',
      pass: ratio <= 1.3,
    });
  }
  return out;
}

const COLLECT_SIZES: readonly SizeName[] = ['medium', 'huge-files'];

/** Issue 27's targets for media:collect. */
export function collectTargets(rows: Rows): TargetOutcome[] {
  const out: TargetOutcome[] = [];
  const versus = (target: string, ours: string, peer: string, factor: number): void => {
    const outcome = speedup(target, 'medium', rows.get(ours), rows.get(peer), factor);
    out.push({ ...outcome, size: COLLECT_SIZES });
  };
  versus(
    'Collect clean, no compression: at least 3× faster than `collectstatic` (ManifestStaticFilesStorage)',
    'collect.clean',
    'django.manifest',
    3,
  );
  versus('Collect clean, no compression: no slower than a gulp-rev pipeline', 'collect.clean', 'gulp-rev', 1);
  versus(
    'Collect clean with compression: faster than `collectstatic` + `whitenoise.compress`, same levels',
    'collect.compress',
    'django.whitenoise',
    1,
  );
  for (const [id, floor, what] of [
    ['collect.api.rerun', 'floor.walk', 'No-change re-run (collect), in process: at most 1.5× the stat walk'],
    [
      'collect.api.css',
      'floor.css',
      'One CSS file changed (collect), in process: at most 1.5× the walk, hash and write of that file and a manifest',
    ],
  ] as const) {
    const row = rows.get(id);
    const against = rows.get(floor);
    if (!row || !against || row.samples.length === 0 || against.samples.length === 0) continue;
    const ratio = medianMs(row) / medianMs(against);
    out.push({
      target: what,
      size: COLLECT_SIZES,
      measured: `${formatMs(medianMs(row))} ms = ${formatRatio(ratio)} the floor's ${formatMs(medianMs(against))} ms`,
      limit: '1.5×',
      pass: ratio <= 1.5,
    });
  }
  const rss = Math.max(peakRssMiB(rows.get('collect.clean')), peakRssMiB(rows.get('collect.compress')));
  out.push({
    target: 'Peak RSS of a collect run (whole process): at most 150 MiB',
    size: 'huge-files',
    measured: Number.isFinite(rss) ? `${rss.toFixed(1)} MiB` : 'not measured',
    limit: '150 MiB',
    pass: Number.isFinite(rss) ? rss <= 150 : null,
  });
  return out;
}

/** Issue 9: `app-media link` on an up-to-date project against `node -e 0`, timed alternately in the same run. */
function startup(cli: Row | undefined, bareNode: Row | undefined): TargetOutcome {
  const target =
    'Start-up (issue 9): `app-media link` on an up-to-date project at most 1.5× `node ' + '-e 0`, side by side';
  const limit = '1.5×';
  if (
    !cli ||
    !bareNode ||
    cli.skipped ||
    bareNode.skipped ||
    cli.samples.length === 0 ||
    bareNode.samples.length === 0
  ) {
    return {
      target,
      size: 'small',
      measured: `not measured${cli?.skipped ? `: ${cli.skipped}` : ''}`,
      limit,
      pass: null,
    };
  }
  const ratio = medianMs(cli) / medianMs(bareNode);
  const minRatio = minMs(cli) / minMs(bareNode);
  return {
    target,
    size: 'small',
    measured:
      `${formatMs(medianMs(cli))} ms = ${formatRatio(ratio)} node's ` +
      `${formatMs(medianMs(bareNode))} ms (medians of ${cli.samples.length} runs each; ` +
      `minimums ${formatMs(minMs(cli))} / ${formatMs(minMs(bareNode))} ms = ${formatRatio(minRatio)})`,
    limit,
    pass: ratio <= 1.5,
  };
}

/** "ours is at least `factor`× faster than the peer". */
function speedup(
  target: string,
  size: SizeName,
  ours: Row | undefined,
  peer: Row | undefined,
  factor: number,
): TargetOutcome {
  const limit = factor === 1 ? 'faster' : `${factor}× faster`;
  if (!ours || !peer || peer.skipped || peer.samples.length === 0) {
    return { target, size, measured: `peer skipped${peer?.skipped ? `: ${peer.skipped}` : ''}`, limit, pass: null };
  }
  const times = medianMs(peer) / medianMs(ours);
  return {
    target,
    size,
    measured:
      `${formatMs(medianMs(ours))} ms vs ${formatMs(medianMs(peer))} ms: ` +
      `${times >= 1 ? `${formatRatio(times)} faster` : `${formatRatio(1 / times)} slower`}`,
    limit,
    pass: times >= factor,
  };
}

function resultWord(outcome: TargetOutcome, size: SizeName): string {
  if (outcome.pass === null) return 'SKIPPED';
  const applies =
    outcome.size === 'every size' ||
    outcome.size === size ||
    (Array.isArray(outcome.size) && outcome.size.includes(size));
  const word = outcome.pass ? 'PASS' : 'MISS';
  return applies ? `**${word}**` : `${word.toLowerCase()}*`;
}

export function targetsTable(result: SizeResult, outcomes: readonly TargetOutcome[]): string {
  const size = result.project.size.name;
  return table(
    ['target', 'set for', 'measured', 'limit', 'result'],
    outcomes.map((o) => [
      o.target,
      Array.isArray(o.size) ? o.size.join(', ') : (o.size as string),
      o.measured,
      o.limit,
      resultWord(o, size),
    ]),
  );
}

/** The commit measured, and whether src/ had uncommitted changes (the build under test is dist/, built from it). */
function revisionLine(): string {
  const head = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: REPO, encoding: 'utf8' });
  if (head.status !== 0) return 'not a git checkout';
  const dirty =
    spawnSync('git', ['status', '--porcelain', '--', 'src'], { cwd: REPO, encoding: 'utf8' }).stdout.trim() !== '';
  return `commit ${head.stdout.trim()}${dirty ? ' with uncommitted changes in src/' : ''}`;
}

function machineLine(result: SizeResult): string {
  const cpus = os.cpus();
  const { tools } = result;
  const parts = [
    `${cpus[0]?.model ?? 'unknown CPU'}, ${cpus.length} cores, ${(os.totalmem() / 1024 ** 3).toFixed(1)} GiB memory`,
    `${os.type()} ${os.release()}`,
    `Node ${process.version}`,
    tools.time ? 'peak RSS by GNU time' : 'peak RSS of node processes by process.resourceUsage()',
  ];
  if (tools.python) parts.push(`Django ${tools.python.django} (${tools.python.bin})`);
  return parts.join('; ');
}

export function sizeSection(result: SizeResult): string {
  const { project } = result;
  const spec = project.size;
  const skipped = [...result.tools.skipped].map(([name, why]) => `${name} (${why})`);
  const outcomes = evaluateTargets(result);
  return [
    `## ${spec.name}`,
    '',
    `${spec.apps} apps × ${spec.filesPerApp} files = ${project.files.toLocaleString('en-US')} files, ` +
      `${formatMiB(project.bytes)} (${project.bytes.toLocaleString('en-US')} bytes; ${spec.description}); ` +
      `seed ${project.seed}; ${result.repeats} repeat${result.repeats === 1 ? '' : 's'} of each measurement.`,
    '',
    `- Machine: ${machineLine(result)}.`,
    `- Code: ${revisionLine()}.`,
    `- Date: ${result.date.toISOString()}. Run time of this size: ` +
      `${(result.totalMs / 1000).toFixed(1)} s (project ` +
      `${project.reused ? 'reused from the cache' : `generated in ${(project.generateMs / 1000).toFixed(1)} s`}).`,
    `- Load average (1 min) at the start and the end: ${result.load[0].toFixed(2)}, ` +
      `${result.load[1].toFixed(2)} on ${os.cpus().length} cores.`,
    `- Skipped: ${skipped.length > 0 ? skipped.join('; ') : 'nothing'}.`,
    '',
    '### In process (programmatic API)',
    '',
    rowsTable(result.inProcess, false),
    '',
    '### Whole process',
    '',
    rowsTable(result.whole, true),
    '',
    ...(result.collect
      ? [
          '### media:collect',
          '',
          'Whole-process rows from spawn to exit (peak RSS by the same means); the in-process rows repeat ' +
            'the API call 5 (re-run) or 3 (one CSS file) times a round, each run beside its floor.',
          '',
          rowsTable(result.collect, true),
          '',
        ]
      : []),
    '### Targets',
    '',
    targetsTable(result, outcomes),
    '',
    '\\* set for another size: shown for information only.',
  ].join('\n');
}

const HEADER = [
  '# Benchmark results',
  '',
  'Written by `npm run bench -- --size <size>` (`bench/run.ts`); ' +
    "each size's section is replaced when that size is run again.",
  'Medians and minimums in milliseconds over the repeats; ratios are median over median, ' +
    'measured in the same run on the same machine.',
  'In process, a run that changes nothing (a no-change re-run, verify, the stat walks) ' +
    'is repeated back to back within each repeat (at least 3 runs, then until 200 ms or 20 runs), ' +
    'each run one sample: the first, colder run of each repeat is among them.',
  'A floor is the least plain `node:fs` code could do for the same job (the fastest of its variants counts); ' +
    'a peer is another program doing the same job.',
  "Floors and peers write into the project's mediaRoot, removed before each run, " +
    "as the tool does: on ext4 the folder decides where new files' inodes go, " +
    'and a copy into another folder measured up to 4× faster or slower for the same work.',
  'Whole-process times run from spawn to exit; peak RSS is the highest over the repeats.',
].join('\n');

/** Puts `section` into the results file in place of the same size's old section; other sizes stay. */
export function mergeResults(file: string, size: SizeName, section: string): void {
  const sections = new Map<string, string>();
  if (existsSync(file)) {
    const text = readFileSync(file, 'utf8');
    for (const match of text.matchAll(/<!-- bench:([\w-]+) -->\n([\s\S]*?)\n<!-- \/bench:\1 -->/g)) {
      sections.set(match[1] as string, match[2] as string);
    }
  }
  sections.set(size, section);
  const ordered = [
    ...SIZE_NAMES.filter((name) => sections.has(name)),
    ...[...sections.keys()].filter((name) => !SIZE_NAMES.includes(name as SizeName)),
  ];
  const body = ordered.map((name) => `<!-- bench:${name} -->\n${sections.get(name) ?? ''}\n<!-- /bench:${name} -->`);
  writeFileSync(file, `${[HEADER, ...body].join('\n\n')}\n`);
}
