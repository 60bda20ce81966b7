/**
 * `gulp media:link` as a user runs it: the real gulp CLI in a real temporary
 * project. The behaviour tests run once per mode, through both entry points in
 * turn: the gulp task in symlink mode, the `app-media` command in copy mode
 * (cli.test.ts proves the two print the same lines and JSON, exit the same and
 * leave the same tree; a gulp start-up costs half a second).
 */
import { expect } from 'chai';
import fs from 'node:fs';
import path from 'node:path';
import { link } from '../src/index.js';
import * as project from './support/project.js';
import type { RunResult } from './support/project.js';

after(project.removeTempDirs);

const MODES = ['symlink', 'copy'] as const;

/** What a user checks: the file is served at mediaRoot/<name>/... with the app's bytes. */
function expectServed(root: string, name: string, mode: 'symlink' | 'copy'): void {
  const entry = path.join(root, 'public/media', name);
  expect(project.isLink(entry), `${name} is a link`).to.equal(mode === 'symlink');
  if (mode === 'symlink') {
    expect(fs.realpathSync(entry)).to.equal(fs.realpathSync(path.join(root, 'apps', name, 'app_media', name)));
  }
  for (const rel of [`css/${name}.css`, `js/${name}.js`, `img/${name}.png`]) {
    const served = fs.readFileSync(path.join(entry, rel));
    const source = fs.readFileSync(path.join(root, 'apps', name, 'app_media', name, rel));
    expect(project.sha(served), rel).to.equal(project.sha(source));
  }
}

for (const mode of MODES) {
  const viaGulp = mode === 'symlink';
  /** `gulp media:link ...` in symlink mode, `app-media link ...` in copy mode: the same arguments. */
  const linkRun = (cwd: string, args: string[]): RunResult =>
    viaGulp ? project.gulp(cwd, args) : project.viaCommand(cwd, args);
  describe(`media:link through ${viaGulp ? 'the gulp CLI' : 'the app-media command'} (${mode} mode)`, () => {
    it('exposes every app under mediaRoot, prints a line per app and a summary, exits 0', () => {
      const root = project.makeProject({ apps: ['blog', 'shop'] });
      const sources = project.projectState(path.join(root, 'apps'));
      const run = linkRun(root, ['media:link', '--mode', mode]);
      expect(run.status, run.output).to.equal(0);
      expectServed(root, 'blog', mode);
      expectServed(root, 'shop', mode);
      const verb = mode === 'symlink' ? 'linked' : 'copied';
      expect(run.stdout).to.match(
        new RegExp(`${verb}\\s+blog\\s+public/media/blog -> apps/blog/app_media/blog \\(${mode}`),
      );
      expect(run.stdout).to.match(new RegExp(`media:link: 2 ${verb} in public/media \\(\\d+ ms\\)`));
      expect(project.projectState(path.join(root, 'apps'))).to.deep.equal(sources);
    });

    it('a second run writes nothing and reports every app up-to-date', async () => {
      const root = project.makeProject({ apps: ['blog', 'shop'] });
      await project.linkedInProcess(root, { mode });
      const before = project.projectState(path.join(root, 'public/media'));
      const again = linkRun(root, ['media:link', '--mode', mode]);
      expect(again.status, again.output).to.equal(0);
      expect(again.stdout).to.match(/media:link: 2 up-to-date in public\/media/);
      // Same inodes and mtimes: nothing was rewritten, not even the links themselves.
      expect(project.projectState(path.join(root, 'public/media'))).to.deep.equal(before);
    });

    for (const kind of [
      'a regular file',
      'a folder with files',
      'a foreign link',
      'a dangling foreign link',
    ] as const) {
      it(`leaves ${kind} at mediaRoot/<name> untouched, links the other apps, exits non-zero`, () => {
        const root = project.makeProject({ apps: ['blog', 'shop'], files: { 'elsewhere/keep.txt': 'mine' } });
        const entry = path.join(root, 'public/media/blog');
        fs.mkdirSync(path.dirname(entry), { recursive: true });
        if (kind === 'a regular file') fs.writeFileSync(entry, 'hand-made');
        if (kind === 'a folder with files')
          project.writeTree(root, {
            'public/media/blog/index.html': '<p>mine</p>',
            'public/media/blog/sub/a.txt': 'a',
          });
        if (kind === 'a foreign link') fs.symlinkSync('../../elsewhere', entry);
        if (kind === 'a dangling foreign link') fs.symlinkSync('../../nowhere', entry);
        const before = project.projectState(root);

        const run = linkRun(root, ['media:link', '--mode', mode]);
        expect(run.status, run.output).to.not.equal(0);
        expect(run.output).to.match(/conflict\s+blog/);
        expect(run.output).to.match(/hint: /);
        expect(run.output).to.match(/media:link: 1 conflict, 1 (linked|copied)/);
        expect(run.output, 'no stack trace').to.not.match(/\n\s+at /);
        expectServed(root, 'shop', mode);

        const after = project.projectState(root);
        for (const [rel, state] of Object.entries(before)) {
          if (rel.startsWith('public/media/shop') || rel === 'public/media' || rel === 'public/media/.app-media.json')
            continue;
          expect(after[rel], rel).to.deep.equal(state);
        }
      });
    }

    it('--dry-run prints the plan and writes nothing', () => {
      const root = project.makeProject({ apps: ['blog'] });
      const before = project.projectState(root);
      const run = linkRun(root, ['media:link', '--mode', mode, '--dry-run']);
      expect(run.status, run.output).to.equal(0);
      expect(run.stdout).to.match(mode === 'symlink' ? /would link\s+blog/ : /would copy\s+blog/);
      expect(run.stdout).to.match(/dry run, nothing written/);
      expect(project.projectState(root)).to.deep.equal(before);
    });

    it('--json --silent prints the report as one JSON document', () => {
      const root = project.makeProject({ apps: ['blog'] });
      const run = linkRun(root, ['media:link', '--mode', mode, '--json', '--silent']);
      expect(run.status, run.output).to.equal(0);
      const report = JSON.parse(run.stdout) as Record<string, unknown>;
      expect(report).to.include({ task: 'link', dryRun: false, mediaRoot: 'public/media' });
      expect(report['apps']).to.deep.equal([
        {
          name: 'blog',
          status: mode === 'symlink' ? 'linked' : 'copied',
          mode,
          source: 'apps/blog/app_media/blog',
          target: 'public/media/blog',
          files: mode === 'copy' ? 3 : 0,
          bytes: mode === 'copy' ? statSize(root, 'blog') : 0,
          reason: null,
          hint: null,
        },
      ]);
    });

    it('--silent prints nothing on success', () => {
      const root = project.makeProject({ apps: ['blog'] });
      const run = linkRun(root, ['media:link', '--mode', mode, '--silent']);
      expect(run.status).to.equal(0);
      expect(run.output).to.equal('');
    });
  });
}

