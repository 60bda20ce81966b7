/**
 * collect's steps in a user's own pipeline (the README example, run by the
 * real gulp CLI) and createMediaUrl() for pages.
 */
import { expect } from 'chai';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import Vinyl from 'vinyl';
import { createMediaUrl, fingerprint, isAppMediaError, rewriteReferences } from '../src/index.js';
import { gulp, REPO, removeTempDirs } from './support/project.js';
import { collectedInProcess, makeCollectProject, OUT, readManifest, type ManifestJson } from './support/collect.js';

after(removeTempDirs);

const BLOG = 'apps/blog/app_media/blog';

/** The code block the README marks as run by this test. */
function readmeExample(): string {
  const readme = readFileSync(path.join(REPO, 'README.md'), 'utf8');
  const marker = readme.indexOf('<!-- README example run by test/collect-pipeline.test.ts -->');
  expect(marker, 'the README marks its pipeline example').to.be.greaterThan(-1);
  const block = /```js\n([\s\S]*?)```/.exec(readme.slice(marker));
  return (block?.[1] ?? '').trim();
}

describe('the steps in a pipeline of your own', () => {
  it('the README example runs with gulp and gives the same names and manifest as media:collect', async () => {
    const root = makeCollectProject({ config: { collectRoot: 'dist/collected' } });
    writeFileSync(path.join(root, 'gulpfile.mjs'), `${readmeExample()}\n`);
    const run = gulp(root, ['buildMedia']);
    expect(run.status, run.output).to.equal(0);
    await collectedInProcess(root);
    const piped = JSON.parse(readFileSync(path.join(root, OUT, 'manifest.json'), 'utf8')) as ManifestJson;
    const collected = JSON.parse(readFileSync(path.join(root, 'dist/collected/manifest.json'), 'utf8')) as ManifestJson;
    expect(piped).to.deep.equal(collected);
    for (const entry of Object.values(piped.files)) {
      const bytes = readFileSync(path.join(root, OUT, entry.path));
      expect(bytes.equals(readFileSync(path.join(root, 'dist/collected', entry.path))), entry.path).to.equal(true);
      for (const encoding of Object.keys(entry.encodings ?? {})) {
        expect(readFileSync(path.join(root, OUT, `${entry.path}${encoding === 'br' ? '.br' : '.gz'}`)).length).to.equal(
          entry.encodings![encoding],
        );
      }
    }
    // The originals came through too (keepOriginals), with the rewritten bytes.
    expect(readFileSync(path.join(root, OUT, 'blog/css/site.css'), 'utf8')).to.match(
      /url\(\.\.\/img\/logo\.[0-9a-f]{10}\.png\)/,
    );
  });

  it('rewriteReferences() after fingerprint() fails the stream with a clear message', async () => {
    const file = new Vinyl({ cwd: '/', base: '/m', path: '/m/blog/css/a.css', contents: Buffer.from('a{}') });
    const stream = Readable.from([file])
      .pipe(fingerprint({ keepOriginals: false }))
      .pipe(rewriteReferences());
    const failure = await new Promise<Error>((resolve) => {
      stream.on('error', resolve);
      stream.resume();
    });
    expect(failure.message).to.contain('rewriteReferences() must come before fingerprint()');
  });

  it('rewriteReferences({ strict: true }) fails the stream on a reference to a file not in it', async () => {
    const file = new Vinyl({
      cwd: '/',
      base: '/m',
      path: '/m/blog/css/a.css',
      contents: Buffer.from('a{background:url(x.png)}'),
    });
    const stream = Readable.from([file]).pipe(rewriteReferences({ strict: true }));
    const failure = await new Promise<unknown>((resolve) => {
      stream.on('error', resolve);
      stream.resume();
    });
    expect(isAppMediaError(failure) && failure.code).to.equal('APP_MEDIA_MISSING_REFERENCE');
  });
});

describe('createMediaUrl', () => {
  it('gives fingerprinted URLs and integrity from the manifest, and names the nearest path for a miss', async () => {
    const root = makeCollectProject({ gulp: false });
    await collectedInProcess(root);
    const manifest = readManifest(root);
    const media = createMediaUrl({ manifest: `${OUT}/manifest.json`, cwd: root, mediaUrl: '/static/' });
    expect(media('blog/css/site.css')).to.equal(`/static/${manifest.files['blog/css/site.css']!.path}`);
    expect(media('/blog/css/site.css')).to.equal(`/static/${manifest.files['blog/css/site.css']!.path}`);
    expect(media.integrity('blog/img/logo.png')).to.equal(manifest.files['blog/img/logo.png']!.integrity);
    expect(media.build).to.equal(manifest.build);
    expect(media.has('blog/css/nope.css')).to.equal(false);
    let error: unknown;
    try {
      media('blog/css/sit.css');
    } catch (caught) {
      error = caught;
    }
    expect(isAppMediaError(error) && error.code).to.equal('APP_MEDIA_NOT_IN_MANIFEST');
    expect(String(error)).to.contain(
      '"blog/css/sit.css" is not in dist/media/manifest.json (did you mean "blog/css/site.css"?)',
    );
    const cdn = createMediaUrl({
      manifest: JSON.parse(readFileSync(path.join(root, OUT, 'manifest.json'), 'utf8')) as Record<string, unknown>,
      mediaUrl: 'https://cdn.example.com/media',
    });
    expect(cdn('blog/img/logo.png')).to.equal(
      `https://cdn.example.com/media/${manifest.files['blog/img/logo.png']!.path}`,
    );
  });

  it('without a manifest (development) gives the plain URL, encoded', () => {
    const media = createMediaUrl({ mediaUrl: '/media/' });
    expect(media('blog/img/a logo.png')).to.equal('/media/blog/img/a%20logo.png');
    expect(media.integrity('blog/img/a logo.png')).to.equal(undefined);
    expect(media.build).to.equal(null);
  });

  it('a manifest with a "../" path, or that is missing, is APP_MEDIA_BAD_MANIFEST', () => {
    const forged = {
      version: 1,
      build: '0123456789abcdef',
      files: { 'blog/a.css': { path: '../../etc/passwd', size: 1, integrity: `sha384-${'A'.repeat(64)}` } },
    };
    expect(() => createMediaUrl({ manifest: forged })).to.throw(/APP_MEDIA_BAD_MANIFEST|not a usable media manifest/);
    try {
      createMediaUrl({ manifest: '/nonexistent/manifest.json' });
      expect.fail('no error');
    } catch (error) {
      expect(isAppMediaError(error) && error.code).to.equal('APP_MEDIA_BAD_MANIFEST');
      expect(String(error)).to.contain('run media:collect first');
    }
  });
});

describe('collect through the API', () => {
  it(
    "a stylesheet in one app can reference another app's file; " + 'the reference is rewritten relative as written',
    async () => {
      const root = makeCollectProject({
        gulp: false,
        files: { [`${BLOG}/css/site.css`]: '.a { background: url(../../shop/img/shop.png); }\n' },
      });
      await collectedInProcess(root);
      const manifest = readManifest(root);
      const shop = manifest.files['shop/img/shop.png']!.path.split('/').pop();
      expect(readFileSync(path.join(root, OUT, manifest.files['blog/css/site.css']!.path), 'utf8')).to.equal(
        `.a { background: url(../../shop/img/${shop}); }\n`,
      );
    },
  );
});
