/**
 * Fitting gulp's ecosystem (issue 6): the tasks compose in gulp.series, the
 * media stream through gulp.dest, `gulp --tasks` describes them, gulp's
 * --silent and --log-level apply, no colours off a terminal, media:find, the
 * config types and the JSON Schema that editors use, checked against the
 * tool's own validator.
 *
 * The CLI part runs in ONE plain JavaScript project that installs the packed
 * tarball with gulp 5, as a user's project would: the path a user takes, `npm
 * pack`, install, a gulpfile.mjs and a config, `npx gulp media:link`, with no
 * TypeScript loader on the user's side.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readFileSync, readdirSync, realpathSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { Ajv, type ValidateFunction } from 'ajv';
import type Vinyl from 'vinyl';
import {
  AppMediaError,
  configSchema,
  defineConfig,
  isAppMediaError,
  link,
  mediaSrc,
  type AppMediaConfig,
} from '../src/index.js';
import { appEntryFields, configFields, defaults, MODES, NAME_PATTERN } from '../src/core/options.js';
import { wantsColor } from '../src/gulp/log.js';
import {
  installPackage,
  isLink,
  mediaFiles,
  npm,
  REPO,
  removeTempDirs,
  sha,
  tempDir,
  writeTree,
  type RunResult,
} from './support/project.js';

after(removeTempDirs);

// eslint-disable-next-line no-control-regex
const ANSI = /\u001b\[[0-9;]*m/;

type Run = RunResult;

/** The environment without any colour setting: what a CI job or a pipe gets. */
function plainEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extra };
  for (const key of ['NO_COLOR', 'FORCE_COLOR']) if (!(key in extra)) delete env[key];
  return env;
}

/** A command installed in the project (`bin`, relative to it), run with node directly: no npx noise, output piped. */
function installedIn(project: string, bin: string, args: string[], env: NodeJS.ProcessEnv = plainEnv()): Run {
  const run = spawnSync(process.execPath, [path.join(project, bin), ...args], {
    cwd: project,
    encoding: 'utf8',
    env,
    timeout: 60_000,
  });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr, output: `${run.stdout}${run.stderr}` };
}

/** The project's own gulp CLI (gulp@5 from the registry). */
function gulpIn(project: string, args: string[], env: NodeJS.ProcessEnv = plainEnv()): Run {
  return installedIn(project, 'node_modules/gulp/bin/gulp.js', args, env);
}

/** `gulp --tasks` as data: each listed task with its description and flags. */
function listedTasks(stdout: string): Record<string, { description: string; flags: string[] }> {
  const tasks: Record<string, { description: string; flags: string[] }> = {};
  let current: { description: string; flags: string[] } | undefined;
  for (const line of stdout.split('\n')) {
    // Top-level tasks only (`├── name  description`), not the children of a series.
    const task = /^[├└]─[─┬] (\S+)(?:\s{2,}(.*))?$/.exec(line);
    if (task) {
      current = { description: task[2] ?? '', flags: [] };
      tasks[task[1]!] = current;
      continue;
    }
    const flag = /^[│ ] {3}(--\S+(?: <[^>]+>)?)\s{2,}/.exec(line);
    if (flag) current?.flags.push(flag[1]!);
    else current = undefined;
  }
  return tasks;
}

/** The text after gulp's `[hh:mm:ss] ` stamp of every line that has one. */
function logLines(run: Run): string[] {
  return run.output.split('\n').map((line) => line.replace(/^\[[^\]]*\] /, ''));
}