function statSize(root: string, name: string): number {
  const dir = path.join(root, 'apps', name, 'app_media', name);
  return [`css/${name}.css`, `js/${name}.js`, `img/${name}.png`].reduce(
    (sum, rel) => sum + fs.statSync(path.join(dir, rel)).size,
    0,
  );
}

describe('media:link: links', () => {
  it('makes relative links by default, so the project can move', () => {
    const root = project.makeProject({ apps: ['blog'], gulp: false });
    return link({ cwd: root }).then(() => {
      expect(fs.readlinkSync(path.join(root, 'public/media/blog'))).to.equal('../../apps/blog/app_media/blog');
      const moved = `${root}-moved`;
      fs.renameSync(root, moved);
      try {
        expect(fs.readFileSync(path.join(moved, 'public/media/blog/css/blog.css'), 'utf8')).to.contain('.blog');
      } finally {
        fs.renameSync(moved, root);
      }
    });
  });

  it('makes absolute links with relative: false', async () => {
    const root = project.makeProject({
      apps: ['blog'],
      gulp: false,
      config: { mediaRoot: 'public/media', apps: ['./apps/blog'], relative: false },
    });
    const report = await link({ cwd: root });
    expect(report.apps[0]?.status).to.equal('linked');
    expect(fs.readlinkSync(path.join(root, 'public/media/blog'))).to.equal(path.join(root, 'apps/blog/app_media/blog'));
  });

  it("switching relative on relinks the tool's own absolute link", async () => {
    const root = project.makeProject({ apps: ['blog'], gulp: false });
    await link({ cwd: root, relative: false });
    const report = await link({ cwd: root });
    expect(report.apps[0]).to.include({ status: 'relinked', mode: 'symlink' });
    expect(fs.readlinkSync(path.join(root, 'public/media/blog'))).to.equal('../../apps/blog/app_media/blog');
  });

  it('relinks its own link when the app moved, and its old target is left alone', async () => {
    const root = project.makeProject({
      apps: ['blog'],
      gulp: false,
      config: { mediaRoot: 'public/media', apps: ['./apps/blog'] },
    });
    await link({ cwd: root });
    // The app moves: the old link dangles; the config now names the new place.
    fs.renameSync(path.join(root, 'apps/blog'), path.join(root, 'apps/blog-v2'));
    fs.mkdirSync(path.join(root, 'apps/blog'));
    fs.writeFileSync(path.join(root, 'apps/blog/keep.txt'), 'still here');
    fs.writeFileSync(
      path.join(root, 'app-media.config.json'),
      JSON.stringify({ mediaRoot: 'public/media', apps: [{ path: './apps/blog-v2', name: 'blog' }] }),
    );
    const report = await link({ cwd: root });
    expect(report.apps[0]).to.include({ status: 'relinked', reason: 'its link was dangling' });
    expect(fs.readlinkSync(path.join(root, 'public/media/blog'))).to.equal('../../apps/blog-v2/app_media/blog');
    expect(fs.readFileSync(path.join(root, 'apps/blog/keep.txt'), 'utf8')).to.equal('still here');
  });

  it('a link made by hand that already leads to the app is left as it is (up-to-date, not claimed)', async () => {
    const root = project.makeProject({ apps: ['blog'], gulp: false });
    fs.mkdirSync(path.join(root, 'public/media'), { recursive: true });
    fs.symlinkSync(path.join(root, 'apps/blog/app_media/blog'), path.join(root, 'public/media/blog'));
    const ino = fs.lstatSync(path.join(root, 'public/media/blog')).ino;
    const report = await link({ cwd: root });
    expect(report.apps[0]?.status).to.equal('up-to-date');
    expect(fs.lstatSync(path.join(root, 'public/media/blog')).ino).to.equal(ino);
    expect(project.exists(path.join(root, 'public/media/.app-media.json'))).to.equal(false);
  });

  it('creates a missing mediaRoot, and works when mediaRoot is itself a symlink', async () => {
    const root = project.makeProject({ apps: ['blog'], gulp: false, files: { 'srv/media/.keep': '' } });
    fs.mkdirSync(path.join(root, 'public'));
    fs.symlinkSync('../srv/media', path.join(root, 'public/media'));
    const report = await link({ cwd: root });
    expect(report.apps[0]?.status).to.equal('linked');
    expect(fs.readFileSync(path.join(root, 'public/media/blog/css/blog.css'), 'utf8')).to.contain('.blog');
    expect(project.isLink(path.join(root, 'srv/media/blog'))).to.equal(true);
    expect(fs.readlinkSync(path.join(root, 'srv/media/blog'))).to.equal('../../apps/blog/app_media/blog');
  });

  it('links package apps (scoped name dropped) through node_modules, and their own mediaDirname', async () => {
    const root = project.makeProject({
      apps: ['blog'],
      gulp: false,
      config: { mediaRoot: 'public/media', apps: ['./apps/blog', '@acme/gallery'] },
    });
    const { installPackage } = await import('./support/project.js');
    installPackage(root, '@acme/gallery', project.mediaFiles('.', 'gallery', 'assets'), {
      appMedia: { mediaDirname: 'assets' },
    });
    const report = await link({ cwd: root });
    expect(report.apps.map((app) => [app.name, app.status, app.source])).to.deep.equal([
      ['blog', 'linked', 'apps/blog/app_media/blog'],
      ['gallery', 'linked', 'node_modules/@acme/gallery/assets/gallery'],
    ]);
    expect(fs.readFileSync(path.join(root, 'public/media/gallery/css/gallery.css'), 'utf8')).to.contain('.gallery');
  });

  it('reports no-media with a hint when a sibling folder looks like a misnaming', async () => {
    const root = project.makeProject({
      apps: [],
      gulp: false,
      config: { mediaRoot: 'public/media', apps: ['./apps/blog', './apps/shop'] },
    });
    project.writeTree(root, project.mediaFiles('apps/blog', 'Blog'));
    project.writeTree(root, project.mediaFiles('apps/shop', 'shop', 'static'));
    const report = await link({ cwd: root });
    expect(report.failed).to.equal(false);
    expect(report.apps.map((app) => app.status)).to.deep.equal(['no-media', 'no-media']);
    expect(report.apps[0]?.hint).to.contain('found app_media/Blog').and.contain('rename it to app_media/blog/');
    expect(report.apps[1]?.hint).to.contain('found static/shop').and.contain('"mediaDirname": "static"');
    expect(project.exists(path.join(root, 'public/media')), 'nothing to make, so no mediaRoot').to.equal(false);
  });

  it('snapshot helper sees a changed byte (the checks above can fail)', () => {
    const root = project.makeProject({ apps: ['blog'], gulp: false });
    const before = project.snapshot(path.join(root, 'apps'));
    fs.writeFileSync(path.join(root, 'apps/blog/app_media/blog/css/blog.css'), '.blog { color: red; }\n');
    expect(Object.fromEntries(project.snapshot(path.join(root, 'apps')))).to.not.deep.equal(Object.fromEntries(before));
  });
});
