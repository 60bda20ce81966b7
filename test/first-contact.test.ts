/**
 * First contact (issue 24): what a new user meets in the first ten minutes.
 * Composed tasks keep the name they are exported as; a mistyped flag under
 * gulp never does a real run (and other tasks' flags still pass); the command
 * takes flags before or after the task; hints show the fix; JavaScript config
 * files. Everything through the real gulp CLI or the real `app-media` command.
 */
import { expect } from 'chai';
import { writeFileSync, mkdirSync, rmSync, readFileSync } from 'node:fs';
import path from 'node:path';
import {
  appMedia,
  exists,
  gulp,
  isLink,
  jsonReport,
  makeProject,
  projectState,
  removeTempDirs,
  tempDir,
  writeTree,
  type RunResult,
} from './support/project.js';

after(removeTempDirs);

const MEDIA = 'public/media';

/** The tasks `gulp --tasks` lists at the top level, each with its description and flags. */
function listedTasks(stdout: string): Record<string, { description: string; flags: string[] }> {
  const tasks: Record<string, { description: string; flags: string[] }> = {};
  let current: { description: string; flags: string[] } | undefined;
  for (const line of stdout.split('\n')) {
    const task = /^[├└]─[─┬] (\S+)(?:\s{2,}(.*))?$/.exec(line);
    if (task) {
      tasks[task[1]!] = current = { description: task[2] ?? '', flags: [] };
      continue;
    }
    const flag = /^[│ ] {3}(--\S+(?: <[^>]+>)?)\s{2,}/.exec(line);
    if (flag) current?.flags.push(flag[1]!);
    else current = undefined;
  }
  return tasks;
}

const COMPOSED_GULPFILE = [
  "import fs from 'node:fs';",
  "import gulp from 'gulp';",
  "import { mediaTasks, registerMediaTasks } from 'gulp-app-media';",
  '',
  'registerMediaTasks(gulp);',
  'const media = mediaTasks();',
  "const styles = (done) => { fs.writeFileSync('styles.txt', fs.existsSync('public/media/blog') " +
    "? 'after link' : 'before link'); done(); };",
  'export const build = gulp.series(media.link, styles);',
  'export const check = media.verify;',
  "export const both = gulp.parallel(media.verify, function other(done) { fs.writeFileSync('other.txt', " +
    "'ran'); done(); });",
  "const own = mediaTasks({ allowFlags: ['production'] });",
  'export const ship = own.link;',
  '',
].join('\n');

function composedProject(): string {
  const root = makeProject({ apps: ['blog', 'shop'] });
  writeFileSync(path.join(root, 'gulpfile.mjs'), COMPOSED_GULPFILE);
  return root;
}

describe('tasks from mediaTasks() under the names they are exported as (issue 24.2)', function () {
  this.timeout(60_000);
  let root: string;
  before(() => {
    root = composedProject();
  });

  it(
    '`export const check = media.verify`: `gulp check` runs media:verify as "check" (it failed ' +
      'with "Task never defined: check")',
    () => {
      const missing = gulp(root, ['check']);
      expect(missing.status, missing.output).to.equal(1);
      expect(missing.output).to.match(/Starting 'check'\.\.\./);
      expect(missing.output).to.match(/missing\s+blog\s+public\/media\/blog/);
      expect(missing.output).to.not.match(/Task never defined/);
    },
  );

  it(
    'in gulp.series: `gulp build` runs media:link (shown by that name) before the next task; ' +
      'then `gulp check` passes',
    () => {
      const build = gulp(root, ['build']);
      expect(build.status, build.output).to.equal(0);
      expect(build.output).to.match(/Starting 'media:link'\.\.\./);
      expect(readFileSync(path.join(root, 'styles.txt'), 'utf8')).to.equal('after link');
      expect(isLink(path.join(root, MEDIA, 'blog'))).to.equal(true);
      const check = gulp(root, ['check']);
      expect(check.status, check.output).to.equal(0);
      expect(check.output).to.match(/media:verify: 2 ok in public\/media/);
    },
  );

  it('in gulp.parallel: `gulp both` runs media:verify beside another task', () => {
    const both = gulp(root, ['both']);
    expect(both.status, both.output).to.equal(0);
    expect(both.output).to.match(/Starting 'media:verify'\.\.\./);
    expect(readFileSync(path.join(root, 'other.txt'), 'utf8')).to.equal('ran');
  });

  it(
    '`gulp --tasks` lists "check" and "ship" with the description and flags of the task they are, ' +
      'and media:link inside build',
    () => {
      const run = gulp(root, ['--tasks']);
      expect(run.status, run.output).to.equal(0);
      const tasks = listedTasks(run.stdout);
      expect(tasks['check']?.description).to.match(/^Check, without writing/);
      expect(tasks['check']?.flags).to.include.members(['--url <base>', '--json', '--config <file>']);
      expect(tasks['ship']?.flags).to.include('--dry-run');
      expect(tasks['media:link']?.flags).to.include('--no-prune');
      expect(run.stdout).to.match(/├─┬ build[\s\S]*media:link/);
      expect(Object.keys(tasks)).to.not.include('media:verify:check');
    },
  );
});

