/**
 * `gulp media:clean` and link's pruning as a user meets them: the real gulp
 * CLI in real temporary projects. What is checked is what a user would check:
 * the exit code, the status word on each entry's line, what is left on disk,
 * and checksums of everything that must not change. The behaviour tests run
 * once per mode.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { clean, link } from '../src/index.js';
import * as project from './support/project.js';
import type { EntrySnapshot, RunResult } from './support/project.js';

after(project.removeTempDirs);

const MODES = ['symlink', 'copy'] as const;
type LinkMode = (typeof MODES)[number];

const MEDIA = 'public/media';
const MANIFEST = `${MEDIA}/.app-media.json`;

type Entry = 'gulp' | 'command';

/** `gulp media:<task> ...` or `app-media <task> ...`, the same arguments. */
function runAs(entry: Entry, cwd: string, args: string[]): RunResult {
  return entry === 'gulp' ? project.gulp(cwd, args) : project.viaCommand(cwd, args);
}

/** Links through the `app-media` command, for a test that reads what link printed. */
function linkOk(root: string, mode: LinkMode, extra: string[] = []): RunResult {
  const run = project.appMedia(root, ['link', '--mode', mode, ...extra]);
  expect(run.status, run.output).to.equal(0);
  return run;
}

/** Everything under mediaRoot (links not followed), as plain data. */
function mediaState(root: string, skip: (rel: string) => boolean = () => false): Record<string, EntrySnapshot> {
  return Object.fromEntries(project.snapshot(path.join(root, MEDIA), { skip }));
}

function names(dir: string): string[] {
  return fs.readdirSync(dir).sort();
}

/** An npm install (`install`, `ci`) from the cache, without scripts: it must succeed. */
function npmInstall(root: string, args: string[]): void {
  const run = project.npm(root, [...args, '--prefer-offline', '--no-audit', '--no-fund', '--ignore-scripts']);
  expect(run.status, `npm ${args.join(' ')}: ${run.output}`).to.equal(0);
}

let installedWorkspace: string | undefined;

/**
 * A site with one workspace package (@acme/gallery), as `npm install` leaves it: installed once,
 * then copied for each test that needs one, npm's links as npm wrote them (an install costs seconds).
 */
function npmWorkspace(): string {
  if (installedWorkspace === undefined) {
    installedWorkspace = project.tempDir('workspace-installed');
    project.writeTree(installedWorkspace, {
      'package.json': JSON.stringify({ name: 'site', private: true, workspaces: ['packages/*'] }, null, 2),
      'packages/gallery/package.json': JSON.stringify({ name: '@acme/gallery', version: '1.0.0' }, null, 2),
      ...project.mediaFiles('packages/gallery', 'gallery'),
      'app-media.config.json': JSON.stringify({ mediaRoot: MEDIA, apps: ['@acme/gallery'] }),
    });
    npmInstall(installedWorkspace, ['install']);
  }
  const root = project.tempDir('workspace');
  fs.cpSync(installedWorkspace, root, { recursive: true, verbatimSymlinks: true, preserveTimestamps: true });
  return root;
}

/** Renames a project away for the duration of `fn`, then back (so the temp folder is still removed after the run). */
function whileMoved(root: string, fn: (moved: string) => void): void {
  const moved = `${root}-moved`;
  fs.renameSync(root, moved);
  try {
    fn(moved);
  } finally {
    fs.renameSync(moved, root);
  }
}

/**
 * Makes a folder refuse deletions inside it: read-only for a normal user, immutable for root. Undefined when not
 * possible here.
 */
function freeze(dir: string): (() => void) | undefined {
  if (process.platform !== 'linux') return undefined;
  if (process.getuid?.() !== 0) {
    fs.chmodSync(dir, 0o555);
    return () => fs.chmodSync(dir, 0o755);
  }
  const run = spawnSync('chattr', ['+i', dir], { encoding: 'utf8' });
  if (run.status !== 0) return undefined;
  return () => {
    spawnSync('chattr', ['-i', dir]);
  };
}

