/**
 * The benchmark's own logic (`npm run bench`, bench/), without timing anything: times are
 * the bench's to report, never asserted here. The generated data is what issue 7 describes
 * and the same for the same seed; a target comes out PASS or MISS right at its limit, and
 * SKIPPED when a peer is missing; results.md keeps the other sizes' sections; and the
 * in-process suite runs against the package as it is now (its own checks throw when a run
 * did not do what is being timed).
 */
import { expect } from 'chai';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { generateProject, layout, SIZES, type SizeName, type SizeSpec } from '../bench/generate.js';
import { inProcessRows, runInProcess } from '../bench/in-process.js';
import { evaluateTargets, mergeResults, targetsTable, type SizeResult, type TargetOutcome } from '../bench/report.js';
import { Rows } from '../bench/rows.js';
import { wholeProcessRows } from '../bench/whole-process.js';
import { collectRows } from '../bench/collect.js';
import { REPO, removeTempDirs, tempDir } from './support/project.js';

after(removeTempDirs);

const KIB = 1024;
const MIB = 1024 * KIB;
const quiet = (): void => {};

/** Every file under `root`, relative path → SHA-256 of its bytes. */
function hashes(root: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const rel of readdirSync(root, { recursive: true, encoding: 'utf8' }).sort()) {
    const full = path.join(root, rel);
    if (statSync(full).isFile()) out.set(rel, createHash('sha256').update(readFileSync(full)).digest('hex'));
  }
  return out;
}

describe('bench: the generated projects', () => {
  it('each size has the apps and files issue 7 names, with file sizes in their ranges', () => {
    const shape: Record<SizeName, [number, number]> = {
      small: [10, 20],
      medium: [100, 100],
      large: [1000, 20],
      'huge-files': [20, 500],
    };
    for (const [name, [apps, files]] of Object.entries(shape) as Array<[SizeName, [number, number]]>) {
      const generated = layout(SIZES[name], 1);
      expect(generated.length, name).to.equal(apps);
      expect(new Set(generated.map((app) => app.name)).size, `${name}: app names are unique`).to.equal(apps);
      for (const app of generated) {
        expect(app.files.length, `${name}/${app.name}`).to.equal(files);
        expect(new Set(app.files.map((file) => file.rel)).size, `${name}/${app.name}: file names are unique`).to.equal(
          files,
        );
        for (const file of app.files) {
          const [low, high] = file.rel.endsWith('.jpg')
            ? [MIB, MIB]
            : file.rel.endsWith('.png')
              ? [20 * KIB, 200 * KIB]
              : [KIB, 8 * KIB];
          expect(file.size, `${name}/${app.name}/${file.rel}`).to.be.within(low, high);
        }
      }
    }
    // medium: "about 800 MB, mostly 1-8 KiB css/js, some 20-200 KiB png, a few 1 MiB jpg".
    const medium = layout(SIZES.medium, 1).flatMap((app) => app.files);
    const bytes = medium.reduce((sum, file) => sum + file.size, 0);
    expect(bytes / 1e6).to.be.within(700, 900);
    const count = (ext: string): number => medium.filter((file) => file.rel.endsWith(ext)).length;
    expect(count('.css') + count('.js')).to.be.greaterThan(count('.png'));
    expect(count('.png')).to.be.greaterThan(count('.jpg'));
    expect(count('.jpg')).to.be.greaterThan(0);
    // huge-files: every file a 1 MiB image.
    expect(
      layout(SIZES['huge-files'], 1)
        .flatMap((app) => app.files)
        .every((file) => file.rel.endsWith('.jpg') && file.size === MIB),
    ).to.equal(true);
  });

  it('the same seed gives the same layout and the same bytes; another seed gives others', () => {
    expect(layout(SIZES.small, 1)).to.deep.equal(layout(SIZES.small, 1));
    expect(layout(SIZES.small, 2)).to.not.deep.equal(layout(SIZES.small, 1));

    const tiny: SizeSpec = { ...SIZES.small, apps: 2, filesPerApp: 6, jpg: 1, png: 1 };
    const first = generateProject(tiny, 7, tempDir('bench-cache'), REPO, quiet);
    const second = generateProject(tiny, 7, tempDir('bench-cache'), REPO, quiet);
    const other = generateProject(tiny, 8, tempDir('bench-cache'), REPO, quiet);
    const apps = (root: string): Map<string, string> => hashes(path.join(root, 'apps'));
    expect(first.reused).to.equal(false);
    // The media files, each app's __init__.py and apps/__init__.py (Django's packages): not two empty lists compared.
    expect(apps(first.root).size).to.equal(first.files + first.apps.length + 1);
    expect([...apps(first.root)]).to.deep.equal([...apps(second.root)]);
    expect([...apps(other.root)]).to.not.deep.equal([...apps(first.root)]);

    // On disk, each file has the layout's size, and no two files are equal.
    const media = first.apps.flatMap((app) =>
      app.files.map((file) => ({ full: path.join(first.root, app.mediaDir, file.rel), size: file.size })),
    );
    for (const file of media) expect(statSync(file.full).size, file.full).to.equal(file.size);
    expect(
      new Set(media.map((file) => createHash('sha256').update(readFileSync(file.full)).digest('hex'))).size,
    ).to.equal(media.length);

    // The project the tool and Django read: every app in the config and in the settings.
    const config = JSON.parse(readFileSync(path.join(first.root, 'app-media.config.json'), 'utf8')) as {
      apps: string[];
    };
    expect(config.apps).to.deep.equal(first.apps.map((app) => `./${app.appDir}`));
    const settings = readFileSync(path.join(first.root, 'bench_settings.py'), 'utf8');
    for (const app of first.apps) expect(settings).to.include(`'apps.${app.name}',`);
  });

  it('a complete project in the cache is reused, and a damaged marker makes it generated again', () => {
    const tiny: SizeSpec = { ...SIZES.small, apps: 1, filesPerApp: 3, jpg: 0, png: 1 };
    const cache = tempDir('bench-cache');
    const made = generateProject(tiny, 3, cache, REPO, quiet);
    const before = hashes(path.join(made.root, 'apps'));
    expect(generateProject(tiny, 3, cache, REPO, quiet).reused).to.equal(true);
    writeFileSync(path.join(made.home, '.bench-ready.json'), '{}');
    const again = generateProject(tiny, 3, cache, REPO, quiet);
    expect(again.reused).to.equal(false);
    expect([...hashes(path.join(again.root, 'apps'))]).to.deep.equal([...before]);
    // The package under test and gulp are linked into the project, so its gulpfile imports them.
    expect(existsSync(path.join(again.root, 'node_modules', 'gulp-app-media', 'package.json'))).to.equal(true);
    expect(existsSync(path.join(again.root, 'node_modules', 'gulp', 'package.json'))).to.equal(true);
  });
});