describe("a mistyped flag under gulp never does a real run; other tasks' flags pass (issue 24.3)", function () {
  this.timeout(60_000);

  /** A run that must stop before anything is written: exit 1, the did-you-mean line, the project unchanged. */
  function refused(root: string, args: string[], message: RegExp, hint?: RegExp): RunResult {
    const before = projectState(root);
    const run = gulp(root, args);
    expect(run.status, run.output).to.equal(1);
    expect(run.output).to.match(message);
    if (hint) expect(run.output).to.match(hint);
    expect(run.output, 'no stack trace').to.not.match(/^\s+at /m);
    expect(projectState(root), 'nothing written').to.deep.equal(before);
    return run;
  }

  it(
    'near misses of our flags stop media:link before it writes: --dryrun, --dry_run, --DryRun, ' +
      '--forse (clean), --no-prunes',
    () => {
      const root = composedProject();
      refused(
        root,
        ['media:link', '--dryrun'],
        /APP_MEDIA_BAD_FLAG: --dryrun: unknown flag --dryrun \(did you mean --dry-run\?\)/,
        /hint: it looks like a typo of --dry-run/,
      );
      refused(root, ['media:link', '--dry_run'], /did you mean --dry-run\?/);
      refused(root, ['media:link', '--DryRun'], /did you mean --dry-run\?/);
      refused(root, ['media:link', '--no-prunes'], /did you mean --no-prune\?/);
      refused(root, ['media:clean', '--forse'], /did you mean --force\?/);
    },
  );

  it(
    'a near miss stops the media task inside a series of your own too (`gulp build --dryrun`): ' +
      'the series stops, nothing written',
    () => {
      const root = composedProject();
      refused(root, ['build', '--dryrun'], /did you mean --dry-run\?/);
      expect(exists(path.join(root, 'styles.txt')), 'the rest of the series did not run').to.equal(false);
    },
  );

  it(
    'only media tasks on the command line (registered, or exported under a name of yours): ' +
      'any unknown flag stops them, and a flag of another media task',
    () => {
      const root = composedProject();
      refused(
        root,
        ['media:link', '--production'],
        /unknown flag --production: no task on the command line \(media:link\) takes it/,
        /allowFlags/,
      );
      refused(
        root,
        ['check', '--production'],
        /unknown flag --production: no task on the command line \(check\) takes it/,
      );
      refused(root, ['media:link', 'check', '--minify'], /unknown flag --minify/);
      refused(root, ['media:link', '--force'], /--force is not a flag of media:link/, /it is a flag of media:clean/);
    },
  );

  it(
    'a series of your own on the command line: its flags pass (`gulp build --production` ' + 'links and runs the rest)',
    () => {
      const root = composedProject();
      const run = gulp(root, ['build', '--production', '--env', 'staging']);
      expect(run.status, run.output).to.equal(0);
      expect(isLink(path.join(root, MEDIA, 'blog'))).to.equal(true);
      expect(readFileSync(path.join(root, 'styles.txt'), 'utf8')).to.equal('after link');
    },
  );

  it(
    'allowFlags lets a flag the gulpfile reads itself through (`gulp ship --production`); ' +
      "gulp's own flags always pass, and our flags still apply",
    () => {
      const root = composedProject();
      const dry = gulp(root, ['ship', '--production', '--series', '--continue', '--dry-run']);
      expect(dry.status, dry.output).to.equal(0);
      expect(dry.output).to.match(/dry run, nothing written: 2 would link/);
      expect(exists(path.join(root, MEDIA)), 'the dry run wrote nothing').to.equal(false);
      const silent = gulp(root, ['media:link', '--silent']);
      expect(silent.status, silent.output).to.equal(0);
      expect(silent.output).to.equal('');
      expect(isLink(path.join(root, MEDIA, 'shop'))).to.equal(true);
    },
  );
});

