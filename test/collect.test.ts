/**
 * media:collect as a user meets it (issue 27): the real gulp CLI and the
 * app-media command in real temporary projects, set up through the API.
 * What is checked is what a user would check: file names, bytes, modes, the
 * manifest, exit codes and the lines printed, and snapshots of everything
 * that must not change.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import fs from 'node:fs';
import path from 'node:path';
import { collect, verify } from '../src/index.js';
import { appMedia, gulp, jsonReport, removeTempDirs, sha, snapshot, tempDir, writeTree } from './support/project.js';
import {
  collectedInProcess,
  makeCollectProject,
  outFiles,
  outState,
  OUT,
  readManifest,
  readRecords,
  servedBytes,
  sri,
} from './support/collect.js';

after(removeTempDirs);

const BLOG = 'apps/blog/app_media/blog';

const hex = (data: Buffer | string): string => createHash('sha256').update(data).digest('hex');

describe('media:collect', () => {
  it('writes fingerprinted names, the originals, rewritten references, .br/.gz and manifest.json (gulp)', () => {
    const root = makeCollectProject();
    const run = gulp(root, ['media:collect']);
    expect(run.status, run.output).to.equal(0);
    expect(run.stdout).to.match(/collected\s+blog\s+dist\/media\/blog -> apps\/blog\/app_media\/blog/);
    expect(run.stdout).to.match(/media:collect: 2 collected in dist\/media; build [0-9a-f]{16} \(\d+ files written\)/);

    const manifest = readManifest(root);
    expect(manifest.version).to.equal(1);
    expect(Object.keys(manifest.files)).to.deep.equal(Object.keys(manifest.files).sort());
    const logo = fs.readFileSync(path.join(root, BLOG, 'img/logo.png'));
    expect(manifest.files['blog/img/logo.png']).to.deep.equal({
      integrity: sri(logo),
      path: `blog/img/logo.${hex(logo).slice(0, 10)}.png`,
      size: logo.length,
    });
    // The stylesheet names the fingerprinted files, and its own name is the hash of those final bytes.
    const site = servedBytes(root, 'blog/css/site.css').toString();
    const base = manifest.files['blog/css/base.css'];
    expect(site).to.equal(
      `@import "${path.basename(base!.path)}";\n.logo { background: ` +
        `url(../img/logo.${hex(logo).slice(0, 10)}.png) no-repeat; }\n`,
    );
    expect(manifest.files['blog/css/site.css']!.path).to.equal(`blog/css/site.${hex(site).slice(0, 10)}.css`);
    // The original names hold the same final bytes.
    expect(fs.readFileSync(path.join(root, OUT, 'blog/css/site.css'), 'utf8')).to.equal(site);
    // Compressed variants beside the compressible files, only when smaller; none for a png.
    const baseBytes = servedBytes(root, 'blog/css/base.css');
    expect(base!.encodings).to.have.keys('br', 'gzip');
    const br = fs.readFileSync(path.join(root, OUT, `${base!.path}.br`));
    expect(br.length).to.equal(base!.encodings!['br']);
    expect(brotliDecompressSync(br).equals(baseBytes)).to.equal(true);
    expect(gunzipSync(fs.readFileSync(path.join(root, OUT, 'blog/css/base.css.gz'))).equals(baseBytes)).to.equal(true);
    expect(fs.existsSync(path.join(root, OUT, `${manifest.files['blog/img/logo.png']!.path}.br`))).to.equal(false);
    expect(manifest.files['blog/img/logo.png']).to.not.have.property('encodings');
    // The build id is the one the records' newest build has.
    expect(readRecords(root).builds[0]!.id).to.equal(manifest.build);
    expect(readRecords(root).builds[0]!.files).to.include.members([
      base!.path,
      'blog/css/base.css',
      `${base!.path}.br`,
      'blog/css/base.css.gz',
    ]);
  });

  it('a no-change re-run writes nothing, not even the manifest, and takes no lock (command)', async () => {
    const root = makeCollectProject({ gulp: false });
    await collectedInProcess(root);
    const before = outState(root);
    const run = appMedia(root, ['collect']);
    expect(run.status, run.output).to.equal(0);
    expect(run.stdout).to.match(/media:collect: 2 up-to-date in dist\/media; build [0-9a-f]{16} \(\d+ ms\)/);
    expect(outState(root)).to.deep.equal(before);
  });

  it('a changed image writes it, its stylesheets (new names) and the manifest; nothing of the other app', async () => {
    const root = makeCollectProject({ gulp: false });
    await collectedInProcess(root);
    const oldManifest = readManifest(root);
    const shopBefore = Object.fromEntries(snapshot(path.join(root, OUT, 'shop')));
    fs.writeFileSync(path.join(root, BLOG, 'img/logo.png'), Buffer.from([0x89, 0x50, 0x4e, 0x47, 9, 9, 9]));
    const run = appMedia(root, ['collect', '--json']);
    expect(run.status, run.output).to.equal(0);
    const report = jsonReport(run);
    expect(report.counts).to.deep.equal({ collected: 1, 'up-to-date': 1 });
    const manifest = readManifest(root);
    expect(manifest.build).to.not.equal(oldManifest.build);
    expect(manifest.files['blog/img/logo.png']!.path).to.not.equal(oldManifest.files['blog/img/logo.png']!.path);
    // site.css references the image: new bytes, new name. base.css does not: same name.
    expect(manifest.files['blog/css/site.css']!.path).to.not.equal(oldManifest.files['blog/css/site.css']!.path);
    expect(manifest.files['blog/css/base.css']).to.deep.equal(oldManifest.files['blog/css/base.css']);
    expect(Object.fromEntries(snapshot(path.join(root, OUT, 'shop')))).to.deep.equal(shopBefore);
    // The old build's files stay (the keep window), so a page a browser holds still finds them.
    expect(fs.existsSync(path.join(root, OUT, oldManifest.files['blog/css/site.css']!.path))).to.equal(true);
  });

  it("a stylesheet's name follows a change two @imports away", async () => {
    const root = makeCollectProject({
      gulp: false,
      files: {
        [`${BLOG}/css/a.css`]: '@import url("b.css");\n',
        [`${BLOG}/css/b.css`]: "@import 'c.css' screen;\n",
        [`${BLOG}/css/c.css`]: '.c { background-image: url(../img/logo.png); }\n',
      },
    });
    await collectedInProcess(root);
    const before = readManifest(root).files;
    fs.writeFileSync(path.join(root, BLOG, 'img/logo.png'), 'changed');
    await collectedInProcess(root);
    const after = readManifest(root).files;
    for (const name of ['a', 'b', 'c'])
      expect(after[`blog/css/${name}.css`]!.path, name).to.not.equal(before[`blog/css/${name}.css`]!.path);
    expect(servedBytes(root, 'blog/css/a.css').toString()).to.equal(
      `@import url("${path.basename(after['blog/css/b.css']!.path)}");\n`,
    );
  });

  it(
    'url(): quoted, unquoted, with ?# suffixes, under mediaUrl, image-set; data:, http(s):, ' +
      '// and comments left alone',
    async () => {
      const css = [
        '/* url(../img/logo.png) in a comment stays */',
        '.a { background: url(../img/logo.png?v=1#frag); }',
        '.b { background: url( "../img/logo.png" ); }',
        ".c { background: url('/media/blog/img/logo.png'); }",
        '.d { background: url(data:image/png;base64,AAAA), url(https://cdn.example.com/x.png), ' +
          'url(//cdn.example.com/y.png); }',
        '.e { background-image: image-set("../img/logo.png" 1x); filter: url(#blur); }',
        '.f { --v: url(../img/logo.png); }',
        '/*# sourceMappingURL=site.css.map */',
        '',
      ].join('\n');
      const root = makeCollectProject({
        gulp: false,
        files: { [`${BLOG}/css/site.css`]: css, [`${BLOG}/css/site.css.map`]: '{"version":3}' },
      });
      const report = await collectedInProcess(root);
      expect(report.warnings).to.deep.equal([]);
      const logo = readManifest(root).files['blog/img/logo.png']!.path.split('/').pop() as string;
      const map = readManifest(root).files['blog/css/site.css.map']!.path.split('/').pop() as string;
      expect(servedBytes(root, 'blog/css/site.css').toString()).to.equal(
        [
          '/* url(../img/logo.png) in a comment stays */',
          `.a { background: url(../img/${logo}?v=1#frag); }`,
          `.b { background: url( "../img/${logo}" ); }`,
          `.c { background: url('/media/blog/img/${logo}'); }`,
          '.d { background: url(data:image/png;base64,AAAA), url(https://cdn.example.com/x.png), ' +
            'url(//cdn.example.com/y.png); }',
          `.e { background-image: image-set("../img/${logo}" 1x); filter: url(#blur); }`,
          `.f { --v: url(../img/${logo}); }`,
          `/*# sourceMappingURL=${map} */`,
          '',
        ].join('\n'),
      );
    },
  );

  it(
    'a reference to a missing file: a warning with file:line and exit 0; ' + 'with --strict exit 1 and nothing written',
    () => {
      const root = makeCollectProject({
        gulp: false,
        files: { [`${BLOG}/css/site.css`]: '.a {}\n.b { background: url(../img/gone.png); }\n' },
      });
      const strict = appMedia(root, ['collect', '--strict']);
      expect(strict.status, strict.output).to.equal(1);
      expect(strict.stderr)
        .to.contain('APP_MEDIA_MISSING_REFERENCE')
        .and.contain('apps/blog/app_media/blog/css/site.css:2: ../img/gone.png');
      expect(fs.existsSync(path.join(root, OUT, 'manifest.json'))).to.equal(false);
      expect(outFiles(root).filter((name) => !name.startsWith('.app-media'))).to.deep.equal([]);

      const run = appMedia(root, ['collect']);
      expect(run.status, run.output).to.equal(0);
      expect(run.stdout).to.contain(
        'warning: apps/blog/app_media/blog/css/site.css:2: ../img/gone.png: no such file in the collected media',
      );
      expect(servedBytes(root, 'blog/css/site.css').toString()).to.contain('url(../img/gone.png)');
      // Repeated by a no-change re-run, and --strict still fails then, writing nothing.
      const before = outState(root);
      expect(appMedia(root, ['collect']).stdout).to.contain('site.css:2: ../img/gone.png');
      expect(appMedia(root, ['collect', '--strict']).status).to.equal(1);
      expect(outState(root)).to.deep.equal(before);
      // Once the file is there, the reference is rewritten.
      fs.writeFileSync(path.join(root, BLOG, 'img/gone.png'), 'here now');
      const fixed = appMedia(root, ['collect', '--strict']);
      expect(fixed.status, fixed.output).to.equal(0);
      expect(servedBytes(root, 'blog/css/site.css').toString()).to.match(/url\(\.\.\/img\/gone\.[0-9a-f]{10}\.png\)/);
    },
  );

  it(
    "an @import cycle: both written, each naming the other's fingerprinted name; " + 'a change to one renames both',
    async () => {
      const root = makeCollectProject({
        gulp: false,
        files: { [`${BLOG}/css/a.css`]: '@import "b.css";\n.a{}\n', [`${BLOG}/css/b.css`]: '@import "a.css";\n.b{}\n' },
      });
      await collectedInProcess(root);
      const first = readManifest(root).files;
      const a = servedBytes(root, 'blog/css/a.css').toString();
      const b = servedBytes(root, 'blog/css/b.css').toString();
      expect(a).to.equal(`@import "${path.basename(first['blog/css/b.css']!.path)}";\n.a{}\n`);
      expect(b).to.equal(`@import "${path.basename(first['blog/css/a.css']!.path)}";\n.b{}\n`);
      fs.writeFileSync(path.join(root, BLOG, 'css/a.css'), '@import "b.css";\n.a{color:red}\n');
      await collectedInProcess(root);
      const second = readManifest(root).files;
      expect(second['blog/css/a.css']!.path).to.not.equal(first['blog/css/a.css']!.path);
      expect(second['blog/css/b.css']!.path).to.not.equal(first['blog/css/b.css']!.path);
      expect((await verify({ cwd: root, collect: true })).failed).to.equal(false);
    },
  );

  it(
    'keep window: files of older builds stay for `keep` builds, ' + "then only the tool's unchanged files are removed",
    async () => {
      const root = makeCollectProject({ gulp: false, config: { keep: 1 } });
      const logo = path.join(root, BLOG, 'img/logo.png');
      const logoPaths: string[] = [];
      const build = async (bytes: string): Promise<Awaited<ReturnType<typeof collect>>> => {
        fs.writeFileSync(logo, bytes);
        const report = await collect({ cwd: root });
        expect(report.failed, JSON.stringify(report.apps)).to.equal(false);
        logoPaths.push(readManifest(root).files['blog/img/logo.png']!.path);
        return report;
      };
      await build('one');
      const firstSite = readManifest(root).files['blog/css/site.css']!.path;
      writeTree(root, { [`${OUT}/blog/notes.txt`]: 'a file of mine' });
      await build('two');
      // A file of the first build changed by hand: it is no longer the tool's.
      fs.writeFileSync(path.join(root, OUT, firstSite), '/* mine now */');
      const third = await build('three');
      // keep 1: the first build leaves, the second stays beside the third.
      expect(logoPaths.map((name) => fs.existsSync(path.join(root, OUT, name)))).to.deep.equal([false, true, true]);
      expect(third.removed).to.be.greaterThan(0);
      expect(fs.readFileSync(path.join(root, OUT, firstSite), 'utf8')).to.equal('/* mine now */');
      expect(third.warnings.join('\n')).to.contain('blog/notes.txt').and.contain(firstSite);
      expect(readRecords(root).builds.map((one) => one.id)).to.deep.equal([
        readManifest(root).build,
        readRecords(root).builds[1]!.id,
      ]);
      expect(Object.keys(readRecords(root).files)).to.not.include(firstSite);
      await build('four');
      expect(logoPaths.map((name) => fs.existsSync(path.join(root, OUT, name)))).to.deep.equal([
        false,
        false,
        true,
        true,
      ]);
      expect(fs.readFileSync(path.join(root, OUT, firstSite), 'utf8')).to.equal('/* mine now */');
      expect(fs.readFileSync(path.join(root, OUT, 'blog/notes.txt'), 'utf8')).to.equal('a file of mine');
    },
  );

  it(
    "a deleted source's files leave with the keep window; keepOriginals: " + 'false writes only fingerprinted names',
    async () => {
      const root = makeCollectProject({ gulp: false, config: { keep: 0, keepOriginals: false, compress: false } });
      await collectedInProcess(root);
      expect(outFiles(root).filter((name) => name.includes('/'))).to.deep.equal(
        Object.values(readManifest(root).files)
          .map((entry) => entry.path)
          .sort(),
      );
      fs.rmSync(path.join(root, BLOG, 'css/base.css'));
      const report = await collect({ cwd: root });
      expect(report.warnings.join()).to.contain('base.css');
      expect(outFiles(root).filter((name) => name.includes('base'))).to.deep.equal([]);
    },
  );

  it(
    'a file changed by hand in collectRoot is kept: a conflict, nothing written, ' + 'the old manifest in place',
    async () => {
      const root = makeCollectProject({ gulp: false });
      await collectedInProcess(root);
      fs.writeFileSync(path.join(root, OUT, 'blog/css/site.css'), 'edited by hand');
      fs.writeFileSync(path.join(root, BLOG, 'css/site.css'), '.new {}\n');
      const before = outState(root);
      const run = appMedia(root, ['collect']);
      expect(run.status, run.output).to.equal(1);
      expect(run.stderr).to.match(/conflict\s+blog\s+dist\/media\/blog/);
      expect(run.stderr).to.contain('dist/media/blog/css/site.css was changed by hand since app-media wrote it');
      expect(run.stdout + run.stderr).to.match(/held\s+shop|up-to-date\s+shop/);
      expect(outState(root)).to.deep.equal(before);
      // verify names the edit: the original name no longer holds the fingerprinted file's bytes.
      const checked = await verify({ cwd: root, collect: true });
      expect(checked.apps.find((app) => app.name === 'blog')).to.include({ status: 'drift' });
      // Moved away, the next run writes the build.
      fs.rmSync(path.join(root, OUT, 'blog/css/site.css'));
      expect(appMedia(root, ['collect']).status).to.equal(0);
      expect(fs.readFileSync(path.join(root, OUT, 'blog/css/site.css'), 'utf8')).to.equal('.new {}\n');
    },
  );

  it('a foreign file in collectRoot is reported and never touched, also at a name a build wants', async () => {
    const root = makeCollectProject({ gulp: false });
    writeTree(root, { [`${OUT}/blog/css/base.css`]: 'not yours', [`${OUT}/readme.txt`]: 'mine' });
    const before = outState(root);
    const run = appMedia(root, ['collect']);
    expect(run.status).to.equal(1);
    expect(run.stderr).to.contain('dist/media/blog/css/base.css is a file not made by app-media');
    expect(outState(root)).to.deep.equal(before);
    fs.rmSync(path.join(root, OUT, 'blog/css/base.css'));
    const ok = appMedia(root, ['collect']);
    expect(ok.status, ok.output).to.equal(0);
    expect(ok.stdout).to.contain('1 file in dist/media not made by app-media, left as it is: readme.txt');
    expect(fs.readFileSync(path.join(root, OUT, 'readme.txt'), 'utf8')).to.equal('mine');
  });

  it(
    'a records file that is not the tool\'s (not JSON, another tool, "../" names) is a conflict: ' +
      'never overwritten, nothing removed',
    async () => {
      const outside = tempDir('outside');
      fs.writeFileSync(path.join(outside, 'precious.txt'), 'keep me');
      for (const [title, text] of [
        ['not JSON', '{ this is not json'],
        ['another tool', JSON.stringify({ tool: 'other', kind: 'collect', version: 1, files: {}, builds: [] })],
        ['another kind', JSON.stringify({ tool: 'gulp-app-media', kind: 'link', version: 1, files: {}, builds: [] })],
        [
          'a "../" name',
          JSON.stringify({
            tool: 'gulp-app-media',
            kind: 'collect',
            version: 1,
            files: {
              [`../../../../../..${outside}/precious.txt`]: {
                size: 7,
                mtimeMs: 1,
                sha256: '0'.repeat(64),
                immutable: true,
              },
            },
            builds: [{ id: '0'.repeat(16), at: 'x', files: [] }],
          }),
        ],
      ] as const) {
        const root = makeCollectProject({ gulp: false });
        await collectedInProcess(root);
        fs.writeFileSync(path.join(root, OUT, '.app-media-collect.json'), text);
        fs.writeFileSync(path.join(root, BLOG, 'img/logo.png'), 'changed');
        const before = outState(root);
        const run = appMedia(root, ['collect']);
        expect(run.status, title).to.equal(1);
        expect(run.stderr, title)
          .to.contain('APP_MEDIA_RECORDS_CONFLICT')
          .and.contain("dist/media/.app-media-collect.json is not app-media's records");
        expect(outState(root), title).to.deep.equal(before);
        expect(fs.readFileSync(path.join(outside, 'precious.txt'), 'utf8')).to.equal('keep me');
      }
    },
  );

  it(
    'a folder of the build swapped for a link to a folder outside: nothing written through it, ' +
      'the outside untouched',
    async () => {
      const root = makeCollectProject({ gulp: false });
      await collectedInProcess(root);
      const outside = tempDir('outside');
      fs.writeFileSync(path.join(outside, 'keep.txt'), 'outside');
      fs.renameSync(path.join(root, OUT, 'blog/css'), path.join(root, 'css-moved'));
      fs.symlinkSync(outside, path.join(root, OUT, 'blog/css'));
      fs.writeFileSync(path.join(root, BLOG, 'css/base.css'), 'body{}');
      const outsideBefore = Object.fromEntries(snapshot(outside));
      const run = appMedia(root, ['collect']);
      expect(run.status).to.equal(1);
      expect(run.stderr).to.contain('dist/media/blog/css is a symbolic link not made by app-media');
      expect(Object.fromEntries(snapshot(outside))).to.deep.equal(outsideBefore);
      // A file swapped for a link is not followed either.
      fs.rmSync(path.join(root, OUT, 'blog/css'));
      fs.renameSync(path.join(root, 'css-moved'), path.join(root, OUT, 'blog/css'));
      fs.rmSync(path.join(root, OUT, 'blog/css/site.css'));
      fs.symlinkSync(path.join(outside, 'keep.txt'), path.join(root, OUT, 'blog/css/site.css'));
      expect(appMedia(root, ['collect']).status).to.equal(1);
      expect(fs.readFileSync(path.join(outside, 'keep.txt'), 'utf8')).to.equal('outside');
    },
  );

  it(
    'sources: a FIFO is never read, a link to a private file outside is refused, ' + 'setuid bits never copied',
    async function () {
      const root = makeCollectProject({ gulp: false });
      const secret = path.join(tempDir('private'), 'id_rsa');
      fs.writeFileSync(secret, 'PRIVATE KEY MATERIAL', { mode: 0o600 });
      fs.symlinkSync(secret, path.join(root, BLOG, 'img/avatar.png'));
      const fifo = path.join(root, BLOG, 'js/pipe.js');
      fs.mkdirSync(path.dirname(fifo), { recursive: true });
      expect(spawnSync('mkfifo', [fifo]).status).to.equal(0);
      const tool = path.join(root, BLOG, 'js/tool.js');
      fs.writeFileSync(tool, 'console.log(1)\n');
      fs.chmodSync(tool, 0o6755);
      const run = appMedia(root, ['collect']);
      expect(run.status, run.output).to.equal(0);
      expect(run.stdout).to.contain(
        "blog: not published, links leading outside the app's media folder: img/avatar.png",
      );
      expect(run.stdout).to.contain('js/pipe.js');
      for (const name of outFiles(root)) {
        expect(fs.readFileSync(path.join(root, OUT, name)).includes('PRIVATE KEY'), name).to.equal(false);
        const mode = fs.lstatSync(path.join(root, OUT, name)).mode & 0o7777;
        expect(mode & 0o7022, `${name} ${mode.toString(8)}`).to.equal(0);
      }
      const served = readManifest(root).files['blog/js/tool.js']!.path;
      expect(fs.statSync(path.join(root, OUT, served)).mode & 0o7777).to.equal(0o644 & ~process.umask());
      expect(Object.keys(readManifest(root).files)).to.not.include.members(['blog/img/avatar.png', 'blog/js/pipe.js']);
    },
  );

  it('refuses a collectRoot that is mediaRoot, inside an app, or the project root, before anything is written', () => {
    for (const [collectRoot, why] of [
      ['public/media', 'it is mediaRoot'],
      ['apps/blog/dist', 'it is inside app "blog"'],
      ['.', 'it is the project root'],
      ['public', 'it contains mediaRoot'],
    ] as const) {
      const root = makeCollectProject({ gulp: false, config: { collectRoot } });
      const before = snapshot(root);
      const run = appMedia(root, ['collect']);
      expect(run.status, collectRoot).to.equal(1);
      expect(run.stderr, collectRoot).to.contain('APP_MEDIA_UNSAFE_COLLECT_ROOT').and.contain(why);
      expect(snapshot(root)).to.deep.equal(before);
    }
    const root = makeCollectProject({ gulp: false, config: { collectRoot: undefined } });
    const missing = appMedia(root, ['collect']);
    expect(missing.stderr).to.contain('APP_MEDIA_MISSING_FIELD').and.contain('collectRoot');
  });

  it('--dry-run says what it would write and writes nothing', async () => {
    const root = makeCollectProject({ gulp: false });
    const run = appMedia(root, ['collect', '--dry-run']);
    expect(run.status, run.output).to.equal(0);
    expect(run.stdout).to.match(/would collect\s+blog/);
    expect(run.stdout).to.match(/dry run, nothing written: 2 would collect in dist\/media.*\(\d+ files to write\)/);
    expect(fs.existsSync(path.join(root, OUT))).to.equal(false);
  });

  it('rev-manifest.json (gulp-rev format) when asked; removed again when no longer asked', async () => {
    const root = makeCollectProject({ gulp: false, config: { revManifest: true } });
    await collectedInProcess(root);
    const rev = JSON.parse(fs.readFileSync(path.join(root, OUT, 'rev-manifest.json'), 'utf8')) as Record<
      string,
      string
    >;
    expect(rev['blog/css/site.css']).to.equal(readManifest(root).files['blog/css/site.css']!.path);
    fs.writeFileSync(
      path.join(root, 'app-media.config.json'),
      JSON.stringify({ mediaRoot: 'public/media', collectRoot: OUT, apps: ['./apps/blog', './apps/shop'] }),
    );
    await collectedInProcess(root);
    expect(fs.existsSync(path.join(root, OUT, 'rev-manifest.json'))).to.equal(false);
  });

  it('the ignore globs apply: dotfiles are not published', async () => {
    const root = makeCollectProject({
      gulp: false,
      files: { [`${BLOG}/.env`]: 'SECRET=1', [`${BLOG}/css/site.css~`]: 'backup' },
    });
    await collectedInProcess(root);
    expect(
      Object.keys(readManifest(root).files).filter((name) => name.includes('env') || name.endsWith('~')),
    ).to.deep.equal([]);
  });
});