describe('the packed package in a plain JavaScript project (gulp 5)', function () {
  this.timeout(300_000);
  let packList: string[];
  let tarball: string;
  let project: string;

  before(() => {
    expect(existsSync(path.join(REPO, 'dist', 'index.js')), 'dist/ is built (run `npm run build` first)').to.equal(
      true,
    );
    expect(existsSync(path.join(REPO, 'schema.json')), 'schema.json is built (run `npm run build` first)').to.equal(
      true,
    );
    // dist/ is already built by `npm test`'s pretest; packing without scripts keeps the test quick.
    const out = tempDir('pack');
    const packed = npm(REPO, ['pack', '--ignore-scripts', '--json', '--pack-destination', out]);
    expect(packed.status, packed.output).to.equal(0);
    const info = JSON.parse(packed.stdout.slice(packed.stdout.indexOf('['))) as Array<{
      filename: string;
      files: Array<{ path: string }>;
    }>;
    tarball = path.join(out, info[0]!.filename);
    packList = info[0]!.files.map((file) => file.path);

    project = tempDir('pipeline');
    writeFileSync(
      path.join(project, 'package.json'),
      `${JSON.stringify({ name: 'user-site', private: true, version: '1.0.0' }, null, 2)}\n`,
    );
    const installed = npm(project, [
      'install',
      '--prefer-offline',
      '--no-audit',
      '--no-fund',
      '--save-dev',
      tarball,
      'gulp@5',
    ]);
    expect(installed.status, installed.output).to.equal(0);

    const blogMedia = 'apps/blog/app_media/blog';
    writeTree(project, {
      ...mediaFiles('apps/blog', 'blog'),
      ...mediaFiles('apps/shop', 'shop'),
      [`${blogMedia}/.env`]: 'SECRET_KEY=do-not-publish\n',
      // shop also ships a file at blog's published path: shadowed, never served.
      'apps/shop/app_media/blog/css/blog.css': "/* shop's stray copy */\n",
      'secret.txt': 'project-private\n',
      'app-media.config.json': JSON.stringify({ mediaRoot: 'public/media', apps: ['./apps/blog', './apps/shop'] }),
      'gulpfile.mjs': [
        "import fs from 'node:fs';",
        "import gulp from 'gulp';",
        "import { mediaSrc, mediaTasks, registerMediaTasks } from 'gulp-app-media';",
        '',
        'registerMediaTasks(gulp);',
        'const media = mediaTasks();',
        "export const build = gulp.series(media.link, function after(done) { fs.writeFileSync('after.txt', " +
          "fs.existsSync('public/media/blog') ? 'linked-first' : 'not-yet'); done(); });",
        "export const copyMedia = () => mediaSrc().pipe(gulp.dest('out'));",
        '',
      ].join('\n'),
      // A gulpfile in a folder with no config at all, which it names as the project (cwd: the
      // lookup would otherwise find the config of the folder above, as gulp and npm look upward).
      'noconf/gulpfile.mjs':
        "import gulp from 'gulp';\nimport { mediaSrc } from 'gulp-app-media';\n\nexport const copyMedia = () " +
        "=> mediaSrc({ cwd: '.' }).pipe(gulp.dest('out'));\n",
      'other.mjs':
        "import gulp from 'gulp';\nimport { registerMediaTasks } from " +
        "'gulp-app-media';\n\nregisterMediaTasks(gulp, { prefix: 'assets:' });\n",
    });
    // A link inside media that leads out of the app (to a project file), a link that leads nowhere,
    // and a relative link to a file of the same media folder.
    symlinkSync('../../../../../secret.txt', path.join(project, blogMedia, 'css/leak.txt'));
    symlinkSync('missing.css', path.join(project, blogMedia, 'css/gone.css'));
    symlinkSync('blog.css', path.join(project, blogMedia, 'css/alias.css'));
    expect(
      readFileSync(path.join(project, blogMedia, 'css/leak.txt'), 'utf8'),
      'the escaping link works on disk',
    ).to.equal('project-private\n');
  });

  describe('npm pack', () => {
    /** The tarball's own file list (`tar tzf`), read once for the tests that look inside it. */
    let listed: string[] | undefined;
    const tarListing = (): string[] =>
      (listed ??= spawnSync('tar', ['tzf', tarball], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean));

    it(
      'ships dist/, schema.json, package.json and README, and none of src/, test/, example/, ' +
        'scripts/, .ci/ or tsconfig',
      () => {
        expect(packList).to.include.members([
          'package.json',
          'README.md',
          'schema.json',
          'dist/index.js',
          'dist/index.d.ts',
        ]);
        const unexpected = packList.filter(
          (file) =>
            !(
              file.startsWith('dist/') ||
              ['schema.json', 'package.json', 'README.md', 'bin/app-media.js', 'bin/package.json'].includes(file) ||
              /^(LICEN[CS]E|NOTICE|CHANGELOG)(\.\w+)?$/i.test(file)
            ),
        );
        expect(unexpected, 'files outside dist/ and the docs').to.deep.equal([]);
        expect(
          packList.filter(
            (file) => /^(src|test|example|scripts|\.ci|node_modules)\//.test(file) || /tsconfig/.test(file),
          ),
        ).to.deep.equal([]);
        expect(
          packList.filter((file) => file.endsWith('.map')),
          'no source maps',
        ).to.deep.equal([]);
      },
    );

    it(
      'the tarball itself holds compiled ESM with .d.ts types and nothing of the sources or tests; ' +
        'the installed package is "type": "module"',
      () => {
        const listing = tarListing();
        expect(listing).to.include.members([
          'package/dist/index.js',
          'package/dist/index.d.ts',
          'package/package.json',
          'package/README.md',
        ]);
        expect(listing.filter((file) => /^package\/(src|test|example|bench)\//.test(file))).to.deep.equal([]);
        expect(listing.filter((file) => file.endsWith('.ts') && !file.endsWith('.d.ts'))).to.deep.equal([]);
        const installedPkg = JSON.parse(
          readFileSync(path.join(project, 'node_modules/gulp-app-media/package.json'), 'utf8'),
        ) as { type: string };
        expect(installedPkg.type).to.equal('module');
      },
    );

    it(
      '`npx gulp media:link` with a gulpfile.mjs and app-media.config.json, as the README says: ' +
        'links every app; `npx gulp --tasks` explains the task',
      () => {
        // A second site beside the first, in a folder of the same installed project (no TypeScript loader anywhere).
        const site = path.join(project, 'plain');
        writeTree(site, {
          ...mediaFiles('apps/blog', 'blog'),
          ...mediaFiles('apps/shop', 'shop'),
          'app-media.config.json': JSON.stringify({ mediaRoot: 'public/media', apps: ['./apps/blog', './apps/shop'] }),
          'gulpfile.mjs':
            "import gulp from 'gulp';\nimport { registerMediaTasks } from " +
            "'gulp-app-media';\n\nregisterMediaTasks(gulp);\n",
        });
        const run = spawnSync('npx', ['--no-install', 'gulp', 'media:link'], {
          cwd: site,
          encoding: 'utf8',
          env: { ...process.env, NO_COLOR: '1' },
        });
        expect(run.status, `${run.stdout}${run.stderr}`).to.equal(0);
        expect(run.stdout).to.match(/media:link: 2 linked in public\/media/);
        for (const name of ['blog', 'shop']) {
          const entry = path.join(site, 'public/media', name);
          expect(isLink(entry)).to.equal(true);
          expect(realpathSync(entry)).to.equal(path.join(site, 'apps', name, 'app_media', name));
        }
        expect(readdirSync(path.join(site, 'public/media/blog/css'))).to.deep.equal(['blog.css']);
        const tasks = spawnSync('npx', ['--no-install', 'gulp', '--tasks'], {
          cwd: site,
          encoding: 'utf8',
          env: { ...process.env, NO_COLOR: '1' },
        });
        expect(tasks.stdout).to.match(/media:link\s+Expose every app/);
      },
    );

    it(
      'the tarball holds schema.json, identical to the one built, ' + 'and it resolves as "gulp-app-media/schema.json"',
      () => {
        const listing = tarListing();
        expect(listing).to.include('package/schema.json');
        const installedSchema = readFileSync(path.join(project, 'node_modules/gulp-app-media/schema.json'), 'utf8');
        expect(installedSchema).to.equal(readFileSync(path.join(REPO, 'schema.json'), 'utf8'));
        const resolved = spawnSync(
          process.execPath,
          ['-e', "console.log(require.resolve('gulp-app-media/schema.json'))"],
          { cwd: project, encoding: 'utf8' },
        );
        expect(resolved.status, resolved.stderr).to.equal(0);
        expect(resolved.stdout.trim()).to.equal(path.join(project, 'node_modules/gulp-app-media/schema.json'));
      },
    );

    it('exports defineConfig, mediaSrc, find, verify, clean (and the task helpers) as functions', () => {
      const run = spawnSync(
        process.execPath,
        [
          '-e',
          "import('gulp-app-media').then(m => console.log(typeof m.defineConfig, typeof m.mediaSrc, " +
            'typeof m.find, typeof m.verify, typeof m.clean, typeof m.mediaTasks, typeof m.registerMediaTasks, ' +
            "JSON.stringify(m.defineConfig({ mediaRoot: 'x' }))))",
        ],
        { cwd: project, encoding: 'utf8' },
      );
      expect(run.status, run.stderr).to.equal(0);
      expect(run.stdout.trim()).to.equal(
        'function function function function function function function {"mediaRoot":"x"}',
      );
      const types = readFileSync(path.join(project, 'node_modules/gulp-app-media/dist/index.d.ts'), 'utf8');
      for (const name of [
        'defineConfig',
        'mediaSrc',
        'find',
        'AppMediaConfig',
        'Report',
        'AppStatus',
        'FindStatus',
        'AppMediaError',
        'AppMediaErrorCode',
      ]) {
        expect(types, `index.d.ts exports ${name}`).to.match(new RegExp(`\\b${name}\\b`));
      }
    });
  });

  describe('types for a TypeScript user (the shipped .d.ts, strict + exactOptionalPropertyTypes)', () => {
    /**
     * Both files below are checked by one run of this repo's tsc (types of node only) against the
     * installed package: a tsc start-up costs seconds. Its output names the file of each error.
     */
    const GOOD = 'user-types.mts';
    const TYPO = 'user-typo.mts';
    let checked: Run;
    before(() => {
      writeFileSync(
        path.join(project, GOOD),
        [
          'import { defineConfig, find, link, mediaSrc, mediaTasks, AppMediaError, isAppMediaError, ' +
            'type AppMediaConfig, type AppMediaErrorCode, type AppStatus, type FindStatus, ' +
            "type Report } from 'gulp-app-media';",
          "export const config: AppMediaConfig = defineConfig({ mediaRoot: 'public/media', apps: ['./apps/blog', " +
            "{ package: '@acme/gallery', name: 'gallery' }], mode: 'copy', ignore: ['.*'] });",
          "const found: FindStatus = 'shadowed';",
          'export const status: AppStatus = found;',
          "export const code: AppMediaErrorCode = 'APP_MEDIA_NO_CONFIG';",
          "export const run = async (): Promise<Report> => find({ path: 'blog/css/blog.css', cwd: '.' });",
          'export const dry = async (): Promise<number> => (await link({ dryRun: true })).apps.filter((app) ' +
            "=> app.status === 'linked').length;",
          'export const stream = mediaSrc({ since: new Date(), read: false, buffer: false, sourcemaps: true });',
          "export const name: string = mediaTasks({ prefix: 'x:' }).link.name;",
          'export const check = (error: unknown): string | undefined => (isAppMediaError(error) ' +
            '? error.code + error.hint : error instanceof AppMediaError ? error.code : undefined);',
          '// @ts-expect-error: not a mode',
          "defineConfig({ mediaRoot: 'x', mode: 'fast' });",
          '// @ts-expect-error: mediaRoot is required',
          "defineConfig({ apps: ['./apps/blog'] });",
          '// @ts-expect-error: not a status',
          "export const wrong: FindStatus = 'missing';",
          '// @ts-expect-error: not a code',
          "export const wrongCode: AppMediaErrorCode = 'APP_MEDIA_NOPE';",
          '',
        ].join('\n'),
      );
      writeFileSync(
        path.join(project, TYPO),
        [
          "import { defineConfig } from 'gulp-app-media';",
          "export const config = defineConfig({ mediaRoot: 'public/media', mediaRot: 'oops' });",
          '',
        ].join('\n'),
      );
      const run = spawnSync(
        process.execPath,
        [
          path.join(REPO, 'node_modules/typescript/bin/tsc'),
          '--noEmit',
          '--strict',
          '--exactOptionalPropertyTypes',
          '--module',
          'nodenext',
          '--moduleResolution',
          'nodenext',
          '--target',
          'es2022',
          '--typeRoots',
          path.join(REPO, 'node_modules/@types'),
          '--types',
          'node',
          '--pretty',
          'false',
          GOOD,
          TYPO,
        ],
        { cwd: project, encoding: 'utf8', timeout: 60_000 },
      );
      checked = { status: run.status, stdout: run.stdout, stderr: run.stderr, output: `${run.stdout}${run.stderr}` };
    });
    const errorsIn = (file: string): string[] =>
      checked.output.split('\n').filter((line) => line.startsWith(`${file}(`));

    it('config, options, reports, statuses and errors are typed, and wrong values are type errors', () => {
      expect(errorsIn(GOOD), checked.output).to.deep.equal([]);
      // Only the typo file failed, so tsc did run and did check.
      expect(checked.status, checked.output).to.not.equal(0);
    });

    it('defineConfig flags a misspelled field', () => {
      const errors = errorsIn(TYPO);
      expect(errors, `tsc accepted an unknown field\n${checked.output}`).to.have.length.greaterThan(0);
      expect(errors.join('\n')).to.include('mediaRot');
    });
  });

  describe('composing with gulp', () => {
    it('gulp.series(media.link, after) runs media:link to the end before the next task', () => {
      const run = gulpIn(project, ['build']);
      expect(run.status, run.output).to.equal(0);
      expect(readFileSync(path.join(project, 'after.txt'), 'utf8')).to.equal('linked-first');
      const lines = logLines(run);
      const finishedLink = lines.findIndex((line) => line.startsWith("Finished 'media:link'"));
      const startedAfter = lines.findIndex((line) => line.startsWith("Starting 'after'"));
      expect(finishedLink, run.output).to.be.greaterThan(-1);
      expect(startedAfter, run.output).to.be.greaterThan(finishedLink);
      expect(run.stdout).to.match(/media:link: 2 linked in public\/media/);
    });

    it('mediaSrc().pipe(gulp.dest("out")) writes out/<name>/... for every app, byte for byte', () => {
      const run = gulpIn(project, ['copyMedia']);
      expect(run.status, run.output).to.equal(0);
      for (const name of ['blog', 'shop']) {
        for (const rel of [`css/${name}.css`, `js/${name}.js`, `img/${name}.png`]) {
          const written = readFileSync(path.join(project, 'out', name, rel));
          expect(sha(written), `out/${name}/${rel}`).to.equal(
            sha(readFileSync(path.join(project, 'apps', name, 'app_media', name, rel))),
          );
        }
      }
      expect(readdirSync(path.join(project, 'out')).sort()).to.deep.equal(['blog', 'shop']);
      // blog's file, not shop's shadowed copy of the same path.
      expect(readFileSync(path.join(project, 'out/blog/css/blog.css'), 'utf8')).to.equal('.blog { color: teal; }\n');
    });

    it('mediaSrc leaves out dotfiles (.env), links leading out of the media folder and dangling links', () => {
      expect(existsSync(path.join(project, 'out/blog/.env')), '.env is not published').to.equal(false);
      expect(
        existsSync(path.join(project, 'out/blog/css/leak.txt')),
        'the link to secret.txt is not followed',
      ).to.equal(false);
      expect(existsSync(path.join(project, 'out/blog/css/gone.css'))).to.equal(false);
      const everything = spawnSync('grep', ['-rl', 'project-private\\|SECRET_KEY', path.join(project, 'out')], {
        encoding: 'utf8',
      });
      expect(everything.stdout, 'no secret bytes anywhere in out/').to.equal('');
      expect(readdirSync(path.join(project, 'out/blog/css')).sort()).to.deep.equal(['alias.css', 'blog.css']);
    });

    it(
      "mediaSrc serves a link to a file of the same media folder under the link's name, " + "with the target's bytes",
      () => {
        expect(readFileSync(path.join(project, 'out/blog/css/alias.css'), 'utf8')).to.equal('.blog { color: teal; }\n');
      },
    );
    /** The one run both tests below read: a mediaSrc() pipeline in a folder with no config. */
    let noConfig: Run | undefined;
    const noConfigRun = (): Run => (noConfig ??= gulpIn(project, ['--gulpfile', 'noconf/gulpfile.mjs', 'copyMedia']));

    it('a config error in a mediaSrc() pipeline fails the task (exit non-zero) instead of hanging', () => {
      const run = noConfigRun();
      expect(run.status, run.output).to.equal(1);
      expect(run.output).to.match(/'copyMedia' errored/);
      expect(run.output).to.include('no configuration found');
      expect(existsSync(path.join(project, 'noconf/out'))).to.equal(false);
    });

    it('a config error in a mediaSrc() pipeline prints the coded line and hint, no stack', () => {
      const run = noConfigRun();
      expect(run.status, run.output).to.equal(1);
      expect(run.output).to.match(/APP_MEDIA_NO_CONFIG: no configuration found/);
      expect(run.output).to.match(/hint: create app-media\.config\.json/);
      expect(run.output, 'no stack trace').not.to.match(/^\s+at /m);
    });
  });

  describe('gulp --tasks', () => {
    it(
      'lists media:link, media:clean, media:verify, media:find, media:watch and media:collect, ' +
        'each with its description and flags',
      () => {
        const run = gulpIn(project, ['--tasks']);
        expect(run.status, run.output).to.equal(0);
        expect(run.stdout).to.match(/media:link\s+Expose every app/);
        const tasks = listedTasks(run.stdout);
        expect(Object.keys(tasks)).to.include.members([
          'media:link',
          'media:clean',
          'media:verify',
          'media:find',
          'media:watch',
          'media:collect',
        ]);
        for (const task of ['link', 'clean', 'verify', 'find', 'collect']) {
          expect(tasks[`media:${task}`]!.description, `media:${task} has a description`).to.have.length.greaterThan(10);
          expect(tasks[`media:${task}`]!.flags, `media:${task} lists its flags`).to.include.members([
            '--config <file>',
            '--json',
            '--verbose',
          ]);
        }
        expect(tasks['media:link']!.flags).to.include.members([
          '--dry-run',
          '--no-prune',
          '--mode <auto|symlink|copy>',
          '--json',
          '--config <file>',
        ]);
        expect(run.stdout).to.match(/--dry-run\s+…?plan and print/);
        expect(tasks['media:clean']!.flags).to.include.members(['--dry-run', '--force']);
        expect(tasks['media:verify']!.flags).to.include('--url <base>');
        expect(tasks['media:verify']!.flags).not.to.include('--dry-run');
        expect(tasks['media:find']!.flags).to.include('--path <name/file>');
        expect(tasks['media:find']!.flags).not.to.include('--dry-run');
        expect(tasks['media:collect']!.flags).to.include.members(['--dry-run', '--strict', '--no-compress', '--json']);
        expect(tasks['media:verify']!.flags).to.include('--collect');
        // The composed functions are shown under their displayName inside the series.
        expect(run.stdout).to.match(/build[\s\S]*<series>[\s\S]*media:link[\s\S]*after/);
      },
    );

    it(
      'registerMediaTasks(gulp, { prefix: "assets:" }) names them assets:link ..., ' + 'with descriptions and flags',
      () => {
        const run = gulpIn(project, ['--gulpfile', 'other.mjs', '--tasks']);
        expect(run.status, run.output).to.equal(0);
        const tasks = listedTasks(run.stdout);
        expect(Object.keys(tasks).sort()).to.deep.equal([
          'assets:clean',
          'assets:collect',
          'assets:find',
          'assets:link',
          'assets:publish',
          'assets:verify',
          'assets:watch',
        ]);
        for (const task of Object.values(tasks)) expect(task.description).to.have.length.greaterThan(10);
        expect(tasks['assets:link']!.description).to.match(/^Expose every app/);
        expect(tasks['assets:link']!.flags).to.include('--dry-run');
        expect(tasks['assets:find']!.flags).to.include('--path <name/file>');
        const linked = gulpIn(project, ['--gulpfile', 'other.mjs', 'assets:link']);
        expect(linked.status, linked.output).to.equal(0);
        expect(linked.stdout).to.include("Starting 'assets:link'");
      },
    );
  });

  describe("gulp's logging", () => {
    it(
      '--silent prints nothing at all, for a task that passes and for one that fails (the ' +
        'exit status still tells)',
      () => {
        const passed = gulpIn(project, ['media:link', '--silent']);
        expect(passed.status).to.equal(0);
        expect(passed.stdout).to.equal('');
        expect(passed.stderr).to.equal('');
        const failed = gulpIn(project, ['media:find', '--path', 'nope/x.css', '--silent']);
        expect(failed.status).to.not.equal(0);
        expect(failed.output).to.equal('');
      },
    );

    it('-LL (--log-level: warnings and errors) hides the info lines but keeps warnings', () => {
      const all = gulpIn(project, ['media:link', '--verbose']);
      expect(all.stdout).to.match(/up-to-date\s+blog/);
      expect(all.stdout).to.match(/media:link: 2 up-to-date/);
      const quiet = gulpIn(project, ['media:link', '-LL', '--verbose']);
      expect(quiet.status, quiet.output).to.equal(0);
      expect(quiet.output).not.to.match(/up-to-date|media:link: /);
      // A shadowed file is a notice (warn level): still shown at -LL, while the found line (info) is not.
      const find = gulpIn(project, ['media:find', '--path', 'blog/css/blog.css', '-LL']);
      expect(find.status, find.output).to.equal(0);
      expect(find.output).to.match(/shadowed\s+shop/);
      expect(find.output).not.to.match(/found\s+blog/);
      const errorsOnly = gulpIn(project, ['media:find', '--path', 'blog/css/blog.css', '-L']);
      expect(errorsOnly.output).to.equal('');
    });

    it('no ANSI colour codes when the output is a pipe, even with NO_COLOR and FORCE_COLOR unset', () => {
      const env = plainEnv();
      expect(env['NO_COLOR']).to.equal(undefined);
      expect(env['FORCE_COLOR']).to.equal(undefined);
      for (const args of [
        ['media:link'],
        ['media:find', '--path', 'blog/css/blog.css'],
        ['media:find', '--path', 'blgo/css/blog.css'],
        ['--tasks'],
      ]) {
        const run = gulpIn(project, args, env);
        expect(run.output, args.join(' ')).not.to.match(ANSI);
        expect(run.output.length).to.be.greaterThan(0);
      }
    });

    it("--color forces colour on our status words (as on gulp's own output)", () => {
      const run = gulpIn(project, ['media:link', '--color', '--verbose']);
      expect(run.status, run.output).to.equal(0);
      // eslint-disable-next-line no-control-regex
      expect(run.stdout).to.match(/\u001b\[[0-9;]*mup-to-date/);
    });

    it('on a terminal our status words are coloured, and not under NO_COLOR', function () {
      const gulpBin = path.join(project, 'node_modules/gulp/bin/gulp.js');
      const onTty = (env: NodeJS.ProcessEnv): Run => {
        const run = spawnSync(
          'script',
          ['-qec', `'${process.execPath}' '${gulpBin}' media:link --verbose`, '/dev/null'],
          { cwd: project, encoding: 'utf8', env, timeout: 60_000 },
        );
        return {
          status: run.status,
          stdout: run.stdout ?? '',
          stderr: run.stderr ?? '',
          output: `${run.stdout ?? ''}${run.stderr ?? ''}`,
        };
      };
      const tty = onTty(plainEnv());
      // no `script` (util-linux) or no pty here
      if (tty.status !== 0 || !tty.stdout.includes('media:link')) this.skip();
      // eslint-disable-next-line no-control-regex
      expect(tty.stdout).to.match(/\u001b\[[0-9;]*mup-to-date/);
      const noColor = onTty(plainEnv({ NO_COLOR: '1' }));
      expect(noColor.stdout).to.match(/up-to-date\s+blog/);
      // eslint-disable-next-line no-control-regex
      expect(noColor.stdout).not.to.match(/\u001b\[[0-9;]*mup-to-date/);
    });
  });

  describe('media:find --path (through gulp, then through the packed `app-media` command)', () => {
    /**
     * `app-media find ...` as installed from the tarball (node_modules/.bin): cli.test.ts proves it prints what `gulp
     * media:find` prints.
     */
    const findCommand = (args: string[]): Run => installedIn(project, 'node_modules/.bin/app-media', ['find', ...args]);

    it("found: the serving app, the source file and its URL; shadowed: the other app's file of that path", () => {
      const run = gulpIn(project, ['media:find', '--path', 'blog/css/blog.css']);
      expect(run.status, run.output).to.equal(0);
      const found = logLines(run).find((line) => /^found\b/.test(line));
      expect(found, run.output).to.be.a('string');
      expect(found)
        .to.include('blog')
        .and.to.include('apps/blog/app_media/blog/css/blog.css')
        .and.to.include('/media/blog/css/blog.css');
      const shadowed = logLines(run).find((line) => /^shadowed\b/.test(line));
      expect(shadowed, run.output).to.be.a('string');
      expect(shadowed).to.match(/shadowed\s+shop\s+apps\/shop\/app_media\/blog\/css\/blog\.css/);
    });

    it('accepts the URL path as copied from the browser (/media/blog/css/blog.css)', () => {
      const run = findCommand(['--path', '/media/blog/css/blog.css']);
      expect(run.status, run.output).to.equal(0);
      expect(run.stdout).to.match(
        /found\s+blog\s+.*apps\/blog\/app_media\/blog\/css\/blog\.css at \/media\/blog\/css\/blog\.css/,
      );
    });

    it('not-found exits non-zero, and suggests the close app name', () => {
      const nope = findCommand(['--path', 'nope/x.css']);
      expect(nope.status).to.not.equal(0);
      expect(nope.output).to.match(/not-found\s+nope/);
      const typo = findCommand(['--path', 'blgo/css/blog.css']);
      expect(typo.status).to.not.equal(0);
      expect(typo.output).to.match(/not-found\s+blgo/);
      expect(typo.output).to.match(/did you mean blog\/css\/blog\.css/);
      const missingFile = findCommand(['--path', 'blog/css/nope.css']);
      expect(missingFile.status).to.not.equal(0);
      expect(missingFile.output).to.match(/not-found\s+blog/);
    });

    it('without --path: APP_MEDIA_BAD_FLAG with a hint, exit non-zero', () => {
      const run = findCommand([]);
      expect(run.status).to.not.equal(0);
      expect(run.output).to.match(/APP_MEDIA_BAD_FLAG: --path: /);
      expect(run.output).to.match(/hint: .*--path blog\/css\/site\.css/);
      expect(run.output, 'no stack trace').not.to.match(/^\s+at /m);
    });

    it('--json --silent prints the find Report alone on stdout', () => {
      const run = findCommand(['--path', 'blog/css/blog.css', '--json', '--silent']);
      expect(run.status, run.output).to.equal(0);
      const report = JSON.parse(run.stdout) as {
        task: string;
        failed: boolean;
        counts: Record<string, number>;
        apps: Array<Record<string, unknown>>;
      };
      expect(report.task).to.equal('find');
      expect(report.failed).to.equal(false);
      expect(report.counts).to.deep.equal({ found: 1, shadowed: 1 });
      expect(report.apps[0]).to.include({
        name: 'blog',
        status: 'found',
        source: 'apps/blog/app_media/blog/css/blog.css',
        url: '/media/blog/css/blog.css',
      });
      expect(report.apps[1]).to.include({
        name: 'shop',
        status: 'shadowed',
        source: 'apps/shop/app_media/blog/css/blog.css',
      });
      const missing = findCommand(['--path', 'nope/x.css', '--json', '--silent']);
      expect(missing.status).to.not.equal(0);
      expect((JSON.parse(missing.stdout) as { task: string; failed: boolean }).failed).to.equal(true);
    });
  });
});

/** Drains a vinyl stream. */
async function collect(stream: Readable): Promise<Vinyl[]> {
  const files: Vinyl[] = [];
  for await (const file of stream) files.push(file as Vinyl);
  return files;
}

async function streamText(contents: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of contents) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk));
  return Buffer.concat(chunks).toString('utf8');
}

describe('mediaSrc() in-process', () => {
  function project(config: unknown = { mediaRoot: 'public/media', apps: ['./apps/blog', './apps/shop'] }): string {
    const root = tempDir('media-src');
    writeTree(root, {
      ...mediaFiles('apps/blog', 'blog'),
      ...mediaFiles('apps/shop', 'shop'),
      'app-media.config.json': JSON.stringify(config),
    });
    return root;
  }

  it("file.relative is <name>/..., file.base the app's media folder parent, contents buffered by default", async () => {
    const root = project();
    const files = await collect(mediaSrc({ cwd: root }));
    expect(files.map((file) => file.relative.split(path.sep).join('/')).sort()).to.deep.equal([
      'blog/css/blog.css',
      'blog/img/blog.png',
      'blog/js/blog.js',
      'shop/css/shop.css',
      'shop/img/shop.png',
      'shop/js/shop.js',
    ]);
    const css = files.find((file) => file.basename === 'blog.css')!;
    expect(css.base).to.equal(path.join(root, 'apps/blog/app_media'));
    expect(css.cwd).to.equal(root);
    expect(css.isBuffer()).to.equal(true);
    // eslint-disable-next-line @typescript-eslint/no-base-to-string -- the contents are a Buffer (checked just above)
    expect(String(css.contents)).to.equal('.blog { color: teal; }\n');
    expect(css.stat?.isFile()).to.equal(true);
  });

  it('streams one app after the other, in config order', async () => {
    const names = async (apps: string[]): Promise<string[]> => [
      ...new Set(
        (await collect(mediaSrc({ cwd: project(), mediaRoot: 'public/media', apps }))).map(
          (file) => file.relative.split(path.sep)[0]!,
        ),
      ),
    ];
    expect(await names(['./apps/blog', './apps/shop'])).to.deep.equal(['blog', 'shop']);
    expect(await names(['./apps/shop', './apps/blog'])).to.deep.equal(['shop', 'blog']);
  });

  it('emits the files in the same order on every run, so concatenating plugins give reproducible output', async () => {
    const root = project();
    const files: Record<string, Buffer> = {};
    for (let i = 0; i < 200; i++)
      files[`apps/blog/app_media/blog/css/part${String(i).padStart(3, '0')}.css`] = Buffer.alloc(
        (i * 7919) % 60_000,
        'a',
      );
    writeTree(root, files);
    const orders = new Set<string>();
    for (let run = 0; run < 10; run++)
      orders.add((await collect(mediaSrc({ cwd: root, read: false }))).map((file) => file.relative).join('\n'));
    expect(orders.size, 'distinct orders over 10 runs').to.equal(1);
  });

  it('since: only files modified after the date', async () => {
    const root = project();
    const old = new Date('2020-01-01T00:00:00Z');
    for (const name of ['blog', 'shop']) {
      for (const rel of [`css/${name}.css`, `js/${name}.js`, `img/${name}.png`])
        utimesSync(path.join(root, 'apps', name, 'app_media', name, rel), old, old);
    }
    const fresh = new Date();
    utimesSync(path.join(root, 'apps/shop/app_media/shop/css/shop.css'), fresh, fresh);
    const since = new Date('2021-01-01T00:00:00Z');
    expect(
      (await collect(mediaSrc({ cwd: root, since }))).map((file) => file.relative.split(path.sep).join('/')),
    ).to.deep.equal(['shop/css/shop.css']);
    expect((await collect(mediaSrc({ cwd: root, since: since.getTime() }))).map((file) => file.basename)).to.deep.equal(
      ['shop.css'],
    );
    expect(await collect(mediaSrc({ cwd: root, since: Date.now() + 60_000 }))).to.deep.equal([]);
  });

  it('read: false gives null contents', async () => {
    const files = await collect(mediaSrc({ cwd: project(), read: false }));
    expect(files).to.have.length(6);
    for (const file of files) {
      expect(file.contents).to.equal(null);
      expect(file.isNull()).to.equal(true);
    }
  });

  it("buffer: false gives readable streams with the file's bytes", async () => {
    const files = await collect(mediaSrc({ cwd: project(), buffer: false }));
    expect(files).to.have.length(6);
    for (const file of files) expect(file.isStream(), file.relative).to.equal(true);
    const css = files.find((file) => file.basename === 'shop.css')!;
    expect(await streamText(css.contents as NodeJS.ReadableStream)).to.equal('.shop { color: teal; }\n');
    // Drain the others so no file handle stays open.
    await Promise.all(
      files.filter((file) => file !== css).map((file) => streamText(file.contents as NodeJS.ReadableStream)),
    );
  });

  it('sourcemaps: true puts a source map on each file', async () => {
    const files = await collect(mediaSrc({ cwd: project(), sourcemaps: true }));
    const css = files.find((file) => file.basename === 'blog.css')! as Vinyl & { sourceMap?: { sources: string[] } };
    expect(css.sourceMap, 'file.sourceMap').to.be.an('object');
    expect(css.sourceMap!.sources).to.have.length(1);
  });

  it("honours the config's ignore globs", async () => {
    const root = project({ mediaRoot: 'public/media', apps: ['./apps/blog', './apps/shop'], ignore: ['*.png', 'js'] });
    const files = await collect(mediaSrc({ cwd: root }));
    expect(files.map((file) => file.basename).sort()).to.deep.equal(['blog.css', 'shop.css']);
  });

  it('a config error (no config at all) is an "error" event carrying APP_MEDIA_NO_CONFIG', async () => {
    const root = tempDir('media-src-none');
    const stream = mediaSrc({ cwd: root });
    const [error] = (await once(stream, 'error')) as [unknown];
    expect(isAppMediaError(error), String(error)).to.equal(true);
    expect(error).to.be.instanceOf(AppMediaError);
    expect((error as AppMediaError).code).to.equal('APP_MEDIA_NO_CONFIG');
  });
});

describe('the JSON Schema and the validator: one source of truth', () => {
  let validate: ValidateFunction;
  let root: string;

  before(() => {
    const schema = JSON.parse(readFileSync(path.join(REPO, 'schema.json'), 'utf8')) as Record<string, unknown>;
    const warnings: unknown[] = [];
    const ajv = new Ajv({
      allErrors: true,
      logger: {
        log: () => undefined,
        warn: (...args: unknown[]) => warnings.push(args),
        error: (...args: unknown[]) => warnings.push(args),
      },
    });
    validate = ajv.compile(schema);
    expect(warnings, 'ajv compiles the schema without strict-mode warnings').to.deep.equal([]);
    // Folders so that a config fails on the field under test, not on a missing app.
    root = tempDir('schema');
    writeTree(root, { ...mediaFiles('apps/x', 'x'), ...mediaFiles('apps/blog', 'blog') });
  });

  /** The tool's verdict on a config written as app-media.config.json: a dry-run link, which writes nothing. */
  async function toolVerdict(cwd: string, config: unknown): Promise<{ ok: true } | { ok: false; error: unknown }> {
    writeFileSync(path.join(cwd, 'app-media.config.json'), JSON.stringify(config));
    try {
      const report = await link({ cwd, dryRun: true });
      if (report.failed) return { ok: false, error: new Error(`report failed: ${JSON.stringify(report.apps)}`) };
      return { ok: true };
    } catch (error) {
      return { ok: false, error };
    }
  }

  type Bad = { title: string; config: unknown; code: string; field?: string };
  const BASE = { mediaRoot: 'public/media' };
  /** mediaRoot and one more top-level field, whose value is refused. */
  const badField = (title: string, field: string, value: unknown, code = 'APP_MEDIA_BAD_VALUE'): Bad => ({
    title,
    config: { ...BASE, [field]: value },
    code,
    field,
  });
  /** mediaRoot and one app entry, refused at `field`. */
  const badApp = (title: string, app: unknown, field: string, code = 'APP_MEDIA_BAD_VALUE'): Bad => ({
    title,
    config: { ...BASE, apps: [app] },
    code,
    field,
  });
  const badName = (shown: string, name: unknown, code = 'APP_MEDIA_BAD_NAME'): Bad =>
    badApp(`an app name ${shown}`, { path: './apps/x', name }, 'apps[0].name', code);
  const bad: Bad[] = [
    { title: 'an array at the top level', config: [], code: 'APP_MEDIA_BAD_VALUE' },
    badField('an unknown top-level field', 'mediaRot', 'x', 'APP_MEDIA_UNKNOWN_FIELD'),
    { title: 'no mediaRoot', config: { apps: ['./apps/x'] }, code: 'APP_MEDIA_MISSING_FIELD', field: 'mediaRoot' },
    { title: 'mediaRoot ""', config: { mediaRoot: '' }, code: 'APP_MEDIA_BAD_VALUE', field: 'mediaRoot' },
    { title: 'mediaRoot "   "', config: { mediaRoot: '   ' }, code: 'APP_MEDIA_BAD_VALUE', field: 'mediaRoot' },
    { title: 'mediaRoot 42', config: { mediaRoot: 42 }, code: 'APP_MEDIA_BAD_VALUE', field: 'mediaRoot' },
    badField('mediaUrl null', 'mediaUrl', null),
    badField('$schema 1', '$schema', 1),
    badField('mode "fast"', 'mode', 'fast'),
    badField('relative "yes"', 'relative', 'yes'),
    badField('discover 1', 'discover', 1),
    badField('apps not an array', 'apps', './apps/x'),
    badApp('an app entry 42', 42, 'apps[0]'),
    {
      title: 'an app entry ""',
      config: { ...BASE, apps: ['./apps/x', ''] },
      code: 'APP_MEDIA_BAD_VALUE',
      field: 'apps[1]',
    },
    badApp('an app entry null', null, 'apps[0]'),
    badApp('an app object with both path and package', { path: './apps/x', package: 'x' }, 'apps[0]'),
    badApp('an app object with neither path nor package', { name: 'x' }, 'apps[0]'),
    badApp(
      'an app object with an unknown key',
      { path: './apps/x', nmae: 'y' },
      'apps[0].nmae',
      'APP_MEDIA_UNKNOWN_FIELD',
    ),
    badApp('an app object with path "  "', { path: '  ' }, 'apps[0].path'),
    badName('42', 42, 'APP_MEDIA_BAD_VALUE'),
    badName('"../x"', '../x'),
    badName('"a/b"', 'a/b'),
    badName('""', ''),
    badName('".hidden"', '.hidden'),
    badName('with a space', 'my app'),
    badName('of 256 characters', 'x'.repeat(256)),
    badField('mediaDirname ".."', 'mediaDirname', '..'),
    badField('mediaDirname "."', 'mediaDirname', '.'),
    badField('mediaDirname "a/b"', 'mediaDirname', 'a/b'),
    badField('mediaDirname "a\\\\b"', 'mediaDirname', 'a\\b'),
    badField('mediaDirname ""', 'mediaDirname', ''),
    badApp('an app entry\'s mediaDirname ".."', { path: './apps/x', mediaDirname: '..' }, 'apps[0].mediaDirname'),
    badField('ignore "x" (not an array)', 'ignore', 'x'),
    badField('ignore [".*", 3]', 'ignore', ['.*', 3]),
    badField('exposed [1]', 'exposed', [1]),
  ];

  for (const { title, config, code, field } of bad) {
    it(`rejects ${title}: the schema and the tool (${code})`, async () => {
      expect(validate(config), `ajv accepted ${JSON.stringify(config)}`).to.equal(false);
      const verdict = await toolVerdict(root, config);
      expect(verdict.ok, `the tool accepted ${JSON.stringify(config)}`).to.equal(false);
      const error = (verdict as { error: unknown }).error;
      expect(isAppMediaError(error), String(error)).to.equal(true);
      expect((error as AppMediaError).code).to.equal(code);
      if (field !== undefined) expect((error as AppMediaError).field).to.equal(field);
    });
  }

  it('rejects an app name "a..b": the schema and the tool', async () => {
    const config = { mediaRoot: 'public/media', apps: [{ path: './apps/x', name: 'a..b' }] };
    const verdict = await toolVerdict(root, config);
    expect(verdict.ok).to.equal(false);
    expect(((verdict as { error: unknown }).error as AppMediaError).code).to.equal('APP_MEDIA_BAD_NAME');
    expect(validate(config), 'ajv accepted a name the tool refuses').to.equal(false);
  });

  const good: Array<{
    title: string;
    config: Record<string, unknown>;
    files?: Record<string, string | Buffer>;
    gallery?: boolean;
  }> = [
    { title: 'only mediaRoot', config: { mediaRoot: 'public/media' } },
    {
      title: 'with $schema and a folder app',
      config: {
        $schema: './node_modules/gulp-app-media/schema.json',
        mediaRoot: 'public/media',
        apps: ['./apps/blog'],
      },
    },
    {
      title: 'every top-level field',
      config: {
        mediaRoot: 'public/media',
        mediaUrl: 'https://cdn.example.com/media/',
        mediaDirname: 'static',
        apps: ['./apps/site'],
        discover: false,
        mode: 'copy',
        relative: false,
        ignore: ['*.map', '.*'],
        exposed: ['*.bak'],
      },
      files: mediaFiles('apps/site', 'site', 'static'),
    },
    {
      title: 'object entries with path, name and mediaDirname, and a package',
      config: {
        mediaRoot: 'www/media',
        apps: [
          { path: './apps/blog', name: 'news', mediaDirname: 'assets' },
          { package: '@acme/gallery', name: 'a.b_c-1' },
        ],
      },
      files: mediaFiles('apps/blog', 'news', 'assets'),
      gallery: true,
    },
    {
      title: 'package entries as strings, discover, symlink mode',
      config: { mediaRoot: 'public/media', apps: ['@acme/gallery', './apps/blog'], discover: true, mode: 'symlink' },
      gallery: true,
    },
    {
      title: 'empty arrays and a dotted mediaDirname',
      config: { mediaRoot: 'public/media', apps: [], ignore: [], exposed: [], mediaDirname: 'app.media', mediaUrl: '' },
    },
    {
      title: 'relative true, mode auto, a name of 255 characters',
      config: {
        mediaRoot: 'public/media',
        relative: true,
        mode: 'auto',
        apps: [{ path: './apps/blog', name: 'b'.repeat(255) }],
      },
    },
  ];

  for (const { title, config, files, gallery } of good) {
    it(`accepts ${title}: the schema and the tool`, async () => {
      expect(validate(config), JSON.stringify(validate.errors)).to.equal(true);
      const cwd = tempDir('schema-good');
      writeTree(cwd, { ...mediaFiles('apps/blog', 'blog'), ...(files ?? {}) });
      if (gallery) {
        installPackage(cwd, '@acme/gallery', mediaFiles('.', 'gallery'), { appMedia: {} });
        writeFileSync(
          path.join(cwd, 'package.json'),
          JSON.stringify({ name: 'site', private: true, dependencies: { '@acme/gallery': '*' } }),
        );
      }
      const verdict = await toolVerdict(cwd, config);
      expect(verdict.ok, verdict.ok ? '' : String((verdict as { error: unknown }).error)).to.equal(true);
    });
  }

  it(
    'the example config is valid for the schema and for the tool, ' + 'and its "$schema" points at the schema',
    async () => {
      const exampleDir = path.join(REPO, 'example');
      const config = JSON.parse(readFileSync(path.join(exampleDir, 'app-media.config.json'), 'utf8')) as Record<
        string,
        unknown
      >;
      expect(validate(config), JSON.stringify(validate.errors)).to.equal(true);
      expect(config['$schema']).to.be.a('string');
      expect(path.resolve(exampleDir, config['$schema'] as string)).to.equal(path.join(REPO, 'schema.json'));
      const report = await link({ cwd: exampleDir, dryRun: true });
      expect(report.failed, JSON.stringify(report.apps)).to.equal(false);
    },
  );

  it("the schema's fields are exactly configFields, its app entry fields exactly appEntryFields", () => {
    const schema = JSON.parse(readFileSync(path.join(REPO, 'schema.json'), 'utf8')) as {
      properties: Record<string, { default?: unknown; enum?: unknown[] }>;
      required: string[];
      additionalProperties: boolean;
      $defs: {
        app: {
          oneOf: Array<{
            type?: string;
            properties?: Record<string, { pattern?: string; maxLength?: number }>;
            additionalProperties?: boolean;
          }>;
        };
      };
    };
    expect(Object.keys(schema.properties).sort()).to.deep.equal(Object.keys(configFields).sort());
    expect(schema.additionalProperties).to.equal(false);
    expect(schema.required).to.deep.equal(
      Object.entries(configFields)
        .filter(([, spec]) => 'required' in spec && spec.required)
        .map(([name]) => name),
    );
    expect(schema.required).to.deep.equal(['mediaRoot']);
    expect(schema.properties['mode']!.enum).to.deep.equal([...MODES]);
    for (const [name, value] of Object.entries(defaults)) {
      if (name === 'exposed') continue; // the schema's default is the user's own additions: []
      expect(schema.properties[name]!.default, `default of ${name}`).to.deep.equal(value);
    }
    const entry = schema.$defs.app.oneOf.find((branch) => branch.type === 'object')!;
    expect(Object.keys(entry.properties!).sort()).to.deep.equal([...appEntryFields].sort());
    expect(entry.additionalProperties).to.equal(false);
    expect(entry.properties!['name']!.pattern).to.equal(NAME_PATTERN.source);
  });

  it('schema.json is the build of configSchema() (not stale)', () => {
    expect(JSON.parse(readFileSync(path.join(REPO, 'schema.json'), 'utf8'))).to.deep.equal(configSchema());
  });
});

describe('defineConfig', () => {
  it('returns its argument unchanged (the same object)', () => {
    const config: AppMediaConfig = {
      mediaRoot: 'public/media',
      apps: ['./apps/blog', { package: '@acme/gallery', name: 'gallery' }],
      mode: 'copy',
    };
    const copy = JSON.parse(JSON.stringify(config)) as unknown;
    expect(defineConfig(config)).to.equal(config);
    expect(config).to.deep.equal(copy);
    // Typed as the config type: fields keep their documented types.
    const typed = defineConfig({ mediaRoot: 'x', mode: 'symlink' });
    const mode: AppMediaConfig['mode'] = typed.mode;
    expect(mode).to.equal('symlink');
  });

  it('what it types is what the tool runs: defineConfig(...) passed in code links', async () => {
    const root = tempDir('define');
    writeTree(root, mediaFiles('apps/blog', 'blog'));
    const report = await link({
      cwd: root,
      dryRun: true,
      ...defineConfig({ mediaRoot: 'public/media', apps: ['./apps/blog'] }),
    });
    expect(report.apps.map((app) => [app.name, app.status])).to.deep.equal([['blog', 'linked']]);
  });
});

describe('wantsColor', () => {
  it('colours only on a TTY, never with NO_COLOR, FORCE_COLOR=0 or --no-color', () => {
    expect(wantsColor({ isTTY: true }, {}, [])).to.equal(true);
    expect(wantsColor({ isTTY: false }, {}, [])).to.equal(false);
    expect(wantsColor({}, {}, [])).to.equal(false);
    expect(wantsColor({ isTTY: true }, { NO_COLOR: '1' }, [])).to.equal(false);
    expect(wantsColor({ isTTY: true }, { NO_COLOR: '1', FORCE_COLOR: '1' }, ['--color'])).to.equal(false);
    expect(wantsColor({ isTTY: true }, { FORCE_COLOR: '0' }, [])).to.equal(false);
    expect(wantsColor({ isTTY: true }, {}, ['node', 'gulp', '--no-color'])).to.equal(false);
    expect(wantsColor({ isTTY: false }, {}, ['node', 'gulp', '--color'])).to.equal(true);
  });
});