for (const mode of MODES) {
  // The same behaviour tests in both modes, through both entry points in turn: the gulp task in
  // symlink mode, the app-media command in copy mode (cli.test.ts proves the two print the same
  // lines and JSON and leave the same tree; one gulp start-up costs half a second).
  const entry: Entry = mode === 'symlink' ? 'gulp' : 'command';
  const runTask = (cwd: string, args: string[]): RunResult => runAs(entry, cwd, args);
  describe(`media:clean through ${entry === 'gulp' ? 'the gulp CLI' : 'the app-media command'} (${mode} mode)`, () => {
    it(
      "removes the tool's entries and never what a link leads to: app sources identical, " +
        'mediaRoot stays empty, records gone, exit 0',
      async () => {
        const root = project.makeProject({ apps: ['blog', 'shop'] });
        await project.linkedInProcess(root, { mode });
        expect(project.isLink(path.join(root, MEDIA, 'blog'))).to.equal(mode === 'symlink');
        const sources = project.projectState(path.join(root, 'apps'));
        expect(Object.keys(sources)).to.include.members([
          'blog/app_media/blog/css/blog.css',
          'shop/app_media/shop/img/shop.png',
        ]);

        const run = runTask(root, ['media:clean']);
        expect(run.status, run.output).to.equal(0);
        expect(run.stdout).to.match(project.entryLine('removed', 'blog', ` (${mode})`));
        expect(run.stdout).to.match(project.entryLine('removed', 'shop', ` (${mode})`));
        expect(run.stdout).to.match(/media:clean: 2 removed in public\/media \(\d+ ms\)/);

        expect(fs.lstatSync(path.join(root, MEDIA)).isDirectory(), 'mediaRoot stays').to.equal(true);
        expect(names(path.join(root, MEDIA)), 'mediaRoot is empty, records file included').to.deep.equal([]);
        expect(project.exists(path.join(root, MANIFEST))).to.equal(false);
        expect(project.projectState(path.join(root, 'apps')), 'every app source file is byte-identical').to.deep.equal(
          sources,
        );
      },
    );

    it(
      "lists a file, a folder, a hand-made link to an app's media and a dangling link as " +
        'foreign and leaves them byte-identical',
      async () => {
        const root = project.makeProject({ apps: ['blog', 'shop'] });
        await project.linkedInProcess(root, { mode });
        const media = path.join(root, MEDIA);
        project.writeTree(media, {
          'notes.txt': 'my notes\n',
          'downloads/report.pdf': Buffer.from([1, 2, 3]),
          'downloads/sub/a.txt': 'a',
        });
        fs.mkdirSync(path.join(media, 'downloads/empty'));
        fs.symlinkSync('../../apps/blog/app_media/blog', path.join(media, 'blog-mirror'));
        fs.symlinkSync('../../nowhere', path.join(media, 'old'));
        const own = (rel: string): boolean =>
          rel === '.app-media.json' ||
          rel === 'blog' ||
          rel.startsWith('blog/') ||
          rel === 'shop' ||
          rel.startsWith('shop/');
        const foreign = mediaState(root, own);
        expect(Object.keys(foreign)).to.include.members([
          'notes.txt',
          'downloads/sub/a.txt',
          'downloads/empty',
          'blog-mirror',
          'old',
        ]);
        const sources = project.projectState(path.join(root, 'apps'));

        const run = runTask(root, ['media:clean']);
        expect(run.status, run.output).to.equal(0);
        for (const name of ['notes.txt', 'downloads', 'blog-mirror', 'old'])
          expect(run.output).to.match(project.entryLine('foreign', name));
        expect(run.stdout).to.match(project.entryLine('removed', 'blog'));
        expect(run.stdout).to.match(/media:clean: 2 removed, 4 foreign in public\/media/);

        expect(mediaState(root), 'the foreign entries, with the same inodes and mtimes').to.deep.equal(foreign);
        expect(
          fs.readFileSync(path.join(media, 'blog-mirror/css/blog.css'), 'utf8'),
          'the hand-made link still works',
        ).to.contain('.blog');
        expect(project.projectState(path.join(root, 'apps'))).to.deep.equal(sources);
      },
    );

    it('--dry-run prints "would remove" and writes nothing', async () => {
      const root = project.makeProject({ apps: ['blog', 'shop'], files: { [`${MEDIA}/notes.txt`]: 'mine' } });
      await project.linkedInProcess(root, { mode });
      const before = project.projectState(root);
      const run = runTask(root, ['media:clean', '--dry-run']);
      expect(run.status, run.output).to.equal(0);
      expect(run.stdout).to.match(project.entryLine('would remove', 'blog'));
      expect(run.stdout).to.match(project.entryLine('would remove', 'shop'));
      expect(run.output).to.match(project.entryLine('foreign', 'notes.txt'));
      expect(run.stdout).to.match(/media:clean: dry run, nothing written: 2 would remove, 1 foreign in public\/media/);
      expect(
        project.projectState(root),
        'every file, link and folder as it was (inodes, mtimes, checksums)',
      ).to.deep.equal(before);
    });

    it('--json --silent prints the report as one JSON document: task "clean" and a status per entry', async () => {
      const root = project.makeProject({ apps: ['blog'], files: { [`${MEDIA}/notes.txt`]: 'mine' } });
      await project.linkedInProcess(root, { mode });
      const run = runTask(root, ['media:clean', '--json', '--silent']);
      expect(run.status, run.output).to.equal(0);
      const report = JSON.parse(run.stdout) as { apps: Array<Record<string, unknown>>; [key: string]: unknown };
      expect(report).to.include({ task: 'clean', dryRun: false, mediaRoot: MEDIA, failed: false });
      expect(report['counts']).to.deep.equal({ removed: 1, foreign: 1 });
      expect(report.apps.map((app) => [app['name'], app['status'], app['mode'], app['target']])).to.deep.equal([
        ['blog', 'removed', mode, `${MEDIA}/blog`],
        ['notes.txt', 'foreign', null, `${MEDIA}/notes.txt`],
      ]);
      expect(project.exists(path.join(root, MEDIA, 'blog'))).to.equal(false);
    });

    it(
      "after moving the whole project folder, clean still removes the tool's entries " + '(relative links by default)',
      async () => {
        const root = project.makeProject({ apps: ['blog', 'shop'] });
        await project.linkedInProcess(root, { mode });
        whileMoved(root, (moved) => {
          const sources = project.projectState(path.join(moved, 'apps'));
          const run = runTask(moved, ['media:clean']);
          expect(run.status, run.output).to.equal(0);
          expect(run.stdout).to.match(/media:clean: 2 removed in public\/media/);
          expect(names(path.join(moved, MEDIA))).to.deep.equal([]);
          expect(project.projectState(path.join(moved, 'apps'))).to.deep.equal(sources);
        });
      },
    );

    it(
      'after rm -rf node_modules and npm ci in a real npm workspace, ' +
        "link is up-to-date and clean removes the package app's entry",
      function () {
        this.timeout(60_000);
        const root = npmWorkspace();
        expect(
          project.isLink(path.join(root, 'node_modules/@acme/gallery')),
          'npm linked the workspace package',
        ).to.equal(true);
        project.wireGulp(root);
        const first = linkOk(root, mode);
        expect(first.stdout).to.match(
          project.entryLine(
            mode === 'symlink' ? 'linked' : 'copied',
            'gallery',
            ' -> node_modules/@acme/gallery/app_media/gallery',
          ),
        );
        const published = mediaState(root);
        const sources = project.projectState(path.join(root, 'packages'));

        fs.rmSync(path.join(root, 'node_modules'), { recursive: true });
        npmInstall(root, ['ci']);
        project.wireGulp(root);
        const again = linkOk(root, mode);
        // Quiet when nothing changed: no line for the app, the summary counts it.
        expect(again.stdout).to.not.match(project.entryLine('up-to-date', 'gallery'));
        expect(again.stdout).to.match(/media:link: 1 up-to-date in public\/media/);
        expect(mediaState(root), 'nothing rewritten').to.deep.equal(published);

        const run = runTask(root, ['media:clean']);
        expect(run.status, run.output).to.equal(0);
        expect(run.stdout).to.match(project.entryLine('removed', 'gallery', ` (${mode})`));
        expect(names(path.join(root, MEDIA))).to.deep.equal([]);
        expect(project.projectState(path.join(root, 'packages'))).to.deep.equal(sources);
      },
    );

    it(
      'clean needs no app installed: after rm -rf node_modules (not reinstalled) ' +
        "it still removes the package app's entry",
      async () => {
        const root = project.makeProject({
          apps: ['blog'],
          config: { mediaRoot: MEDIA, apps: ['./apps/blog', '@acme/gallery'] },
        });
        const source = project.installPackage(root, '@acme/gallery', project.mediaFiles('.', 'gallery'));
        await project.linkedInProcess(root, { mode });
        const sources = project.projectState(source);
        fs.rmSync(path.join(root, 'node_modules'), { recursive: true });
        project.wireGulp(root);
        expect(runTask(root, ['media:link']).status, 'the config names a package that is gone').to.not.equal(0);

        const run = runTask(root, ['media:clean']);
        expect(run.status, run.output).to.equal(0);
        expect(run.stdout).to.match(project.entryLine('removed', 'gallery'));
        expect(run.stdout).to.match(/media:clean: 2 removed in public\/media/);
        expect(names(path.join(root, MEDIA))).to.deep.equal([]);
        expect(project.projectState(source)).to.deep.equal(sources);
      },
    );

    it(
      'an app renamed in the config: link prunes the old entry and makes the new one; ' +
        '--no-prune keeps the old one',
      async () => {
        const root = project.makeProject({ apps: ['blog', 'shop'] });
        await project.linkedInProcess(root, { mode });
        // The author renames the app: its media folder follows the convention, the entry gets the new name.
        fs.renameSync(path.join(root, 'apps/blog/app_media/blog'), path.join(root, 'apps/blog/app_media/journal'));
        fs.writeFileSync(
          path.join(root, 'app-media.config.json'),
          JSON.stringify({ mediaRoot: MEDIA, apps: [{ path: './apps/blog', name: 'journal' }, './apps/shop'] }),
        );
        const sources = project.projectState(path.join(root, 'apps'));
        const oldEntry = mediaState(root, (rel) => !(rel === 'blog' || rel.startsWith('blog/')));
        expect(Object.keys(oldEntry)).to.include('blog');

        const kept = linkOk(root, mode, ['--no-prune']);
        expect(kept.output).to.not.match(/pruned/);
        expect(kept.stdout).to.match(project.entryLine(mode === 'symlink' ? 'linked' : 'copied', 'journal'));
        expect(
          mediaState(root, (rel) => !(rel === 'blog' || rel.startsWith('blog/'))),
          '--no-prune left the old entry as it was',
        ).to.deep.equal(oldEntry);

        const pruned = linkOk(root, mode);
        expect(pruned.stdout).to.match(project.entryLine('pruned', 'blog'));
        expect(pruned.stdout).to.match(/media:link: 2 up-to-date, 1 pruned in public\/media/);
        expect(names(path.join(root, MEDIA))).to.deep.equal(['.app-media.json', 'journal', 'shop']);
        expect(fs.readFileSync(path.join(root, MEDIA, 'journal/css/blog.css'), 'utf8')).to.contain('.blog');
        expect(project.projectState(path.join(root, 'apps'))).to.deep.equal(sources);
      },
    );

    for (const kind of [
      'a folder with files and an empty folder',
      "a link to the app's media with another text",
      'a dangling relative link',
    ] as const) {
      it(
        `apps removed from the config: link prunes the tool's own entry, ` +
          `never ${kind} left by hand at another removed app's name`,
        async () => {
          const root = project.makeProject({ apps: ['blog', 'shop', 'news'] });
          await project.linkedInProcess(root, { mode });
          // The user takes shop's entry over by hand; then blog and shop leave the config.
          const shop = path.join(root, MEDIA, 'shop');
          fs.rmSync(shop, { recursive: true });
          if (kind === 'a folder with files and an empty folder') {
            project.writeTree(shop, { 'index.html': '<p>shop is closed</p>\n', 'assets/mine.css': '.mine {}\n' });
            fs.mkdirSync(path.join(shop, 'uploads'));
          }
          if (kind === "a link to the app's media with another text")
            fs.symlinkSync(path.join(root, 'apps/shop/app_media/shop'), shop);
          if (kind === 'a dangling relative link') fs.symlinkSync('../../apps/shop-old/app_media/shop', shop);
          fs.writeFileSync(
            path.join(root, 'app-media.config.json'),
            JSON.stringify({ mediaRoot: MEDIA, apps: ['./apps/news'] }),
          );
          const foreign = mediaState(root, (rel) => !(rel === 'shop' || rel.startsWith('shop/')));
          const sources = project.projectState(path.join(root, 'apps'));

          const run = linkOk(root, mode);
          expect(run.stdout).to.match(project.entryLine('pruned', 'blog'));
          expect(run.output).to.not.match(/(?:^|\] )\S+\s+shop\s/m);
          expect(project.exists(path.join(root, MEDIA, 'blog'))).to.equal(false);
          expect(
            mediaState(root, (rel) => !(rel === 'shop' || rel.startsWith('shop/'))),
            'shop is byte-identical',
          ).to.deep.equal(foreign);
          expect(project.projectState(path.join(root, 'apps'))).to.deep.equal(sources);
        },
      );
    }

    it(
      'a link made by hand at mediaRoot/<app> leading to the right media folder is foreign: ' +
        'link does not claim it, clean leaves it',
      () => {
        const root = project.makeProject({ apps: ['blog', 'shop'] });
        fs.mkdirSync(path.join(root, MEDIA), { recursive: true });
        // The very text the tool would write: only the records tell them apart.
        fs.symlinkSync('../../apps/blog/app_media/blog', path.join(root, MEDIA, 'blog'));
        const handMade = mediaState(root);

        const linked = runTask(root, ['media:link', '--mode', mode]);
        expect(linked.status, linked.output).to.equal(0);
        expect(linked.stdout).to.match(project.entryLine('up-to-date', 'blog'));
        expect(mediaState(root, (rel) => rel !== 'blog')).to.deep.equal(handMade);

        const run = runTask(root, ['media:clean']);
        expect(run.status, run.output).to.equal(0);
        expect(run.output).to.match(project.entryLine('foreign', 'blog'));
        expect(run.stdout).to.match(project.entryLine('removed', 'shop'));
        expect(run.stdout).to.match(/media:clean: 1 foreign, 1 removed in public\/media/);
        expect(mediaState(root)).to.deep.equal(handMade);
      },
    );

    it(
      'an entry the tool made, replaced by hand with a link to the same folder (other text), ' + 'is foreign to clean',
      async () => {
        const root = project.makeProject({ apps: ['blog'] });
        await project.linkedInProcess(root, { mode });
        const entry = path.join(root, MEDIA, 'blog');
        fs.rmSync(entry, { recursive: true });
        fs.symlinkSync(path.join(root, 'apps/blog/app_media/blog'), entry);
        const before = mediaState(root);
        const run = runTask(root, ['media:clean']);
        expect(run.status, run.output).to.equal(0);
        expect(run.output).to.match(project.entryLine('foreign', 'blog'));
        expect(mediaState(root)).to.deep.equal(before);
      },
    );

    it(
      'the records file holds no absolute path, user name or temp folder, ' + 'also for apps outside the project',
      async () => {
        for (const relative of mode === 'symlink' ? [true, false] : [true]) {
          // A hoisted workspace: the package resolves from the parent folder's node_modules; another app is a folder
          // outside the project.
          const top = project.tempDir('workspace');
          project.installPackage(top, '@acme/gallery', project.mediaFiles('.', 'gallery'), { appMedia: {} });
          project.writeTree(top, project.mediaFiles('shared/notes', 'notes'));
          const site = path.join(top, 'site');
          project.writeTree(site, {
            ...project.mediaFiles('apps/blog', 'blog'),
            'app-media.config.json': JSON.stringify({
              mediaRoot: MEDIA,
              apps: ['./apps/blog', '@acme/gallery', '../shared/notes'],
              mode,
              relative,
            }),
          });
          const report = await link({ cwd: site });
          expect(report.apps.map((app) => [app.name, app.status])).to.deep.equal(
            ['blog', 'gallery', 'notes'].map((name) => [name, mode === 'symlink' ? 'linked' : 'copied']),
          );

          const text = fs.readFileSync(path.join(site, MANIFEST), 'utf8');
          const parsed = JSON.parse(text) as { entries: Record<string, unknown> };
          expect(Object.keys(parsed.entries), `relative: ${relative}`).to.deep.equal(['blog', 'gallery', 'notes']);
          const user = os.userInfo().username;
          for (const secret of [
            top,
            fs.realpathSync(top),
            path.basename(top),
            os.tmpdir(),
            '/tmp',
            os.homedir(),
            ...(user.length >= 3 ? [user] : []),
          ]) {
            expect(text, `relative: ${relative}: ${secret}`).to.not.contain(secret);
          }
          for (const value of strings(parsed)) {
            expect(value, `relative: ${relative}`).to.not.match(/^\/|^[A-Za-z]:[\\/]|^\\\\/);
          }
          if (relative && mode === 'symlink') {
            for (const name of ['blog', 'gallery', 'notes'])
              expect(path.isAbsolute(fs.readlinkSync(path.join(site, MEDIA, name))), name).to.equal(false);
          }
        }
      },
    );
  });
}