/** Rows with one sample each (so its median): id → ms, or [ms, peak RSS in KiB]. */
function rowsOf(values: Record<string, number | [number, number]>): Rows {
  const rows = new Rows();
  for (const [id, value] of Object.entries(values)) {
    const [ms, rssKiB] = Array.isArray(value) ? value : [value, undefined];
    rows.add({ id, label: id, kind: 'ours' }).samples.push(rssKiB === undefined ? { ms } : { ms, rssKiB });
  }
  return rows;
}

function resultOf(size: SizeName, inProcess: Rows, whole: Rows, smallCopyRssMiB = 70): SizeResult {
  return {
    project: {
      size: SIZES[size],
      seed: 1,
      home: '/x',
      root: '/x/project',
      apps: [],
      files: 0,
      bytes: 0,
      reused: true,
      generateMs: 0,
    },
    repeats: 1,
    inProcess,
    whole,
    smallCopyRssMiB,
    tools: { time: null, cp: null, rsync: null, python: null, skipped: new Map() },
    totalMs: 0,
    date: new Date(0),
    load: [0, 0],
  };
}

const target = (outcomes: readonly TargetOutcome[], start: string): TargetOutcome => {
  const found = outcomes.find((outcome) => outcome.target.startsWith(start));
  if (!found)
    throw new Error(`no target starting "${start}" among ${outcomes.map((outcome) => outcome.target).join(' / ')}`);
  return found;
};

