/**
 * Where the config comes from, how app names and media folders are decided,
 * and every refusal of bad input: a coded one-line message naming the file and
 * field, a non-zero exit, and the project byte-identical afterwards.
 */
import { expect } from 'chai';
import { mkdirSync, readlinkSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { AppMediaError, link } from '../src/index.js';
import {
  appMedia,
  exists,
  gulp,
  installPackage,
  makeProject,
  mediaFiles,
  projectState,
  removeTempDirs,
  tempDir,
  writeTree,
} from './support/project.js';

after(removeTempDirs);

const linkedNames = async (cwd: string, options = {}): Promise<string[]> =>
  (await link({ cwd, ...options })).apps.filter((app) => app.status === 'linked').map((app) => app.name);

describe('config lookup', () => {
  it('reads app-media.config.json in the project root', async () => {
    const root = makeProject({ apps: ['blog'], gulp: false });
    expect(await linkedNames(root)).to.deep.equal(['blog']);
  });

  it('reads "appMedia" in package.json when there is no config file', async () => {
    const root = makeProject({ apps: ['blog'], gulp: false, config: null });
    writeFileSync(
      path.join(root, 'package.json'),
      JSON.stringify({ name: 'site', appMedia: { mediaRoot: 'www/media', apps: ['./apps/blog'] } }),
    );
    expect(await linkedNames(root)).to.deep.equal(['blog']);
    expect(exists(path.join(root, 'www/media/blog'))).to.equal(true);
  });

  it('prefers options passed in code over the files, resolving their paths against cwd', async () => {
    const root = makeProject({ apps: ['blog', 'shop'], gulp: false });
    expect(await linkedNames(root, { mediaRoot: 'code/media', apps: ['./apps/shop'] })).to.deep.equal(['shop']);
    expect(exists(path.join(root, 'code/media/shop'))).to.equal(true);
    expect(exists(path.join(root, 'public/media'))).to.equal(false);
  });

  it('--config <file> wins over everything, and paths resolve against that file', () => {
    const root = makeProject({ apps: ['blog', 'shop'] });
    writeTree(root, { 'config/media.json': JSON.stringify({ mediaRoot: '../dist/media', apps: ['../apps/shop'] }) });
    const run = gulp(root, ['media:link', '--config', 'config/media.json']);
    expect(run.status, run.output).to.equal(0);
    expect(readlinkSync(path.join(root, 'dist/media/shop'))).to.equal('../../apps/shop/app_media/shop');
    expect(exists(path.join(root, 'public/media')), 'the default config was not used').to.equal(false);
  });

  it("command-line --mode overrides the config file's mode", () => {
    const root = makeProject({
      apps: ['blog'],
      config: { mediaRoot: 'public/media', apps: ['./apps/blog'], mode: 'copy' },
    });
    const run = gulp(root, ['media:link', '--mode', 'symlink']);
    expect(run.status, run.output).to.equal(0);
    expect(readlinkSync(path.join(root, 'public/media/blog'))).to.equal('../../apps/blog/app_media/blog');
  });
});

describe('app names and media folders', () => {
  it('mediaDirname: the entry wins, then the app\'s package.json, then the project, then "app_media"', async () => {
    const root = makeProject({
      apps: [],
      gulp: false,
      config: {
        mediaRoot: 'public/media',
        mediaDirname: 'project_media',
        apps: [{ path: './apps/one', mediaDirname: 'entry_media' }, './apps/two', './apps/three'],
      },
    });
    // one: all four levels present, the entry wins
    writeTree(root, mediaFiles('apps/one', 'one', 'entry_media'));
    writeFileSync(
      path.join(root, 'apps/one/package.json'),
      JSON.stringify({ name: 'one', appMedia: { mediaDirname: 'pkg_media' } }),
    );
    writeTree(root, mediaFiles('apps/one', 'one', 'pkg_media'));
    // two: its package.json beats the project default
    writeTree(root, mediaFiles('apps/two', 'two', 'pkg_media'));
    writeTree(root, mediaFiles('apps/two', 'two', 'project_media'));
    writeFileSync(
      path.join(root, 'apps/two/package.json'),
      JSON.stringify({ name: 'two', appMedia: { mediaDirname: 'pkg_media' } }),
    );
    // three: nothing of its own, the project's default applies
    writeTree(root, mediaFiles('apps/three', 'three', 'project_media'));
    writeTree(root, mediaFiles('apps/three', 'three', 'app_media'));
    const report = await link({ cwd: root });
    expect(report.apps.map((app) => app.source)).to.deep.equal([
      'apps/one/entry_media/one',
      'apps/two/pkg_media/two',
      'apps/three/project_media/three',
    ]);
    // and with no project default, "app_media"
    writeFileSync(
      path.join(root, 'app-media.config.json'),
      JSON.stringify({ mediaRoot: 'other/media', apps: ['./apps/three'] }),
    );
    expect((await link({ cwd: root })).apps[0]?.source).to.equal('apps/three/app_media/three');
  });

  it("names: the entry's name, then appMedia.name, then the package name without scope, then the folder", async () => {
    const root = makeProject({
      apps: [],
      gulp: false,
      config: {
        mediaRoot: 'public/media',
        apps: [{ path: './apps/a', name: 'alpha' }, './apps/b', './apps/c', './apps/d'],
      },
    });
    writeTree(root, {
      ...mediaFiles('apps/a', 'alpha'),
      ...mediaFiles('apps/b', 'beta'),
      ...mediaFiles('apps/c', 'gamma'),
      ...mediaFiles('apps/d', 'd'),
    });
    writeFileSync(
      path.join(root, 'apps/a/package.json'),
      JSON.stringify({ name: 'ignored', appMedia: { name: 'ignored-too' } }),
    );
    writeFileSync(
      path.join(root, 'apps/b/package.json'),
      JSON.stringify({ name: '@x/ignored', appMedia: { name: 'beta' } }),
    );
    writeFileSync(path.join(root, 'apps/c/package.json'), JSON.stringify({ name: '@acme/gamma' }));
    expect(await linkedNames(root)).to.deep.equal(['alpha', 'beta', 'gamma', 'd']);
  });

  it('discover: takes dependencies that declare "appMedia", and only those', async () => {
    const root = makeProject({ apps: [], gulp: false, config: { mediaRoot: 'public/media', discover: true } });
    writeFileSync(
      path.join(root, 'package.json'),
      JSON.stringify({
        name: 'site',
        dependencies: { '@acme/gallery': '1', plain: '1' },
        devDependencies: { '@acme/tools': '1' },
      }),
    );
    installPackage(root, '@acme/gallery', mediaFiles('.', 'gallery'), { appMedia: {} });
    installPackage(root, '@acme/tools', mediaFiles('.', 'tools'), { appMedia: { name: 'tools' } });
    installPackage(root, 'plain', mediaFiles('.', 'plain'));
    expect(await linkedNames(root)).to.deep.equal(['gallery', 'tools']);
  });

  it("resolves a package from a parent folder's node_modules, as Node would (hoisted workspaces)", async () => {
    const top = tempDir('workspace');
    installPackage(top, '@acme/gallery', mediaFiles('.', 'gallery'), { appMedia: {} });
    const site = path.join(top, 'site');
    writeTree(site, {
      'app-media.config.json': JSON.stringify({ mediaRoot: 'public/media', apps: ['@acme/gallery'] }),
    });
    const report = await link({ cwd: site });
    expect(report.apps[0]).to.include({
      name: 'gallery',
      status: 'linked',
      source: '../node_modules/@acme/gallery/app_media/gallery',
    });
    // The link leads through the real path, so it works from the real media root.
    expect(readlinkSync(path.join(site, 'public/media/gallery'))).to.equal(
      '../../../packages/gallery/app_media/gallery',
    );
  });
});

interface BadCase {
  title: string;
  code: string;
  /** What the one-line message must name (the file and field at fault). */
  names: RegExp[];
  setup: (root: string) => void;
  env?: (root: string) => NodeJS.ProcessEnv;
  args?: string[];
}

const write = (root: string, config: unknown): void =>
  writeFileSync(path.join(root, 'app-media.config.json'), JSON.stringify(config, null, 2));

const BAD: BadCase[] = [
  {
    title: 'no mediaRoot',
    code: 'APP_MEDIA_MISSING_FIELD',
    names: [/app-media\.config\.json/, /mediaRoot/],
    setup: (root) => write(root, { apps: ['./apps/blog'] }),
  },
  {
    title: 'an unknown field, with the nearest known one',
    code: 'APP_MEDIA_UNKNOWN_FIELD',
    names: [/app-media\.config\.json/, /mediaroot/, /did you mean "mediaRoot"/],
    setup: (root) => write(root, { mediaroot: 'public/media', apps: ['./apps/blog'] }),
  },
  {
    title: 'malformed JSON, with line and column',
    code: 'APP_MEDIA_BAD_JSON',
    names: [/app-media\.config\.json:3:1/, /line 3 column 1/],
    setup: (root) => writeFileSync(path.join(root, 'app-media.config.json'), '{\n  "mediaRoot": "public/media",\n}\n'),
  },
  {
    title: 'an app path that does not exist',
    code: 'APP_MEDIA_APP_NOT_FOUND',
    names: [/app-media\.config\.json/, /apps\[1\]/, /apps\/nope/],
    setup: (root) => write(root, { mediaRoot: 'public/media', apps: ['./apps/blog', './apps/nope'] }),
  },
  {
    title: 'a package that is not installed',
    code: 'APP_MEDIA_PACKAGE_NOT_FOUND',
    names: [/apps\[0\]/, /@acme\/missing/, /npm install @acme\/missing/],
    setup: (root) => write(root, { mediaRoot: 'public/media', apps: ['@acme/missing'] }),
  },
  {
    title: 'two apps with one name',
    code: 'APP_MEDIA_DUPLICATE_NAME',
    names: [/"blog"/, /\.\/apps\/blog \(apps\[0\]\)/, /\.\/other\/blog \(apps\[1\]\)/],
    setup: (root) => {
      writeTree(root, mediaFiles('other/blog', 'blog'));
      write(root, { mediaRoot: 'public/media', apps: ['./apps/blog', './other/blog'] });
    },
  },
  {
    title: 'a name with ".."',
    code: 'APP_MEDIA_BAD_NAME',
    names: [/apps\[0\]\.name/, /"\.\.\/evil"|"\.\.evil"/],
    setup: (root) => write(root, { mediaRoot: 'public/media', apps: [{ path: './apps/blog', name: '..evil' }] }),
  },
  {
    title: 'a name with "/"',
    code: 'APP_MEDIA_BAD_NAME',
    names: [/apps\[0\]\.name/, /path separator/],
    setup: (root) => write(root, { mediaRoot: 'public/media', apps: [{ path: './apps/blog', name: 'a/b' }] }),
  },
  {
    title: "mediaRoot inside an app's media folder",
    code: 'APP_MEDIA_LOOP',
    names: [/mediaRoot/, /apps\/blog\/app_media\/blog/],
    setup: (root) => write(root, { mediaRoot: 'apps/blog/app_media/blog/media', apps: ['./apps/blog'] }),
  },
  {
    title: 'mediaRoot equal to the project root',
    code: 'APP_MEDIA_UNSAFE_MEDIA_ROOT',
    names: [/mediaRoot/, /project root/],
    setup: (root) => write(root, { mediaRoot: '.', apps: ['./apps/blog'] }),
  },
  {
    title: 'mediaRoot equal to the home folder',
    code: 'APP_MEDIA_UNSAFE_MEDIA_ROOT',
    names: [/mediaRoot/, /home folder/],
    setup: (root) => {
      mkdirSync(path.join(root, 'home'));
      write(root, { mediaRoot: path.join(root, 'home'), apps: ['./apps/blog'] });
    },
    env: (root) => ({ HOME: path.join(root, 'home') }),
  },
  {
    title: 'mediaRoot "/"',
    code: 'APP_MEDIA_UNSAFE_MEDIA_ROOT',
    names: [/mediaRoot/, /root of a file system/],
    setup: (root) => write(root, { mediaRoot: '/', apps: ['./apps/blog'] }),
  },
  {
    title: 'an invalid mode',
    code: 'APP_MEDIA_BAD_VALUE',
    names: [/app-media\.config\.json/, /mode/, /"auto", "symlink", "copy"/],
    setup: (root) => write(root, { mediaRoot: 'public/media', apps: ['./apps/blog'], mode: 'hardlink' }),
  },
  {
    title: 'an invalid --mode flag',
    code: 'APP_MEDIA_BAD_FLAG',
    names: [/--mode/, /auto, symlink, copy/],
    setup: () => undefined,
    args: ['--mode', 'hardlink'],
  },
];

describe('bad input is refused before anything is touched (gulp CLI and the app-media command, in turn)', () => {
  for (const [index, bad] of BAD.entries()) {
    // Every other case through the command: cli.test.ts proves both print the same error lines.
    const entry = index % 2 === 0 ? 'gulp' : 'command';
    it(`${bad.title}: ${bad.code} (${entry})`, () => {
      const root = makeProject({ apps: ['blog'] });
      // Something already in mediaRoot must survive too.
      writeTree(root, { 'public/media/readme.txt': 'hand-made' });
      bad.setup(root);
      const before = projectState(root);
      const run =
        entry === 'gulp'
          ? gulp(root, ['media:link', ...(bad.args ?? [])], bad.env?.(root) ?? {})
          : appMedia(root, ['link', ...(bad.args ?? [])], bad.env?.(root) ?? {});
      expect(run.status, run.output).to.not.equal(0);
      const line = run.output.split('\n').find((text) => text.includes(bad.code));
      expect(line, run.output).to.be.a('string');
      for (const pattern of bad.names) expect(run.output).to.match(pattern);
      expect(run.output).to.match(/hint: \S/);
      expect(run.output, 'no stack trace without --verbose').to.not.match(/\n\s+at /);
      expect(projectState(root)).to.deep.equal(before);
    });
  }

  it('--verbose adds the stack trace', () => {
    const root = makeProject({ apps: ['blog'], config: { apps: [] } });
    const run = gulp(root, ['media:link', '--verbose']);
    expect(run.status).to.not.equal(0);
    expect(run.output)
      .to.match(/APP_MEDIA_MISSING_FIELD/)
      .and.match(/\n\s+at /);
  });

  it('the API rejects with an AppMediaError carrying code, hint, file and field', async () => {
    const root = makeProject({
      apps: ['blog'],
      gulp: false,
      config: { mediaRoot: 'public/media', apps: ['./apps/blog'], relatve: false },
    });
    const error = await link({ cwd: root }).then(
      () => undefined,
      (caught: unknown) => caught,
    );
    expect(error).to.be.instanceOf(AppMediaError);
    expect(error).to.include({ code: 'APP_MEDIA_UNKNOWN_FIELD', file: 'app-media.config.json', field: 'relatve' });
    expect((error as AppMediaError).hint).to.equal('rename it to "relative"');
  });

  it('an unresolvable package with no config at all: APP_MEDIA_NO_CONFIG names what it looked for', async () => {
    const root = makeProject({ apps: [], gulp: false, config: null });
    const error = await link({ cwd: root }).catch((caught: unknown) => caught);
    expect(error).to.include({ code: 'APP_MEDIA_NO_CONFIG' });
    expect((error as Error).message)
      .to.contain('app-media.config.json')
      .and.contain('package.json "appMedia"');
  });

  it("mediaRoot that holds an app's media folder is a loop too", async () => {
    const root = makeProject({
      apps: [],
      gulp: false,
      config: { mediaRoot: 'public', apps: ['./public/vendor/blog'] },
    });
    writeTree(root, mediaFiles('public/vendor/blog', 'blog'));
    const error = await link({ cwd: root }).catch((caught: unknown) => caught);
    expect(error).to.include({ code: 'APP_MEDIA_LOOP' });
    expect(exists(path.join(root, 'public/blog'))).to.equal(false);
  });

  for (const mode of ['symlink', 'copy'] as const) {
    it(
      `${mode} mode: a loop in the last app is refused before anything is made, ` +
        `though the first app already has something to do`,
      async () => {
        // A run looks at the first app's entry, finds work, and stops its first look there to take the
        // lock: every app's media folder must have been checked before that lock (and mediaRoot) is made.
        const root = makeProject({
          apps: ['blog', 'shop', 'zz'],
          gulp: false,
          config: { mediaRoot: 'apps/zz/app_media/zz/media', mode, apps: ['./apps/blog', './apps/shop', './apps/zz'] },
        });
        const before = projectState(root);
        const error = await link({ cwd: root }).catch((caught: unknown) => caught);
        expect(error).to.include({ code: 'APP_MEDIA_LOOP' });
        expect((error as Error).message).to.contain('apps/zz/app_media/zz');
        expect(projectState(root), 'no mediaRoot, no lock, nothing else made').to.deep.equal(before);
      },
    );
  }

  it("a mediaRoot link that leads into an app's media folder is caught through the link", async () => {
    const root = makeProject({ apps: ['blog'], gulp: false });
    mkdirSync(path.join(root, 'public'));
    symlinkSync('../apps/blog/app_media/blog', path.join(root, 'public/media'));
    const before = projectState(path.join(root, 'apps'));
    const error = await link({ cwd: root }).catch((caught: unknown) => caught);
    expect(error).to.include({ code: 'APP_MEDIA_LOOP' });
    expect(projectState(path.join(root, 'apps'))).to.deep.equal(before);
  });
});
