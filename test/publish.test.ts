/**
 * media:publish against real S3-compatible servers started here on 127.0.0.1: the
 * same suite against s3rver (objects on disk) and moto_server (skipped, and said so,
 * where this machine has none), and, opt-in (npm run test:swift), a one-node
 * OpenStack Swift through its s3api middleware, each behind a fault-injecting proxy of our own that
 * counts every request the server receives. What is checked is what a user would
 * check in the bucket: the objects, their bytes, their headers, what else is there,
 * and how many requests a run cost. What is published is what the real media:collect
 * wrote (run in this process on the apps' files); media:publish's tests of outputs
 * collect never writes (hostile records and manifests) are in publish-plan.test.ts.
 */
import { expect } from 'chai';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { publish } from '../src/publish/index.js';
import { isAppMediaError } from '../src/core/errors.js';
import type { Report, RunOptions } from '../src/core/types.js';
import { sha256 } from './support/collect-fixture.js';
import { collectSources, OUT, sourceApps, type CollectedBuild } from './support/collect.js';
import {
  bucketState,
  FaultProxy,
  motoCommand,
  putForeign,
  startMoto,
  startS3rver,
  useTestCredentials,
  type ObjectStore,
  type StoredObject,
} from './support/object-stores.js';
import { removeTempDirs, tempDir } from './support/project.js';
import { startSwift, swiftAvailable } from './support/swift.js';

useTestCredentials();

const SITE_CSS = 'body { color: teal; background: url(../img/logo.png); }\n'.repeat(20);
const SOURCES: Record<string, string | Buffer> = {
  'blog/css/site.css': SITE_CSS,
  'blog/js/app.js': 'console.log("blog");\n'.repeat(30),
  'blog/img/logo.png': Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 1, 2, 3]),
  'shop/css/shop.css': '.shop { margin: 0 auto; padding: 1em; }\n'.repeat(10),
  'shop/fonts/a.woff2': Buffer.alloc(300, 7),
};

/** Keys someone else keeps in the same bucket: under the prefix, beside it, and elsewhere. */
const FOREIGN: Record<string, string> = {
  'static/notes.txt': 'not ours\n',
  'static/blog/css/site.0123456789.css': 'a hashed-looking name that app-media never uploaded\n',
  'static/blog/uploads/photo.jpg': 'user upload\n',
  'static/.app-media-publish.json.bak': '{"tool":"someone"}\n',
  'static-old/blog/css/site.css': 'beside the prefix\n',
  'static.json': '{}\n',
  'other/blog/css/site.css': 'elsewhere\n',
};

interface Servers {
  store: ObjectStore;
}

const moto = motoCommand();
const SERVERS: Array<{ name: ObjectStore['name']; start: () => Promise<ObjectStore>; missing?: string | undefined }> = [
  { name: 's3rver', start: startS3rver },
  moto
    ? { name: 'moto', start: () => startMoto(moto) }
    : {
        name: 'moto',
        start: () => Promise.reject(new Error('absent')),
        missing:
          'moto_server is not installed here (pip install "moto[server]"): the moto half of this suite is SKIPPED',
      },
  { name: 'swift', start: startSwift, missing: swiftMissing() },
];

/** Swift (a one-node OpenStack Swift, s3api) runs only when asked: it takes seconds to start. */
function swiftMissing(): string | undefined {
  const why =
    process.env['APP_MEDIA_TEST_SWIFT'] !== '1'
      ? 'opt-in, run it with npm run test:swift (APP_MEDIA_TEST_SWIFT=1)'
      : swiftAvailable();
  return why && `the swift part of this suite is SKIPPED: ${why}`;
}

let bucketCount = 0;