describe('bench: the targets, PASS or MISS at their limits', () => {
  it('link in process: at most 2× the faster symlink loop + 20 ms', () => {
    const at = (link: number): TargetOutcome => {
      const inProcess = rowsOf({ 'link.clean': link, 'floor.symlink': 150, 'floor.symlink-sync': 100 });
      return target(evaluateTargets(resultOf('large', inProcess, new Rows())), 'Link, in process');
    };
    expect(at(220).pass, '2 × 100 + 20: the sync loop, the faster one, counts').to.equal(true);
    expect(at(221).pass).to.equal(false);
    expect(at(221).measured).to.include("2.21× of the loop's 100 ms");
  });

  it('no-change re-runs and verify: at most 1.5× the faster stat walk, each on its own', () => {
    const inProcess = rowsOf({
      'floor.walk': 300,
      'floor.walk-sync': 200,
      'link.rerun': 100,
      'copy.rerun': 300,
      'verify.link': 301,
      'verify.copy': 299,
    });
    const outcomes = evaluateTargets(resultOf('medium', inProcess, new Rows()));
    expect(target(outcomes, 'No-change re-run (symlink)').pass).to.equal(true);
    expect(target(outcomes, 'No-change re-run (copy)').pass, '300 = 1.5 × 200').to.equal(true);
    expect(target(outcomes, '`verify` (links)').pass, '301 > 1.5 × 200').to.equal(false);
    expect(target(outcomes, '`verify` (copies)').pass).to.equal(true);
    expect(target(outcomes, 'No-change re-run (copy)').measured).to.include('1.50× the');
  });

  it('whole process: collectstatic, cp -r and rsync as peers; a peer not found is SKIPPED, not a failure', () => {
    const whole = rowsOf({
      'gulp.link.clean': 100,
      'django.link.clean': 499,
      'gulp.copy.clean': 150,
      cp: 100,
      'rsync.clean': 151,
    });
    const outcomes = evaluateTargets(resultOf('medium', new Rows(), whole));
    expect(target(outcomes, 'Link, whole process').pass, '4.99× faster is not 5×').to.equal(false);
    expect(target(outcomes, 'Copy clean, whole process: at most 1.5× `cp -r`').pass).to.equal(true);
    expect(target(outcomes, 'Copy clean, whole process: faster than `rsync -a`').pass).to.equal(true);

    // The whole-process rows as the bench makes them on a machine with none of the peers.
    const missing = new Map([
      ['cp -r', 'cp not found'],
      ['rsync -a', 'rsync is not installed'],
      ['collectstatic', '`python3 -c "import django"` fails'],
    ]);
    const withoutPeers = wholeProcessRows({
      tools: { time: null, cp: null, rsync: null, python: null, skipped: missing },
      gulpBin: 'gulp.js',
      cliBin: null,
    });
    for (const [id, ms] of [
      ['gulp.link.clean', 100],
      ['gulp.copy.clean', 150],
    ] as const)
      withoutPeers.get(id)?.samples.push({ ms });
    const result = resultOf('medium', new Rows(), withoutPeers);
    const skipped = evaluateTargets(result);
    expect(target(skipped, 'Link, whole process').pass).to.equal(null);
    expect(target(skipped, 'Link, whole process').measured).to.include('import django');
    expect(target(skipped, 'Copy clean, whole process: faster than `rsync -a`').pass).to.equal(null);
    expect(target(skipped, 'Copy clean, whole process: at most 1.5× `cp -r`').pass).to.equal(null);
    const lines = targetsTable(result, skipped).split('\n');
    expect(lines.filter((line) => line.startsWith('| Link, whole process'))[0]).to.match(/\| SKIPPED \|$/);
  });

  it("peak RSS: the highest copy run, at most 150 MiB and at most 1.2× the small project's", () => {
    const at = (clean: number, rerun: number, small: number): TargetOutcome[] => {
      const whole = rowsOf({ 'gulp.copy.clean': [1000, clean * 1024], 'gulp.copy.rerun': [100, rerun * 1024] });
      return evaluateTargets(resultOf('huge-files', new Rows(), whole, small));
    };
    expect(target(at(150, 90, 125), 'Peak RSS of a copy run').pass).to.equal(true);
    expect(target(at(90, 150.5, 125.5), 'Peak RSS of a copy run').pass, 'the re-run is the highest').to.equal(false);
    expect(target(at(84, 60, 70), 'Peak RSS flat from `small`').pass, '84 = 1.2 × 70').to.equal(true);
    expect(target(at(60, 84.5, 70), 'Peak RSS flat from `small`').pass).to.equal(false);
  });

  it(
    'media:collect (issue 27): 3× collectstatic, no slower than gulp-rev, faster than collectstatic + whitenoise; ' +
      '1.5× its floors; 150 MiB; peers missing are SKIPPED',
    () => {
      const collect = rowsOf({
        'collect.clean': [100, 140 * 1024],
        'django.manifest': 300,
        'gulp-rev': 100,
        'collect.compress': [200, 150.5 * 1024],
        'django.whitenoise': 201,
        'collect.api.rerun': 30,
        'floor.walk': 20,
        'collect.api.css': 31,
        'floor.css': 20,
      });
      const result = { ...resultOf('medium', new Rows(), new Rows()), collect };
      const outcomes = evaluateTargets(result);
      expect(target(outcomes, 'Collect clean, no compression: at least 3×').pass, '300 / 100 = 3').to.equal(true);
      expect(
        target(outcomes, 'Collect clean, no compression: no slower than a gulp-rev').pass,
        'as fast counts',
      ).to.equal(true);
      expect(target(outcomes, 'Collect clean with compression').pass).to.equal(true);
      expect(target(outcomes, 'No-change re-run (collect)').pass, '30 = 1.5 × 20').to.equal(true);
      expect(target(outcomes, 'One CSS file changed (collect)').pass, '31 > 1.5 × 20').to.equal(false);
      expect(target(outcomes, 'Peak RSS of a collect run').pass, 'the compressed run is the highest').to.equal(false);
      expect(
        targetsTable(result, outcomes)
          .split('\n')
          .find((line) => line.startsWith('| No-change re-run (collect)')),
      ).to.match(/\| medium, huge-files \|.*\| \*\*PASS\*\* \|$/);

      const without = collectRows({
        tools: { time: null, cp: null, rsync: null, python: null, skipped: new Map([['collectstatic', 'no django']]) },
        whitenoise: false,
        gulpRev: false,
        cliBin: null,
      });
      without.get('collect.clean')?.samples.push({ ms: 100 });
      const skipped = evaluateTargets({ ...resultOf('medium', new Rows(), new Rows()), collect: without });
      expect(target(skipped, 'Collect clean, no compression: at least 3×').pass).to.equal(null);
      expect(target(skipped, 'Collect clean, no compression: no slower than a gulp-rev').pass).to.equal(null);
      expect(target(skipped, 'Collect clean with compression').pass).to.equal(null);
    },
  );

  it('the table marks the targets set for this size in bold and the others as information (*)', () => {
    const inProcess = rowsOf({
      'floor.walk-sync': 100,
      'copy.rerun': 200,
      'link.clean': 500,
      'floor.symlink-sync': 100,
    });
    const result = resultOf('small', inProcess, new Rows());
    const lines = targetsTable(result, evaluateTargets(result)).split('\n');
    expect(lines.find((line) => line.startsWith('| No-change re-run (copy)'))).to.match(/\| \*\*MISS\*\* \|$/);
    expect(lines.find((line) => line.startsWith('| Link, in process'))).to.match(/\| miss\* \|$/);
  });
});