describe('app-media: flags before or after the task (issue 24.4)', function () {
  this.timeout(60_000);

  it(
    '`app-media --config cfg.json link` (it failed with unknown task "cfg.json"), ' +
      '`--dry-run clean`, `--json verify`',
    () => {
      const root = makeProject({
        apps: ['blog'],
        gulp: false,
        config: null,
        files: { 'cfg.json': JSON.stringify({ mediaRoot: 'www/media', apps: ['./apps/blog'] }) },
      });
      const linked = appMedia(root, ['--config', 'cfg.json', 'link']);
      expect(linked.status, linked.output).to.equal(0);
      expect(linked.stdout).to.match(/linked\s+blog\s+www\/media\/blog/);
      const before = projectState(root);
      const dry = appMedia(root, ['--dry-run', '--config=cfg.json', 'clean']);
      expect(dry.status, dry.output).to.equal(0);
      expect(dry.stdout).to.match(/would remove\s+blog/);
      expect(projectState(root)).to.deep.equal(before);
      const json = appMedia(root, ['--json', '--config', 'cfg.json', 'verify', '--silent']);
      expect(json.status, json.output).to.equal(0);
      expect(jsonReport(json).counts).to.deep.equal({ ok: 1 });
    },
  );

  it('the same strict reading before the task: an unknown flag, a flag of another task, a second task', () => {
    const root = makeProject({ apps: ['blog'], gulp: false });
    const before = projectState(root);
    const typo = appMedia(root, ['--dryrun', 'link']);
    expect(typo.status).to.equal(1);
    expect(typo.stderr).to.match(
      /^APP_MEDIA_BAD_FLAG: --dryrun: unknown flag --dryrun\n {2}hint: did you mean --dry-run\?/,
    );
    const other = appMedia(root, ['--force', 'link']);
    expect(other.stderr).to.match(/--force is not a flag of app-media link/);
    expect(other.stderr).to.match(/it is a flag of app-media clean/);
    const two = appMedia(root, ['link', 'verify']);
    expect(two.stderr).to.match(/unexpected argument "verify"/);
    const noValue = appMedia(root, ['--config', '--json', 'link']);
    expect(noValue.stderr).to.match(/--config needs a value <file>/);
    expect(projectState(root), 'nothing written').to.deep.equal(before);
  });
});