describe('media:verify --collect', () => {
  it('passes on a fresh build; a changed byte, a broken .gz or a missing file fails it', async () => {
    const root = makeCollectProject();
    await collectedInProcess(root);
    const ok = gulp(root, ['media:verify', '--collect']);
    expect(ok.status, ok.output).to.equal(0);
    expect(ok.stdout).to.match(/ok\s+blog\s+dist\/media\/blog/);
    const entry = readManifest(root).files['blog/css/base.css']!;
    fs.writeFileSync(path.join(root, OUT, `${entry.path}.gz`), 'not gzip');
    fs.rmSync(path.join(root, OUT, readManifest(root).files['blog/img/logo.png']!.path));
    const bad = appMedia(root, ['verify', '--collect']);
    expect(bad.status).to.equal(1);
    expect(bad.stderr).to.match(/missing\s+blog/);
    expect(bad.stderr).to.contain(`${entry.path}.gz`).and.contain('is missing');
  });

  it('reports a stylesheet that references a file not in the build', async () => {
    const root = makeCollectProject({
      gulp: false,
      files: { [`${BLOG}/css/site.css`]: '.a { background: url(../img/nope.png) }\n' },
    });
    await collectedInProcess(root);
    const report = await verify({ cwd: root, collect: true });
    expect(report.failed).to.equal(true);
    expect(report.apps.find((app) => app.name === 'blog')?.reason).to.contain(
      'references blog/img/nope.png, which is not in the build',
    );
  });

  it('a forged manifest with a "../" path: APP_MEDIA_BAD_MANIFEST, nothing read outside', async () => {
    const root = makeCollectProject({ gulp: false });
    await collectedInProcess(root);
    const manifest = readManifest(root);
    manifest.files['blog/css/site.css']!.path = '../../../../etc/hostname';
    fs.writeFileSync(path.join(root, OUT, 'manifest.json'), JSON.stringify(manifest));
    const run = appMedia(root, ['verify', '--collect']);
    expect(run.status).to.equal(1);
    expect(run.stderr).to.contain('APP_MEDIA_BAD_MANIFEST');
  });
});