describe('bench: results.md', () => {
  it("a size's section replaces its old one; the other sizes' stay, in size order", () => {
    const file = path.join(tempDir('bench-results'), 'results.md');
    mergeResults(file, 'large', '## large\n\nfirst large');
    mergeResults(file, 'small', '## small\n\nfirst small');
    mergeResults(file, 'large', '## large\n\nsecond large');
    const text = readFileSync(file, 'utf8');
    expect(text.startsWith('# Benchmark results\n')).to.equal(true);
    expect(text).to.include('first small').and.include('second large').and.not.include('first large');
    expect(text.indexOf('## small')).to.be.lessThan(text.indexOf('## large'));
    expect(text.match(/<!-- bench:/g)?.length).to.equal(2);
  });
});

describe('bench: the in-process suite against the package as built', function () {
  this.timeout(60_000);

  it('one round on a tiny project: every row of ours and every floor gets its samples', async () => {
    const tiny: SizeSpec = { ...SIZES.small, apps: 3, filesPerApp: 5, jpg: 0, png: 1 };
    const project = generateProject(tiny, 5, tempDir('bench-cache'), REPO, quiet);
    const rows = await runInProcess(project, 1, quiet);
    expect(rows.list.map((row) => row.id)).to.deep.equal(inProcessRows().list.map((row) => row.id));
    for (const row of rows.list) {
      expect(row.samples.length, row.id).to.be.greaterThan(0);
      for (const sample of row.samples) expect(sample.ms, row.id).to.be.a('number').and.be.greaterThan(0);
    }
    // The suite leaves the project as it found it: nothing published.
    expect(existsSync(path.join(project.root, 'public', 'media'))).to.equal(false);
  });
});