describe('hints that show the fix (issue 24.6)', function () {
  this.timeout(60_000);

  it('"apps": "./apps/blog" (a string): the hint shows "apps": ["./apps/blog"]', () => {
    const root = makeProject({ apps: ['blog'], gulp: false, config: { mediaRoot: MEDIA, apps: './apps/blog' } });
    const run = appMedia(root, ['link']);
    expect(run.status).to.equal(1);
    expect(run.stderr).to.contain(
      'APP_MEDIA_BAD_VALUE: app-media.config.json apps: expected an array of app entries, got "./apps/blog"',
    );
    expect(run.stderr).to.contain('hint: make it a list: "apps": ["./apps/blog"]');
  });

  it(
    '"apps/shop" without ./: the hint leads with "./apps/shop" (the folder exists), ' + 'never `npm install apps/shop`',
    () => {
      const root = makeProject({
        apps: ['blog', 'shop'],
        gulp: false,
        config: { mediaRoot: MEDIA, apps: ['./apps/blog', 'apps/shop'] },
      });
      const run = appMedia(root, ['link']);
      expect(run.status).to.equal(1);
      expect(run.stderr).to.match(
        /^APP_MEDIA_PACKAGE_NOT_FOUND: app-media\.config\.json apps\[1\]: package "apps\/shop" is not installed/,
      );
      expect(run.stderr).to.contain('hint: the folder apps/shop exists: write "./apps/shop"');
      expect(run.stderr).to.not.contain('npm install apps/shop');
      // No such folder: still the ./ fix first, and a word on scoped names.
      rmSync(path.join(root, 'apps/shop'), { recursive: true });
      const gone = appMedia(root, ['link']);
      expect(gone.stderr).to.contain('hint: for a folder, write "./apps/shop"');
      expect(gone.stderr).to.not.contain('npm install apps/shop');
    },
  );

  it(
    'media put straight into app_media/ (app_media/css/, the <name>/ folder forgotten): ' +
      'move them into app_media/blog/, never "name the app css"',
    () => {
      const root = makeProject({
        apps: [],
        gulp: false,
        config: { mediaRoot: MEDIA, apps: ['./apps/blog'] },
        files: { 'apps/blog/app_media/css/site.css': 'body {}\n' },
      });
      const run = appMedia(root, ['link', '--json', '--silent']);
      const blog = jsonReport(run).apps[0]!;
      expect(blog['status']).to.equal('no-media');
      expect(blog['hint']).to.equal(
        'found app_media/css: the files must sit one level deeper, ' +
          'in app_media/blog/ (the <name>/ folder is part of their URL): move them into it',
      );
      expect(String(blog['hint'])).to.not.contain('"name"');
      // A real misnaming still gets the rename hint.
      const misnamed = makeProject({
        apps: [],
        gulp: false,
        config: { mediaRoot: MEDIA, apps: ['./apps/blog'] },
        files: { 'apps/blog/app_media/blgo/site.css': 'body {}\n' },
      });
      expect(jsonReport(appMedia(misnamed, ['verify', '--json', '--silent'])).apps[0]!['hint']).to.match(
        /rename it to app_media\/blog\//,
      );
    },
  );

  it(
    '`app-media link` from a sub-folder finds the project above (as gulp and npm do); with none, ' +
      'it names every folder it searched',
    () => {
      const root = makeProject({ apps: ['blog'], gulp: false, files: { 'src/styles/site.css': '' } });
      const run = appMedia(path.join(root, 'src/styles'), ['link']);
      expect(run.status, run.output).to.equal(0);
      expect(run.stdout).to.match(/linked\s+blog\s+public\/media\/blog -> apps\/blog\/app_media\/blog/);
      expect(isLink(path.join(root, MEDIA, 'blog'))).to.equal(true);
      expect(exists(path.join(root, 'src/styles/public')), 'nothing made in the sub-folder').to.equal(false);
      // An app's own package.json (appMedia without mediaRoot) is no project: from inside the app, the project is found
      // above it.
      writeTree(root, {
        'apps/blog/package.json': JSON.stringify({ name: 'blog', appMedia: { mediaDirname: 'app_media' } }),
      });
      const fromApp = appMedia(path.join(root, 'apps/blog'), ['verify']);
      expect(fromApp.status, fromApp.output).to.equal(0);

      const lost = tempDir('no-project');
      mkdirSync(path.join(lost, 'a/b'), { recursive: true });
      const none = appMedia(path.join(lost, 'a/b'), ['link']);
      expect(none.status).to.equal(1);
      expect(none.stderr).to.contain(
        `APP_MEDIA_NO_CONFIG: no configuration found: looked for app-media.config.mjs, ` +
          `app-media.config.js, app-media.config.json, package.json "appMedia" in ${path.join(lost, 'a/b')}, ` +
          `${path.join(lost, 'a')}, ${lost}, `,
      );
      expect(none.stderr).to.match(/, \/\n/);
    },
  );

  it('--verbose is described as what it does: a line for every app, and the stack trace of an error', () => {
    const help = appMedia(tempDir('help'), ['link', '--help']);
    expect(help.stdout).to.match(
      new RegExp(
        '--verbose +a line for every app \\(link is otherwise quiet about apps that are up to date\\), ' +
          'and the stack trace of an error',
      ),
    );
    const root = makeProject({ apps: ['blog', 'shop'], gulp: false });
    appMedia(root, ['link']);
    const verbose = appMedia(root, ['link', '--verbose']);
    expect(verbose.stdout).to.match(/up-to-date\s+blog/);
    expect(verbose.stdout).to.match(/up-to-date\s+shop/);
  });
});