for (const server of SERVERS) {
  describe(`media:publish against ${server.name}`, function () {
    let servers: Servers | undefined;

    before(async function () {
      if (server.missing) {
        console.log(`      ${server.missing}`);
        this.skip();
      }
      const store = await server.start();
      servers = { store };
      // Swift's tempauth takes a key of its own; the others the usual one.
      useTestCredentials(store);
    });
    after(async () => {
      await servers?.store.stop();
      useTestCredentials();
      removeTempDirs();
    });

    /** A project whose apps hold `sources`, collected by media:collect, and a fresh bucket behind a fresh proxy. */
    async function project(
      options: {
        sources?: Record<string, string | Buffer>;
        publish?: Record<string, unknown>;
        keep?: number;
        revManifest?: boolean;
      } = {},
    ) {
      const { store } = servers as Servers;
      const bucket = `bucket-${++bucketCount}`;
      await store.createBucket(bucket);
      const proxy = await new FaultProxy(store.port, bucket).start();
      proxies.push(proxy);
      const root = tempDir('publish');
      const collectRoot = path.join(root, ...OUT.split('/'));
      const sources = options.sources ?? SOURCES;
      const config = {
        mediaRoot: 'public/media',
        collectRoot: OUT,
        apps: sourceApps(sources),
        ...(options.keep !== undefined ? { keep: options.keep } : {}),
        ...(options.revManifest ? { revManifest: true } : {}),
        publish: { bucket, prefix: 'static', endpoint: proxy.endpoint, forcePathStyle: true, ...options.publish },
      };
      writeFileSync(path.join(root, 'app-media.config.json'), `${JSON.stringify(config, null, 2)}\n`);
      const collected = await collectSources(root, sources);
      /** The apps' files changed (same apps), then media:collect run again: the next build. */
      const collect = (next: Record<string, string | Buffer>): Promise<CollectedBuild> => collectSources(root, next);
      const run = (extra: RunOptions = {}): Promise<Report> => publish({ cwd: root, ...extra });
      const state = (prefix = ''): Promise<Map<string, StoredObject>> => bucketState(store.endpoint, bucket, prefix);
      return { root, collectRoot, bucket, proxy, collected, collect, run, state, store };
    }
    const proxies: FaultProxy[] = [];
    afterEach(async () => {
      for (const proxy of proxies.splice(0)) await proxy.stop();
    });

    it(
      'first publish: every file of the build, with its bytes, headers and sha256; assets first, ' +
        'manifest.json last, then the record',
      async () => {
        const p = await project({ revManifest: true });
        const report = await p.run();
        expect(report.failed, JSON.stringify(report.apps)).to.equal(false);
        const objects = await p.state();
        const expected = [...p.collected.files, 'manifest.json', 'rev-manifest.json', '.app-media-publish.json']
          .map((rel) => `static/${rel}`)
          .sort();
        expect([...objects.keys()].sort()).to.deep.equal(expected);
        for (const rel of p.collected.files) {
          const object = objects.get(`static/${rel}`) as StoredObject;
          const local = sha256(readLocal(p.collectRoot, rel));
          expect(object.sha256, rel).to.equal(local);
          expect(object.metadata['app-media-sha256'], rel).to.equal(local);
        }
        const hashedCss = p.collected.hashed['blog/css/site.css'] as string;
        const css = objects.get(`static/${hashedCss}`) as StoredObject;
        // What went up is collect's output: the stylesheet names the logo by its fingerprinted name.
        const logo = (p.collected.hashed['blog/img/logo.png'] as string).split('/').pop() as string;
        expect(readLocal(p.collectRoot, hashedCss).toString()).to.contain(`url(../img/${logo})`);
        expect(css.contentType).to.equal('text/css; charset=utf-8');
        expect(css.cacheControl).to.equal('public, max-age=31536000, immutable');
        expect(css.contentEncoding).to.equal(undefined);
        const br = objects.get(`static/${hashedCss}.br`) as StoredObject;
        expect(br.contentType, "a variant has its file's type").to.equal('text/css; charset=utf-8');
        expect(br.contentEncoding).to.equal('br');
        expect(br.cacheControl).to.equal('public, max-age=31536000, immutable');
        const gz = objects.get(`static/${p.collected.hashed['blog/js/app.js'] as string}.gz`) as StoredObject;
        expect(gz.contentType).to.equal('text/javascript; charset=utf-8');
        expect(gz.contentEncoding).to.equal('gzip');
        const plain = objects.get('static/blog/css/site.css') as StoredObject;
        expect(plain.cacheControl, 'plain names are short-lived').to.equal('public, max-age=60');
        expect(objects.get('static/manifest.json')?.cacheControl).to.equal('public, max-age=60');
        expect(objects.get('static/manifest.json')?.contentType).to.equal('application/json; charset=utf-8');
        expect(objects.get(`static/${p.collected.hashed['shop/fonts/a.woff2'] as string}`)?.contentType).to.equal(
          'font/woff2',
        );

        // Order, as the server saw it: every asset PUT before the manifests, manifest.json the last object, then the
        // record.
        const puts = p.proxy.seen.filter((request) => request.method === 'PUT').map((request) => request.key);
        const manifestAt = puts.indexOf('static/manifest.json');
        expect(manifestAt).to.be.greaterThan(0);
        expect(puts.indexOf('static/rev-manifest.json')).to.equal(manifestAt - 1);
        expect(
          puts.slice(manifestAt + 1).every((key) => key === 'static/.app-media-publish.json'),
          puts.slice(manifestAt).join(', '),
        ).to.equal(true);
        expect(puts[0], 'the intent is recorded before the first upload').to.equal('static/.app-media-publish.json');
        expect(
          new Set(puts.filter((key) => !key.endsWith('.app-media-publish.json'))).size,
          'each object once',
        ).to.equal(puts.filter((key) => !key.endsWith('.app-media-publish.json')).length);
        // Integrity: every upload carried Content-MD5 and x-amz-checksum-sha256 of its bytes.
        for (const request of p.proxy.seen.filter(
          (seen) => seen.method === 'PUT' && !seen.key.endsWith('.app-media-publish.json'),
        )) {
          const stored = objects.get(request.key) as StoredObject;
          expect(request.headers['x-amz-checksum-sha256'], request.key).to.equal(
            Buffer.from(stored.sha256, 'hex').toString('base64'),
          );
          expect(request.headers['content-md5'], request.key).to.be.a('string');
        }
        expect(report.publish?.uploaded.files).to.equal(p.collected.files.length + 2);
        expect(report.counts).to.deep.equal({ published: 4 });
      },
    );

    it('a collected file changed after media:collect is not uploaded: it fails, the manifest waits', async () => {
      // One file read whole (a few bytes) and one hashed in chunks (1.5 MiB), each overwritten in place, same size.
      const photo = Buffer.alloc(1536 * 1024);
      for (let index = 0; index < photo.length; index += 4) photo.writeUInt32LE(index, index);
      const p = await project({ sources: { ...SOURCES, 'blog/img/photo.jpg': photo } });
      const changed = [
        p.collected.hashed['blog/img/photo.jpg'] as string,
        p.collected.hashed['shop/fonts/a.woff2'] as string,
      ];
      for (const rel of changed) {
        const file = path.join(p.collectRoot, ...rel.split('/'));
        const bytes = readFileSync(file);
        bytes[bytes.length - 1] = (bytes[bytes.length - 1] as number) ^ 0xff;
        writeFileSync(file, bytes);
      }
      const report = await p.run();
      expect(report.failed).to.equal(true);
      const objects = await p.state();
      for (const rel of changed) expect(objects.has(`static/${rel}`), rel).to.equal(false);
      expect(objects.has('static/manifest.json'), 'the manifest waits for every asset').to.equal(false);
      const reasons = JSON.stringify(report.apps);
      for (const rel of changed) expect(reasons).to.contain(rel);
      expect(reasons).to.contain('changed since media:collect');
    });

    it('a re-publish with no change makes no PUT and one request in all (no listing)', async () => {
      const p = await project();
      await p.run();
      const before = await p.state();
      p.proxy.clear();
      const report = await p.run();
      expect(p.proxy.counts(), JSON.stringify(p.proxy.seen.map((seen) => `${seen.method} ${seen.key}`))).to.deep.equal({
        GET: 1,
      });
      expect(report.failed).to.equal(false);
      expect(Object.keys(report.counts)).to.deep.equal(['up-to-date']);
      expect(await p.state()).to.deep.equal(before);
    });

    it('a changed file uploads its new hashed key (and its plain name, variants and the manifest) only', async () => {
      const p = await project();
      await p.run();
      p.proxy.clear();
      const next = await p.collect({ ...SOURCES, 'blog/css/site.css': `${SITE_CSS}/* v2 */\n` });
      const report = await p.run();
      expect(report.failed, JSON.stringify(report.apps)).to.equal(false);
      const newCss = next.hashed['blog/css/site.css'] as string;
      // Swift's s3api answers 501 to a conditional PUT: the run's first record write is refused (nothing written)
      // and sent again without the condition, the documented fallback. No other server here answers 501.
      const refused = p.proxy.seen.filter((request) => request.method === 'PUT' && request.status === 501);
      expect(refused.map((request) => request.key)).to.deep.equal(
        server.name === 'swift' ? ['static/.app-media-publish.json'] : [],
      );
      const puts = p.proxy.seen
        .filter((request) => request.method === 'PUT' && request.status !== 501)
        .map((request) => request.key)
        .sort();
      expect(puts).to.deep.equal(
        [
          'static/.app-media-publish.json',
          'static/.app-media-publish.json',
          'static/blog/css/site.css',
          'static/blog/css/site.css.br',
          'static/blog/css/site.css.gz',
          `static/${newCss}`,
          `static/${newCss}.br`,
          `static/${newCss}.gz`,
          'static/manifest.json',
        ].sort(),
      );
      expect(p.proxy.counts()['LIST'] ?? 0, 'six new keys are checked with HEADs, not a listing').to.equal(0);
      expect(report.counts).to.deep.equal({ published: 2, 'up-to-date': 1 });
    });

    it(
      'keeps the previous `keep` builds, deletes older objects it uploaded, ' +
        'and never touches a foreign key under or beside the prefix',
      async () => {
        const p = await project({ keep: 1 });
        await putForeign(p.store.endpoint, p.bucket, FOREIGN);
        const foreignBefore = await foreignState(p.store.endpoint, p.bucket);
        await p.run();
        const first = p.collected.hashed['blog/css/site.css'] as string;
        const second = await p.collect({ ...SOURCES, 'blog/css/site.css': `${SITE_CSS}/* 2 */\n` });
        await p.run();
        expect((await p.state()).has(`static/${first}`), 'build 1 is the one earlier build kept').to.equal(true);
        // An object of build 2 changed by hand in the bucket: no longer ours.
        const secondJs = second.hashed['blog/js/app.js'] as string;
        const third = await p.collect({
          ...SOURCES,
          'blog/css/site.css': `${SITE_CSS}/* 3 */\n`,
          'blog/js/app.js': 'console.log(3);\n',
        });
        await p.run();
        await putForeign(p.store.endpoint, p.bucket, { [`static/${secondJs}`]: 'edited by hand\n' });
        const edited = (await p.state()).get(`static/${secondJs}`);
        await p.collect({
          ...SOURCES,
          'blog/css/site.css': `${SITE_CSS}/* 4 */\n`,
          'blog/js/app.js': 'console.log(4);\n',
        });
        p.proxy.clear();
        const report = await p.run();
        expect(report.failed, JSON.stringify(report.apps)).to.equal(false);
        const after = await p.state();
        expect(after.has(`static/${first}`), 'build 1 deleted').to.equal(false);
        expect(after.has(`static/${second.hashed['blog/css/site.css'] as string}`), 'build 2 deleted').to.equal(false);
        expect(after.has(`static/${third.hashed['blog/css/site.css'] as string}`), 'build 3 kept').to.equal(true);
        expect(after.get(`static/${secondJs}`), 'the edited object of build 2 is left as it is').to.deep.equal(edited);
        expect(report.publish?.released).to.equal(1);
        expect(await foreignState(p.store.endpoint, p.bucket), 'every foreign key unchanged').to.deep.equal(
          foreignBefore,
        );
        const deletes = p.proxy.seen.filter((request) => request.method === 'DELETE').map((request) => request.key);
        expect(
          deletes.every((key) => key.startsWith('static/blog/')),
          deletes.join(', '),
        ).to.equal(true);
        expect(p.proxy.counts()['LIST'] ?? 0, 'no listing').to.equal(0);
      },
    );

    it(
      'an object someone else put at a key it would write is a conflict: not overwritten, ' +
        'manifest.json held back, the rest uploaded',
      async () => {
        const p = await project();
        await putForeign(p.store.endpoint, p.bucket, { 'static/blog/css/site.css': 'theirs\n' });
        const theirs = (await p.state()).get('static/blog/css/site.css');
        const report = await p.run();
        expect(report.failed).to.equal(true);
        const blog = report.apps.find((app) => app.name === 'blog');
        expect(blog?.status).to.equal('conflict');
        expect(blog?.reason).to.contain('blog/css/site.css: an object app-media did not upload is at this key');
        expect(report.apps.find((app) => app.name === 'manifest.json')?.status).to.equal('held');
        const after = await p.state();
        expect(after.get('static/blog/css/site.css')).to.deep.equal(theirs);
        expect(after.has('static/manifest.json'), 'pages keep the previous build').to.equal(false);
        expect(after.has(`static/${p.collected.hashed['shop/css/shop.css'] as string}`)).to.equal(true);
      },
    );

    it('--dry-run reads, writes nothing and says what it would do', async () => {
      const p = await project();
      await putForeign(p.store.endpoint, p.bucket, FOREIGN);
      const before = await p.state();
      const report = await p.run({ dryRun: true });
      expect(report.dryRun).to.equal(true);
      expect(report.counts).to.deep.equal({ published: 3 });
      expect(report.publish?.uploaded.files).to.equal(p.collected.files.length + 1);
      expect(p.proxy.seen.filter((request) => request.method === 'PUT' || request.method === 'DELETE')).to.deep.equal(
        [],
      );
      expect(await p.state()).to.deep.equal(before);
    });

    it(
      "a record that is not app-media's, or one of ours that names a key outside the prefix, " +
        'is refused whole: nothing uploaded or deleted',
      async () => {
        for (const text of [
          '{"hello": "world"}',
          'not json',
          JSON.stringify({
            tool: 'gulp-app-media',
            kind: 'publish',
            version: 1,
            objects: { '../other/blog/css/site.css': { sha256: 'a'.repeat(64), size: 10, etag: '"x"' } },
            builds: [
              { id: '0123456789abcdef', at: 'x', keys: ['../other/blog/css/site.css'] },
              { id: '1123456789abcdef', at: 'x', keys: [] },
              { id: '2123456789abcdef', at: 'x', keys: [] },
            ],
          }),
        ]) {
          const p = await project({ keep: 0 });
          await putForeign(p.store.endpoint, p.bucket, { ...FOREIGN, 'static/.app-media-publish.json': text });
          const before = await p.state();
          const error = await p.run().then(
            () => undefined,
            (caught: unknown) => caught,
          );
          expect(isAppMediaError(error) && error.code, String(error)).to.equal('APP_MEDIA_PUBLISH_RECORD_CONFLICT');
          expect(await p.state()).to.deep.equal(before);
          expect(p.proxy.seen.filter((request) => request.method !== 'GET' && request.method !== 'HEAD')).to.deep.equal(
            [],
          );
        }
      },
    );

    it(
      'a forged record naming foreign keys (with their real ETags) ' + 'as its own old build does not get them deleted',
      async () => {
        const p = await project({ keep: 0 });
        await putForeign(p.store.endpoint, p.bucket, FOREIGN);
        const foreign = [...(await p.state('static/'))].filter(([key]) => !key.startsWith('static/.app-media'));
        const objects = Object.fromEntries(
          foreign.map(([key, object]) => [
            key.slice('static/'.length),
            { sha256: object.sha256, size: object.size, etag: object.etag },
          ]),
        );
        await putForeign(p.store.endpoint, p.bucket, {
          'static/.app-media-publish.json': JSON.stringify({
            tool: 'gulp-app-media',
            kind: 'publish',
            version: 1,
            objects,
            builds: [{ id: 'fedcba9876543210', at: 'x', keys: Object.keys(objects) }],
          }),
        });
        const before = await foreignState(p.store.endpoint, p.bucket);
        const report = await p.run();
        expect(report.failed, JSON.stringify(report.apps)).to.equal(false);
        expect(p.proxy.seen.filter((request) => request.method === 'DELETE')).to.deep.equal([]);
        expect(await foreignState(p.store.endpoint, p.bucket)).to.deep.equal(before);
        expect(report.publish?.released).to.equal(Object.keys(objects).length);
      },
    );

    it(
      'retries through connection resets, 503 SlowDown, 500s, a stalled request and a reply cut mid-body; ' +
        'the bucket ends right',
      async () => {
        const p = await project({ publish: { timeout: 400 } });
        const put =
          (key: string) =>
          (request: { method: string; key: string }): boolean =>
            request.method === 'PUT' && request.key.endsWith(key);
        p.proxy.inject(
          {
            kind: 'cut',
            when: (request) => request.method === 'GET' && request.key.endsWith('.app-media-publish.json'),
          },
          { kind: 'reset', when: put('.css'), times: 2 },
          { kind: 'slowdown', when: put('.js'), times: 3 },
          { kind: 'server-error', when: put('.png') },
          { kind: 'stall', when: put('.woff2'), ms: 1500 },
          { kind: 'slowdown', when: put('manifest.json') },
        );
        const report = await p.run();
        expect(report.failed, JSON.stringify(report.apps)).to.equal(false);
        expect(p.proxy.armed(), 'every fault was hit').to.equal(0);
        const objects = await p.state();
        for (const rel of p.collected.files)
          expect(objects.get(`static/${rel}`)?.sha256, rel).to.equal(sha256(readLocal(p.collectRoot, rel)));
        expect(objects.has('static/manifest.json')).to.equal(true);
        p.proxy.clear();
        await p.run();
        expect(p.proxy.counts(), 'then a re-run has nothing to do').to.deep.equal({ GET: 1 });
      },
    );

    it(
      'a file over multipartThreshold goes up in parts (lib-storage), streamed; ' +
        'its bytes and headers arrive whole',
      async () => {
        const big = Buffer.alloc(11 * 1024 * 1024);
        for (let index = 0; index < big.length; index += 4096) big.writeUInt32LE(index, index);
        const p = await project({
          sources: { 'blog/video/intro.mp4': big, 'blog/css/site.css': SITE_CSS },
          publish: { multipartThreshold: 5 * 1024 * 1024 },
        });
        const report = await p.run();
        expect(report.failed, JSON.stringify(report.apps)).to.equal(false);
        const key = `static/${p.collected.hashed['blog/video/intro.mp4'] as string}`;
        const object = (await p.state()).get(key) as StoredObject;
        expect(object.sha256).to.equal(sha256(big));
        expect(object.contentType).to.equal('video/mp4');
        expect(object.cacheControl).to.equal('public, max-age=31536000, immutable');
        expect(
          p.proxy.seen.some(
            (request) => request.method === 'POST' && request.key === key && request.query.includes('uploads'),
          ),
          'a multipart upload',
        ).to.equal(true);
        p.proxy.clear();
        await p.run();
        expect(p.proxy.counts()).to.deep.equal({ GET: 1 });
      },
    );

    it(
      'credentials without s3:ListBucket: the new keys are checked with a HEAD each instead, ' +
        'and the publish goes through',
      async () => {
        const p = await project();
        p.proxy.inject({ kind: 'deny', times: 100, when: (request) => request.method === 'GET' && request.key === '' });
        const report = await p.run();
        expect(report.failed, JSON.stringify(report.apps)).to.equal(false);
        expect(p.proxy.armed(), 'the listing was tried, and refused, once').to.equal(99);
        expect(p.proxy.counts()['HEAD']).to.equal(p.collected.files.length + 1);
        expect((await p.state()).has('static/manifest.json')).to.equal(true);
      },
    );

    it('a missing bucket, refused credentials and access denied are coded errors that name no credential', async () => {
      const p = await project();
      const missing = await publish({
        cwd: p.root,
        publish: { bucket: 'no-such-bucket', prefix: 'static', endpoint: p.proxy.endpoint, forcePathStyle: true },
      }).then(
        () => undefined,
        (caught: unknown) => caught,
      );
      expect(isAppMediaError(missing) && missing.code).to.equal('APP_MEDIA_PUBLISH_NO_BUCKET');
      p.proxy.inject({ kind: 'deny', when: (request) => request.method === 'GET' });
      const denied = await p.run().then(
        () => undefined,
        (caught: unknown) => caught,
      );
      expect(isAppMediaError(denied) && denied.code).to.equal('APP_MEDIA_PUBLISH_ACCESS_DENIED');
      expect(String(denied)).to.contain('s3://');
    });
  });
}

function readLocal(collectRoot: string, rel: string): Buffer {
  return readFileSync(path.join(collectRoot, ...rel.split('/')));
}

async function foreignState(endpoint: string, bucket: string): Promise<Record<string, StoredObject | undefined>> {
  const all = await bucketState(endpoint, bucket);
  return Object.fromEntries(Object.keys(FOREIGN).map((key) => [key, all.get(key)]));
}
