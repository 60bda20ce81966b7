/**
 * The path a user takes: `npm pack`, install the tarball into a plain
 * JavaScript project with gulp 5, write a gulpfile.mjs and a config, run
 * `gulp media:link`. No TypeScript loader on the user's side.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { isLink, mediaFiles, REPO, removeTempDirs, tempDir, writeTree } from './support/project.js';

after(removeTempDirs);

function npm(cwd: string, args: string[]): { status: number | null; output: string; stdout: string } {
  const run = spawnSync('npm', args, { cwd, encoding: 'utf8', timeout: 240_000, env: { ...process.env, npm_config_update_notifier: 'false' } });
  return { status: run.status, stdout: run.stdout, output: `${run.stdout}${run.stderr}${run.error ? String(run.error) : ''}` };
}

describe('the packed package in a plain JavaScript project', function () {
  this.timeout(300_000);
  let tarball: string;
  let project: string;

  before(() => {
    expect(existsSync(path.join(REPO, 'dist', 'index.js')), 'dist/ is built (npm test builds it first)').to.equal(true);
    const out = tempDir('pack');
    // dist/ is already built by `npm test`'s pretest; packing without scripts keeps the test quick.
    const packed = npm(REPO, ['pack', '--ignore-scripts', '--json', '--pack-destination', out]);
    expect(packed.status, packed.output).to.equal(0);
    const info = JSON.parse(packed.stdout.slice(packed.stdout.indexOf('['))) as Array<{ filename: string; files: Array<{ path: string }> }>;
    tarball = path.join(out, info[0]!.filename);
    project = tempDir('user');
    writeFileSync(path.join(project, 'package.json'), `${JSON.stringify({ name: 'user-site', private: true, version: '1.0.0' }, null, 2)}\n`);
    const installed = npm(project, ['install', '--prefer-offline', '--no-audit', '--no-fund', '--save-dev', tarball, 'gulp@5']);
    expect(installed.status, installed.output).to.equal(0);
  });

  it('ships compiled ESM with .d.ts types and nothing of the sources or tests', () => {
    const listing = spawnSync('tar', ['tzf', tarball], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean);
    expect(listing).to.include.members(['package/dist/index.js', 'package/dist/index.d.ts', 'package/package.json', 'package/README.md']);
    expect(listing.filter((file) => /^package\/(src|test|example|bench)\//.test(file))).to.deep.equal([]);
    expect(listing.filter((file) => file.endsWith('.ts') && !file.endsWith('.d.ts'))).to.deep.equal([]);
    const installedPkg = JSON.parse(readFileSync(path.join(project, 'node_modules/gulp-app-media/package.json'), 'utf8')) as { type: string };
    expect(installedPkg.type).to.equal('module');
  });

  it('`npx gulp media:link` with a gulpfile.mjs and app-media.config.json links every app', () => {
    writeTree(project, {
      ...mediaFiles('apps/blog', 'blog'),
      ...mediaFiles('apps/shop', 'shop'),
      'app-media.config.json': JSON.stringify({ mediaRoot: 'public/media', apps: ['./apps/blog', './apps/shop'] }),
      'gulpfile.mjs': "import gulp from 'gulp';\nimport { registerMediaTasks } from 'gulp-app-media';\n\nregisterMediaTasks(gulp);\n",
    });
    const run = spawnSync('npx', ['--no-install', 'gulp', 'media:link'], { cwd: project, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
    expect(run.status, `${run.stdout}${run.stderr}`).to.equal(0);
    expect(run.stdout).to.match(/media:link: 2 linked in public\/media/);
    for (const name of ['blog', 'shop']) {
      const entry = path.join(project, 'public/media', name);
      expect(isLink(entry)).to.equal(true);
      expect(realpathSync(entry)).to.equal(path.join(project, 'apps', name, 'app_media', name));
    }
    expect(readdirSync(path.join(project, 'public/media/blog/css'))).to.deep.equal(['blog.css']);
    const tasks = spawnSync('npx', ['--no-install', 'gulp', '--tasks'], { cwd: project, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
    expect(tasks.stdout).to.match(/media:link\s+Expose every app/);
  });
});