/** Every key and string value in a JSON value. */
function strings(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.flatMap(strings);
  if (typeof value === 'object' && value !== null)
    return Object.entries(value).flatMap(([key, inner]) => [key, ...strings(inner)]);
  return [];
}

describe('media:clean: links', () => {
  it('absolute links (relative: false) of a moved project still match their records and are removed', async () => {
    const root = project.makeProject({
      apps: ['blog', 'shop'],
      config: { mediaRoot: MEDIA, apps: ['./apps/blog', './apps/shop'], relative: false },
    });
    await project.linkedInProcess(root, { mode: 'symlink' });
    expect(fs.readlinkSync(path.join(root, MEDIA, 'blog'))).to.equal(path.join(root, 'apps/blog/app_media/blog'));
    whileMoved(root, (moved) => {
      const sources = project.projectState(path.join(moved, 'apps'));
      const run = project.gulp(moved, ['media:clean']);
      expect(run.status, run.output).to.equal(0);
      expect(run.stdout).to.match(/media:clean: 2 removed in public\/media/);
      expect(names(path.join(moved, MEDIA))).to.deep.equal([]);
      expect(project.projectState(path.join(moved, 'apps'))).to.deep.equal(sources);
    });
  });

  it('a dangling absolute link made by hand at a recorded name (to another, deleted checkout) is foreign', async () => {
    const root = project.makeProject({ apps: ['blog'] });
    await project.linkedInProcess(root, { mode: 'symlink' });
    const entry = path.join(root, MEDIA, 'blog');
    fs.rmSync(entry);
    // Not the text the tool wrote (its hash differs); it merely ends like the app's path.
    fs.symlinkSync('/srv/old-checkout/apps/blog/app_media/blog', entry);
    const before = mediaState(root);
    const run = project.gulp(root, ['media:clean']);
    expect(run.status, run.output).to.equal(0);
    expect(run.output).to.match(project.entryLine('foreign', 'blog'));
    expect(mediaState(root)).to.deep.equal(before);
  });
});