describe('collect records', () => {
  it('records every file written with size, mtime, sha256 and immutable; variants with encoding and of', async () => {
    const root = makeCollectProject({ gulp: false });
    await collectedInProcess(root);
    const records = readRecords(root);
    expect(records).to.include({ tool: 'gulp-app-media', kind: 'collect', version: 1 });
    const files = outFiles(root).filter((name) => name.includes('/'));
    expect(Object.keys(records.files).sort()).to.deep.equal(files);
    for (const name of files) {
      const data = fs.readFileSync(path.join(root, OUT, name));
      const record = records.files[name]!;
      expect(record.sha256, name).to.equal(sha(data));
      expect(record.size, name).to.equal(data.length);
      expect(record.mtimeMs, name).to.equal(fs.lstatSync(path.join(root, OUT, name)).mtimeMs);
      expect(record.immutable, name).to.equal(/\.[0-9a-f]{10}\./.test(name));
      if (name.endsWith('.br') || name.endsWith('.gz'))
        expect(record).to.include({ encoding: name.endsWith('.br') ? 'br' : 'gzip', of: name.slice(0, -3) });
    }
    expect(records.builds[0]!.files.sort()).to.deep.equal(files);
  });

  it(
    'the index stamps each build folder (an even second, 2 s or more in the past); a no-change run leaves them, ' +
      'a file added by hand moves its folder off the stamp and is reported',
    async () => {
      const root = makeCollectProject({ gulp: false });
      await collectedInProcess(root);
      const done = Date.now();
      const indexOf = (): { dirs: Record<string, string>; stamps: Record<string, number> } =>
        JSON.parse(fs.readFileSync(path.join(root, OUT, '.app-media-collect-index.json'), 'utf8')) as {
          dirs: Record<string, string>;
          stamps: Record<string, number>;
        };
      const { dirs, stamps } = indexOf();
      // Every folder but the top (listed by every run anyway) is stamped, to its own mtime.
      expect(Object.keys(stamps).sort()).to.deep.equal(
        Object.keys(dirs)
          .filter((dir) => dir !== '')
          .sort(),
      );
      expect(Object.keys(stamps)).to.include.members(['blog', 'blog/css', 'shop']);
      for (const [dir, stamp] of Object.entries(stamps)) {
        expect(fs.lstatSync(path.join(root, OUT, dir)).mtimeMs, dir).to.equal(stamp);
        expect(stamp % 2000, dir).to.equal(0);
        expect(stamp, dir).to.be.at.most(done - 2000);
      }
      const again = await collectedInProcess(root);
      expect(again.counts).to.deep.equal({ 'up-to-date': 2 });
      expect(indexOf().stamps).to.deep.equal(stamps);
      for (const [dir, stamp] of Object.entries(stamps))
        expect(fs.lstatSync(path.join(root, OUT, dir)).mtimeMs, dir).to.equal(stamp);

      fs.writeFileSync(path.join(root, OUT, 'blog/css/notes.txt'), 'mine');
      expect(fs.lstatSync(path.join(root, OUT, 'blog/css')).mtimeMs).to.be.above(stamps['blog/css'] as number);
      const seen = await collectedInProcess(root);
      expect(seen.warnings.join('\n')).to.contain('blog/css/notes.txt');
      expect(fs.readFileSync(path.join(root, OUT, 'blog/css/notes.txt'), 'utf8')).to.equal('mine');
      // That folder is stamped anew, with a digest of its names now; the others keep theirs.
      const now = indexOf();
      expect(now.stamps['blog/css']).to.not.equal(stamps['blog/css']);
      expect(now.dirs['blog/css']).to.not.equal(dirs['blog/css']);
      expect(now.stamps['shop']).to.equal(stamps['shop']);
      expect(now.dirs['shop']).to.equal(dirs['shop']);
      // And a run after it, with nothing changed, still names the file.
      const quiet = await collectedInProcess(root);
      expect(quiet.counts).to.deep.equal({ 'up-to-date': 2 });
      expect(quiet.warnings.join('\n')).to.contain('blog/css/notes.txt');
    },
  );

  it(
    'a no-change run trusts a folder still at its stamp: it is not listed ' +
      '(a name hidden behind its time set back stays unseen)',
    async () => {
      const root = makeCollectProject({ gulp: false });
      await collectedInProcess(root);
      const folder = path.join(root, OUT, 'shop');
      const stamp = fs.lstatSync(folder).mtimeMs;
      // Only the folder's owner can set its time back: the runner (collectRoot writable by others is refused).
      fs.writeFileSync(path.join(folder, 'hidden.txt'), 'x');
      fs.utimesSync(folder, stamp / 1000, stamp / 1000);
      const quick = await collectedInProcess(root);
      expect(quick.counts).to.deep.equal({ 'up-to-date': 2 });
      expect(quick.warnings.join('\n')).to.not.contain('hidden.txt');
      // Any change in the sources makes the next run look in full: then it is seen.
      const later = new Date(Date.now() + 5000);
      fs.utimesSync(path.join(root, BLOG, 'css/site.css'), later, later);
      const full = await collectedInProcess(root);
      expect(full.warnings.join('\n')).to.contain('hidden.txt');
    },
  );

  it('a touched source (same bytes, new mtime) rewrites nothing of the build', async () => {
    const root = makeCollectProject({ gulp: false });
    await collectedInProcess(root);
    const manifest = fs.readFileSync(path.join(root, OUT, 'manifest.json'));
    const before = outState(root);
    const later = new Date(Date.now() + 5000);
    fs.utimesSync(path.join(root, BLOG, 'css/site.css'), later, later);
    await collectedInProcess(root);
    const after = outState(root);
    for (const [name, entry] of Object.entries(before)) {
      if (name === '.app-media-collect-index.json') continue;
      expect(after[name], name).to.deep.equal(entry);
    }
    expect(fs.readFileSync(path.join(root, OUT, 'manifest.json')).equals(manifest)).to.equal(true);
  });
});