describe('JavaScript config files (issue 24.7)', function () {
  this.timeout(60_000);

  const DEFINE = "import { defineConfig } from 'gulp-app-media';\n";

  it(
    'app-media.config.mjs (defineConfig default export) is looked up before .js and .json; ' +
      '.js (CommonJS too) before .json',
    () => {
      const root = makeProject({
        apps: ['blog'],
        files: {
          'app-media.config.mjs':
            `${DEFINE}export default defineConfig({ mediaRoot: 'from-mjs/media', apps: ` + `['./apps/blog'] });\n`,
          'app-media.config.js': "module.exports = { mediaRoot: 'from-js/media', apps: ['./apps/blog'] };\n",
          'package.json': JSON.stringify({ name: 'site', private: true }),
        },
      });
      const mjs = appMedia(root, ['link']);
      expect(mjs.status, mjs.output).to.equal(0);
      expect(isLink(path.join(root, 'from-mjs/media/blog'))).to.equal(true);
      rmSync(path.join(root, 'app-media.config.mjs'));
      const js = appMedia(root, ['link']);
      expect(js.status, js.output).to.equal(0);
      expect(isLink(path.join(root, 'from-js/media/blog'))).to.equal(true);
      rmSync(path.join(root, 'app-media.config.js'));
      expect(appMedia(root, ['link']).status).to.equal(0);
      expect(isLink(path.join(root, MEDIA, 'blog')), 'then the JSON file').to.equal(true);
    },
  );

  it('--config takes a .mjs file, through gulp too; paths in it resolve against its folder', () => {
    const root = makeProject({
      apps: ['blog'],
      config: null,
      files: {
        'config/media.mjs':
          `${DEFINE}export default defineConfig({ mediaRoot: '../www/media', apps: ` + `['../apps/blog'] });\n`,
      },
    });
    const run = gulp(root, ['media:link', '--config', 'config/media.mjs']);
    expect(run.status, run.output).to.equal(0);
    expect(isLink(path.join(root, 'www/media/blog'))).to.equal(true);
  });

  it(
    'an error while it loads: APP_MEDIA_CONFIG_LOAD with the file and line, no stack (a throw, ' +
      'a syntax error, no default export, a bad field)',
    () => {
      const root = makeProject({ apps: ['blog'], config: null });
      const config = path.join(root, 'app-media.config.mjs');
      writeFileSync(config, "const port = 8080;\nthrow new Error('MEDIA_ROOT is not set');\nexport default {};\n");
      const thrown = appMedia(root, ['link']);
      expect(thrown.status).to.equal(1);
      expect(thrown.stderr).to.equal(
        'APP_MEDIA_CONFIG_LOAD: app-media.config.mjs:2:7: loading the config file failed: Error: MEDIA_ROOT is ' +
          'not set\n  hint: fix the error at that place in the file (run with --verbose for the stack trace)\n',
      );
      const viaGulp = gulp(root, ['media:link']);
      expect(viaGulp.status).to.equal(1);
      expect(viaGulp.output).to.contain(
        'APP_MEDIA_CONFIG_LOAD: app-media.config.mjs:2:7: loading the config file failed: Error: MEDIA_ROOT is not set',
      );
      expect(viaGulp.output, 'no stack trace').to.not.match(/^\s+at /m);
      expect(appMedia(root, ['link', '--verbose']).stderr, '--verbose shows where').to.match(
        /^\s+at .*app-media\.config\.mjs/m,
      );

      writeFileSync(config, "export default {\n  mediaRoot: 'public/media',,\n};\n");
      expect(appMedia(root, ['link']).stderr).to.match(
        /^APP_MEDIA_CONFIG_LOAD: app-media\.config\.mjs:2: loading the config file failed: SyntaxError: /,
      );
      writeFileSync(config, "export const config = { mediaRoot: 'public/media' };\n");
      expect(appMedia(root, ['link']).stderr).to.match(
        /^APP_MEDIA_CONFIG_LOAD: app-media\.config\.mjs: loading the config file failed: it has no default export/,
      );
      writeFileSync(config, `${DEFINE}export default defineConfig({ mediaRoot: 'public/media', aps: [] });\n`);
      expect(appMedia(root, ['link']).stderr).to.match(
        /^APP_MEDIA_UNKNOWN_FIELD: app-media\.config\.mjs aps: unknown field "aps" \(did you mean "apps"\?\)/,
      );
      expect(exists(path.join(root, MEDIA)), 'nothing written').to.equal(false);
    },
  );
});