describe('media:clean: copies changed by hand (copy mode)', () => {
  // The first clean runs through gulp; the others through the command (viaCommand).
  it(
    "a file changed by hand keeps the app's copy (kept, the file named, copy untouched, " +
      'exit 0); --force removes it',
    async () => {
      const root = project.makeProject({ apps: ['blog', 'shop'] });
      await project.linkedInProcess(root, { mode: 'copy' });
      const edited = path.join(root, MEDIA, 'blog/css/blog.css');
      // Same length, other bytes: only the modification time gives it away.
      const original = fs.readFileSync(edited, 'utf8');
      const changed = original.replace('teal', 'pink');
      expect(changed.length).to.equal(original.length);
      fs.writeFileSync(edited, changed);
      const copy = mediaState(root, (rel) => !(rel === 'blog' || rel.startsWith('blog/')));

      const run = project.gulp(root, ['media:clean']);
      expect(run.status, run.output).to.equal(0);
      expect(run.output).to.match(project.entryLine('kept', 'blog', ' (copy)'));
      expect(run.output).to.match(/changed by hand.*css\/blog\.css/);
      expect(run.output).to.match(/hint: .*media:clean --force/);
      expect(run.stdout).to.match(project.entryLine('removed', 'shop'));
      expect(
        mediaState(root, (rel) => !(rel === 'blog' || rel.startsWith('blog/'))),
        'the copy is untouched',
      ).to.deep.equal(copy);
      expect(fs.readFileSync(edited, 'utf8')).to.equal(changed);

      const forced = project.viaCommand(root, ['media:clean', '--force']);
      expect(forced.status, forced.output).to.equal(0);
      expect(forced.stdout).to.match(project.entryLine('removed', 'blog', ' (copy)'));
      expect(names(path.join(root, MEDIA))).to.deep.equal([]);
    },
  );

  for (const flags of [[], ['--force']]) {
    it(
      `a file added by hand inside a copy: the tool's files and emptied folders go, ` +
        `the added file and its folders stay (kept)${flags.length > 0 ? ', also with --force' : ''}`,
      async () => {
        const root = project.makeProject({ apps: ['blog'] });
        await project.linkedInProcess(root, { mode: 'copy' });
        const copy = path.join(root, MEDIA, 'blog');
        project.writeTree(copy, { 'css/extra.css': '.extra {}\n', 'notes/todo.txt': 'mine\n' });
        const added = mediaState(
          root,
          (rel) => !['blog', 'blog/css', 'blog/css/extra.css', 'blog/notes', 'blog/notes/todo.txt'].includes(rel),
        );
        const sources = project.projectState(path.join(root, 'apps'));

        const run = project.viaCommand(root, ['media:clean', ...flags]);
        expect(run.status, run.output).to.equal(0);
        expect(run.output, flags.join(' ')).to.match(project.entryLine('kept', 'blog', ' (copy)'));
        expect(run.output)
          .to.match(/css\/extra\.css/)
          .and.match(/notes\/todo\.txt/);
        expect(names(copy), "js/ and img/ held only the tool's files and are gone").to.deep.equal(['css', 'notes']);
        expect(names(path.join(copy, 'css'))).to.deep.equal(['extra.css']);
        for (const rel of ['css', 'css/extra.css', 'notes', 'notes/todo.txt']) {
          const now = mediaState(root)[`blog/${rel}`];
          if (rel.includes('.')) expect(now, rel).to.deep.equal(added[`blog/${rel}`]);
          else expect(now?.type, rel).to.equal('dir');
        }
        expect(project.projectState(path.join(root, 'apps'))).to.deep.equal(sources);
      },
    );
  }

  for (const flags of [[], ['--force']]) {
    it(
      `a sub-folder of a copy replaced by a link to a folder outside (same names, sizes, mtimes): ` +
        `nothing outside is deleted${flags.length > 0 ? ', also with --force' : ''}`,
      async () => {
        const root = project.makeProject({ apps: ['blog'], files: { 'outside/keep.txt': 'keep\n' } });
        await project.linkedInProcess(root, { mode: 'copy' });
        const css = path.join(root, MEDIA, 'blog/css');
        // Files named and stamped exactly like the copy's, so the records would match them.
        fs.cpSync(css, path.join(root, 'outside/css'), { recursive: true, preserveTimestamps: true });
        const stamp = fs.statSync(path.join(css, 'blog.css')).mtimeMs / 1000;
        fs.utimesSync(path.join(root, 'outside/css/blog.css'), stamp, stamp);
        expect(fs.statSync(path.join(root, 'outside/css/blog.css')).size).to.equal(
          fs.statSync(path.join(css, 'blog.css')).size,
        );
        expect(Math.abs(fs.statSync(path.join(root, 'outside/css/blog.css')).mtimeMs - stamp * 1000)).to.be.lessThan(1);
        fs.renameSync(css, path.join(root, 'outside/css-was-in-copy'));
        fs.symlinkSync('../../../outside/css', css);
        const outside = project.projectState(path.join(root, 'outside'));
        const sources = project.projectState(path.join(root, 'apps'));

        const run = project.viaCommand(root, ['media:clean', ...flags]);
        expect(run.status, run.output).to.equal(0);
        expect(run.output).to.match(project.entryLine('kept', 'blog'));
        expect(project.projectState(path.join(root, 'outside')), 'the outside folder is byte-identical').to.deep.equal(
          outside,
        );
        expect(project.isLink(css), 'the link in the copy is left').to.equal(true);
        expect(project.exists(path.join(root, MEDIA, 'blog/js')), "the tool's own files are gone").to.equal(false);
        expect(project.projectState(path.join(root, 'apps'))).to.deep.equal(sources);
      },
    );
  }

  it(
    'a copy replaced as a whole by a link to an outside folder with the same files is foreign: ' +
      'nothing deleted, even with --force',
    async () => {
      const root = project.makeProject({ apps: ['blog'] });
      await project.linkedInProcess(root, { mode: 'copy' });
      const entry = path.join(root, MEDIA, 'blog');
      fs.cpSync(entry, path.join(root, 'outside'), { recursive: true, preserveTimestamps: true });
      fs.rmSync(entry, { recursive: true });
      fs.symlinkSync('../../outside', entry);
      const before = project.projectState(root);
      const run = project.viaCommand(root, ['media:clean', '--force']);
      expect(run.status, run.output).to.equal(0);
      expect(run.output).to.match(project.entryLine('foreign', 'blog'));
      expect(project.projectState(root)).to.deep.equal(before);
    },
  );

  it("a folder made by hand where the tool's copy was (its record still there) is foreign and untouched", async () => {
    const root = project.makeProject({ apps: ['blog'] });
    await project.linkedInProcess(root, { mode: 'copy' });
    const entry = path.join(root, MEDIA, 'blog');
    fs.rmSync(entry, { recursive: true });
    fs.mkdirSync(path.join(entry, 'uploads'), { recursive: true });
    const before = mediaState(root);
    const run = project.viaCommand(root, ['media:clean']);
    expect(run.status, run.output).to.equal(0);
    expect(run.output).to.match(project.entryLine('foreign', 'blog'));
    expect(mediaState(root)).to.deep.equal(before);
  });

  it(
    "--force never deletes a file of a folder made by hand where the tool's copy was, " +
      'even at a path the record lists',
    async () => {
      const root = project.makeProject({ apps: ['blog'] });
      await project.linkedInProcess(root, { mode: 'copy' });
      const entry = path.join(root, MEDIA, 'blog');
      fs.rmSync(entry, { recursive: true });
      // The user takes the URL over with a stylesheet of their own, at the path the copy had.
      project.writeTree(entry, { 'css/blog.css': '/* my own stylesheet */\n', 'index.html': '<p>mine</p>\n' });
      const before = mediaState(root);
      const run = project.viaCommand(root, ['media:clean', '--force']);
      expect(run.status, run.output).to.equal(0);
      expect(run.output).to.match(project.entryLine('foreign', 'blog'));
      expect(mediaState(root)).to.deep.equal(before);
    },
  );
  it("an empty folder the user added inside a copy stays, and so does the copy's folder", async () => {
    const root = project.makeProject({ apps: ['blog'] });
    await project.linkedInProcess(root, { mode: 'copy' });
    fs.mkdirSync(path.join(root, MEDIA, 'blog/uploads'));
    const run = project.viaCommand(root, ['media:clean']);
    expect(run.status, run.output).to.equal(0);
    expect(run.output).to.match(project.entryLine('kept', 'blog'));
    expect(fs.lstatSync(path.join(root, MEDIA, 'blog/uploads')).isDirectory()).to.equal(true);
    expect(names(path.join(root, MEDIA, 'blog'))).to.deep.equal(['uploads']);
  });
});

describe('media:clean: exit codes', () => {
  it('nothing to clean (no mediaRoot): exit 0 with a summary line, and no mediaRoot is created', () => {
    const root = project.makeProject({ apps: ['blog'] });
    const run = project.gulp(root, ['media:clean']);
    expect(run.status, run.output).to.equal(0);
    expect(run.stdout).to.match(/media:clean: .* in public\/media \(\d+ ms\)/);
    expect(project.exists(path.join(root, MEDIA))).to.equal(false);
  });

  it('a second clean finds nothing: exit 0, mediaRoot still there', async () => {
    const root = project.makeProject({ apps: ['blog'] });
    await project.linkedInProcess(root, { mode: 'symlink' });
    expect((await clean({ cwd: root })).failed).to.equal(false);
    const run = project.gulp(root, ['media:clean']);
    expect(run.status, run.output).to.equal(0);
    expect(run.stdout).to.match(/media:clean: .* in public\/media \(\d+ ms\)/);
    expect(run.stdout).to.not.match(/removed/);
    expect(fs.lstatSync(path.join(root, MEDIA)).isDirectory()).to.equal(true);
  });

  it('nothing to clean: the summary says so, not "no apps configured"', () => {
    const root = project.makeProject({ apps: ['blog'] });
    const run = project.gulp(root, ['media:clean']);
    expect(run.status, run.output).to.equal(0);
    expect(run.stdout).to.match(/media:clean: .* in public\/media/);
    expect(run.stdout).to.not.match(/no apps configured/);
  });

  it('a bad config: non-zero exit, one line with the APP_MEDIA_ code, no stack trace, nothing removed', async () => {
    const root = project.makeProject({ apps: ['blog'] });
    await project.linkedInProcess(root, { mode: 'symlink' });
    fs.writeFileSync(path.join(root, 'app-media.config.json'), JSON.stringify({ apps: ['./apps/blog'] }));
    const before = project.projectState(root);
    const run = project.gulp(root, ['media:clean']);
    expect(run.status, run.output).to.not.equal(0);
    expect(run.output)
      .to.match(/APP_MEDIA_MISSING_FIELD/)
      .and.match(/mediaRoot/)
      .and.match(/hint: /);
    expect(run.output, 'no stack trace').to.not.match(/\n\s+at /);
    expect(project.projectState(root)).to.deep.equal(before);

    const json = project.gulp(root, ['media:clean', '--json', '--silent']);
    expect(json.status).to.not.equal(0);
    const doc = JSON.parse(json.stdout) as { task: string; error: { code: string; field: string | null } };
    expect(doc).to.deep.include({ task: 'clean' });
    expect(doc.error).to.include({ code: 'APP_MEDIA_MISSING_FIELD', field: 'mediaRoot' });
  });

  it(
    'an entry that cannot be removed: that entry is an error, ' + 'the others are removed, exit non-zero',
    async function () {
      const root = project.makeProject({ apps: ['blog', 'shop'] });
      await project.linkedInProcess(root, { mode: 'copy' });
      const css = path.join(root, MEDIA, 'blog/css');
      const thaw = freeze(css);
      if (!thaw) this.skip();
      try {
        const run = project.gulp(root, ['media:clean']);
        expect(run.status, run.output).to.not.equal(0);
        expect(run.output).to.match(project.entryLine('error', 'blog'));
        expect(run.output).to.match(project.entryLine('removed', 'shop'));
        expect(run.output).to.match(/media:clean failed: blog \(error\)/);
        expect(project.exists(path.join(root, MEDIA, 'shop'))).to.equal(false);
        expect(project.exists(path.join(css, 'blog.css'))).to.equal(true);
      } finally {
        thaw();
      }
    },
  );
});

describe('clean() from code', () => {
  it('returns the report, drops records of entries already gone without a line, and removes with force', async () => {
    const root = project.makeProject({ apps: ['blog', 'shop'], gulp: false });
    await link({ cwd: root, mode: 'copy' });
    fs.rmSync(path.join(root, MEDIA, 'shop'), { recursive: true });
    fs.writeFileSync(path.join(root, MEDIA, 'blog/js/blog.js'), 'changed();\n');

    const first = await clean({ cwd: root });
    expect(first).to.include({ task: 'clean', failed: false });
    expect(first.apps.map((app) => [app.name, app.status])).to.deep.equal([['blog', 'kept']]);
    expect(first.apps[0]?.reason).to.contain('js/blog.js');
    expect(project.sha(fs.readFileSync(path.join(root, MEDIA, 'blog/js/blog.js')))).to.equal(
      project.sha('changed();\n'),
    );

    const forced = await clean({ cwd: root, force: true });
    expect(forced.apps.map((app) => [app.name, app.status])).to.deep.equal([['blog', 'removed']]);
    expect(names(path.join(root, MEDIA))).to.deep.equal([]);
  });
});
