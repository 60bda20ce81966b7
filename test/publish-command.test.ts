/**
 * media:publish as a user runs it: the `app-media publish` command (and gulp's
 * media:publish) in real child processes against s3rver and moto_server on
 * 127.0.0.1 (moto skipped, and said so, where absent; a one-node OpenStack Swift
 * too, opt-in: npm run test:swift), killed with SIGKILL at
 * several moments and run again; `verify --published`; --json, --dry-run, exit
 * codes; credentials from the environment only and never printed. What is
 * published is what the real media:collect wrote from the apps' files.
 */
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { verify } from '../src/index.js';
import { publish } from '../src/publish/index.js';
import { collectSources, OUT, sourceApps, writeSources } from './support/collect.js';
import * as stores from './support/object-stores.js';
import type { ObjectStore, StoredObject } from './support/object-stores.js';
import { APP_MEDIA_BIN, GULP_BIN, jsonReport, makeProject, removeTempDirs, runAsync } from './support/project.js';
import { startSwift, swiftAvailable } from './support/swift.js';

/** The `app-media` command and the gulp CLI, run without blocking (the servers answer from this process). */
const appMedia = (cwd: string, args: string[], env: NodeJS.ProcessEnv = {}) =>
  runAsync([APP_MEDIA_BIN, ...args], cwd, env);
const gulp = (cwd: string, args: string[], env: NodeJS.ProcessEnv = {}) =>
  runAsync([GULP_BIN, '--no-color', ...args], cwd, env);

stores.useTestCredentials();

/** Three apps, enough objects (42 with originals and variants) for a kill to land mid-run. */
function sources(version: number): Record<string, string | Buffer> {
  const out: Record<string, string | Buffer> = {};
  for (const app of ['blog', 'shop', 'news']) {
    for (let index = 0; index < 3; index++)
      out[`${app}/css/part${index}.css`] = `.${app}-${index} { order: ${index}; }\n/* ${version} */\n`.repeat(12);
    out[`${app}/img/logo.png`] = Buffer.alloc(2000 + version, version);
  }
  return out;
}

const FOREIGN: Record<string, string> = {
  'static/notes.txt': 'not ours\n',
  'static/blog/css/part0.0000000000.css': 'hashed-looking, not ours\n',
  'static-old/blog/css/part0.css': 'beside the prefix\n',
  'static.json': '{}\n',
};

const moto = stores.motoCommand();
const swiftMissing = swiftSkipReason();
const SERVERS = [
  { name: 's3rver', start: stores.startS3rver },
  {
    name: 'moto',
    start: moto ? () => stores.startMoto(moto) : undefined,
    missing: 'moto_server is not installed here (pip install "moto[server]"): the moto half of this suite is SKIPPED',
  },
  {
    name: 'swift',
    start: swiftMissing ? undefined : startSwift,
    missing: `the swift part of this suite is SKIPPED: ${swiftMissing}`,
  },
] as const;

/** Swift (a one-node OpenStack Swift, s3api) runs only when asked: it takes seconds to start. */
function swiftSkipReason(): string | undefined {
  return process.env['APP_MEDIA_TEST_SWIFT'] !== '1'
    ? 'opt-in, run it with npm run test:swift (APP_MEDIA_TEST_SWIFT=1)'
    : swiftAvailable();
}

let buckets = 0;

for (const server of SERVERS) {
  describe(`app-media publish against ${server.name}: the command, kill -9, verify --published`, function () {
    let store: ObjectStore | undefined;
    const proxies: stores.FaultProxy[] = [];
    before(async function () {
      if (!server.start) {
        console.log(`      ${'missing' in server ? server.missing : server.name}`);
        this.skip();
      }
      store = await server.start();
      // Swift's tempauth takes a key of its own; the others the usual one.
      stores.useTestCredentials(store);
    });
    after(async () => {
      await store?.stop();
      stores.useTestCredentials();
      removeTempDirs();
    });
    afterEach(async () => {
      for (const proxy of proxies.splice(0)) await proxy.stop();
    });

    async function project(keep = 0, gulpToo = false) {
      const s = store as ObjectStore;
      const bucket = `cmd-${++buckets}`;
      await s.createBucket(bucket);
      const proxy = await new stores.FaultProxy(s.port, bucket).start();
      proxies.push(proxy);
      const root = makeProject({
        apps: [],
        gulp: gulpToo,
        config: {
          mediaRoot: 'public/media',
          collectRoot: OUT,
          apps: sourceApps(sources(1)),
          keep,
          publish: { bucket, prefix: 'static', endpoint: proxy.endpoint, forcePathStyle: true },
        },
      });
      const collectRoot = path.join(root, ...OUT.split('/'));
      /** The apps' files as `files`, then media:collect: the build it wrote. */
      const collect = (files: Record<string, string | Buffer>) => collectSources(root, files);
      return {
        root,
        collectRoot,
        bucket,
        proxy,
        collect,
        endpoint: s.endpoint,
        state: () => stores.bucketState(s.endpoint, bucket),
      };
    }

    it(
      'killed with SIGKILL at five moments (intent written, mid-assets, manifest sent, record written, ' +
        'mid-deletes), a re-run converges without uploading again what was already there',
      async () => {
        const moments: Array<{ name: string; after: (puts: string[], deletes: number) => boolean }> = [
          { name: 'right after the intent', after: (puts) => puts.length >= 1 },
          { name: 'mid-assets', after: (puts) => puts.length >= 12 },
          { name: 'manifest sent', after: (puts) => puts.includes('static/manifest.json') },
          {
            name: 'record written',
            after: (puts) => puts.filter((key) => key.endsWith('.app-media-publish.json')).length >= 2,
          },
          { name: 'mid-deletes', after: (_puts, deletes) => deletes >= 3 },
        ];
        // What a run without a kill leaves: the reference.
        const reference = await project();
        await stores.putForeign(reference.endpoint, reference.bucket, FOREIGN);
        await reference.collect(sources(1));
        await publish({ cwd: reference.root });
        await reference.collect(sources(2));
        await publish({ cwd: reference.root });
        const referenceState = await reference.state();
        const expected = withoutRecord(referenceState);

        for (const moment of moments) {
          const p = await project();
          await stores.putForeign(p.endpoint, p.bucket, FOREIGN);
          await p.collect(sources(1));
          await publish({ cwd: p.root });
          const foreignBefore = await stores.objectsAt(p.endpoint, p.bucket, Object.keys(FOREIGN));
          await p.collect(sources(2));
          p.proxy.clear();
          // Every write waits a little at the proxy, so the kill lands while requests are in flight.
          p.proxy.inject({
            kind: 'stall',
            ms: 15,
            times: 1000,
            when: (request) => request.method === 'PUT' || request.method === 'DELETE',
          });
          const child = spawn(process.execPath, [APP_MEDIA_BIN, 'publish'], {
            cwd: p.root,
            stdio: 'ignore',
            env: { ...process.env, ...stores.TEST_CREDENTIALS, ...store?.credentials },
          });
          const exited = new Promise<string | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
          const killedAt = await new Promise<string>((resolve) => {
            const poll = setInterval(() => {
              // A PUT refused with 501 wrote nothing (Swift's s3api refuses conditional PUTs, and the run sends it
              // again without the condition): the moments count the others, so each is the same moment on every server.
              const puts = p.proxy.seen
                .filter((request) => request.method === 'PUT' && request.status !== 501)
                .map((request) => request.key);
              const deletes = p.proxy.seen.filter((request) => request.method === 'DELETE').length;
              if (moment.after(puts, deletes) || child.exitCode !== null) {
                clearInterval(poll);
                child.kill('SIGKILL');
                resolve(`${puts.length} PUTs, ${deletes} DELETEs seen`);
              }
            }, 2);
          });
          expect(await exited, `${moment.name}: killed mid-run (${killedAt})`).to.equal('SIGKILL');
          await new Promise((resolve) => setTimeout(resolve, 50)); // what was in flight at the kill reaches the server
          // Uploads the server answered before the kill: a re-run must not upload them again.
          const done = new Set(
            p.proxy.seen
              .filter(
                (request) =>
                  request.method === 'PUT' &&
                  request.status === 200 &&
                  !request.key.endsWith('.app-media-publish.json'),
              )
              .map((request) => request.key),
          );
          p.proxy.clear();
          const rerun = await publish({ cwd: p.root });
          expect(rerun.failed, `${moment.name}: ${JSON.stringify(rerun.apps)}`).to.equal(false);
          const again = p.proxy.seen
            .filter((request) => request.method === 'PUT' && done.has(request.key))
            .map((request) => request.key);
          expect(again, `${moment.name}: uploaded again though already there (${done.size} were)`).to.deep.equal([]);
          const after = await p.state();
          expect(
            withoutRecord(after),
            `${moment.name}: the bucket ends as a run without a kill leaves it`,
          ).to.deep.equal(expected);
          expect(pick(after, Object.keys(FOREIGN)), `${moment.name}: foreign keys unchanged`).to.deep.equal(
            foreignBefore,
          );
          p.proxy.clear();
          await publish({ cwd: p.root });
          expect(p.proxy.counts(), `${moment.name}: then nothing left to do`).to.deep.equal({ GET: 1 });
        }
      },
    );

    it(
      '--json prints the report; --dry-run writes nothing; ' + 'a conflict exits 1 with the key and a hint on stderr',
      async () => {
        const p = await project();
        const collected = await p.collect(sources(1));
        const dry = await appMedia(p.root, ['publish', '--dry-run']);
        expect(dry.status, dry.output).to.equal(0);
        expect(dry.stdout).to.match(
          /^would publish\s+blog\s+s3:\/\/cmd-\d+\/static\/blog\/ \(\d+ files, [\d.]+ KiB\)$/m,
        );
        expect(dry.stdout).to.match(
          /^media:publish: dry run, nothing written: 4 would publish in s3:\/\/cmd-\d+\/static\/ \(\d+ ms\)$/m,
        );
        expect(p.proxy.seen.filter((request) => request.method === 'PUT')).to.deep.equal([]);
        const json = await appMedia(p.root, ['publish', '--json']);
        expect(json.status, json.output).to.equal(0);
        const report = jsonReport(json);
        expect(report['task']).to.equal('publish');
        expect(report['destination']).to.match(/^s3:\/\/cmd-\d+\/static\/$/);
        expect((report['publish'] as { uploaded: { files: number } }).uploaded.files).to.equal(
          collected.files.length + 1,
        );

        await p.collect({ ...sources(1), 'blog/css/new.css': '.new {}\n' });
        await stores.putForeign(p.endpoint, p.bucket, { 'static/blog/css/new.css': 'theirs' });
        const conflict = await appMedia(p.root, ['publish']);
        expect(conflict.status).to.equal(1);
        expect(conflict.stderr).to.match(/^conflict\s+blog\s+s3:\/\/cmd-\d+\/static\/blog\/( \(.*\))?$/m);
        expect(conflict.stderr).to.contain('blog/css/new.css: an object app-media did not upload is at this key');
        expect(conflict.stderr).to.match(/hint: app-media never overwrites an object it did not upload/);
        expect(conflict.stderr).to.match(/^held\s+manifest\.json/m);
      },
    );

    it(
      'verify --published: ok after a publish; a missing object, ' +
        'one replaced by hand and one with wrong headers each fail it',
      async () => {
        const p = await project(2);
        const collected = await p.collect(sources(1));
        await publish({ cwd: p.root });
        const ok = await appMedia(p.root, ['verify', '--published']);
        expect(ok.status, ok.output).to.equal(0);
        expect(ok.stdout).to.match(/^media:verify: 4 ok in s3:\/\/cmd-\d+\/static\/ \(\d+ ms\)$/m);

        const client = await stores.testClient(p.endpoint);
        const { DeleteObjectCommand, PutObjectCommand, GetObjectCommand } = await import('@aws-sdk/client-s3');
        const hashed = (name: string): string => `static/${collected.hashed[name] as string}`;
        await client.send(new DeleteObjectCommand({ Bucket: p.bucket, Key: `${hashed('blog/css/part1.css')}.br` }));
        await client.send(
          new PutObjectCommand({ Bucket: p.bucket, Key: hashed('shop/img/logo.png'), Body: Buffer.alloc(2001, 9) }),
        );
        const same = await client.send(new GetObjectCommand({ Bucket: p.bucket, Key: hashed('news/css/part2.css') }));
        const bytes = Buffer.from((await same.Body?.transformToByteArray()) ?? []);
        await client.send(
          new PutObjectCommand({
            Bucket: p.bucket,
            Key: hashed('news/css/part2.css'),
            Body: bytes,
            ContentType: 'text/plain',
            CacheControl: 'public, max-age=31536000, immutable',
            Metadata: same.Metadata ?? {},
          }),
        );
        client.destroy();

        const report = await verify({ cwd: p.root, published: true });
        const status = Object.fromEntries(report.apps.map((app) => [app.name, app.status]));
        expect(status).to.deep.equal({ blog: 'missing', 'manifest.json': 'ok', news: 'wrong-headers', shop: 'drift' });
        expect(report.failed).to.equal(true);
        const shown = await appMedia(p.root, ['verify', '--published']);
        expect(shown.status).to.equal(1);
        expect(shown.stderr).to.contain(`${collected.hashed['blog/css/part1.css'] as string}.br: not in the bucket`);
        expect(shown.stderr).to.contain('Content-Type "text/plain", not "text/css; charset=utf-8"');
      },
    );

    if (server.name === 's3rver') {
      it(
        'refused credentials are APP_MEDIA_PUBLISH_CREDENTIALS, and no key or secret is printed, ' +
          'also with --verbose and --json',
        async () => {
          const p = await project();
          await p.collect(sources(1));
          const secret = 'sEcReT+do-not-print-0123456789abcdef';
          const wrong = { AWS_ACCESS_KEY_ID: 'AKIAWRONGKEY0000TEST', AWS_SECRET_ACCESS_KEY: secret };
          for (const args of [['publish'], ['publish', '--verbose'], ['publish', '--json']]) {
            const run = await appMedia(p.root, args, wrong);
            expect(run.status, run.output).to.equal(1);
            expect(run.output).to.contain('APP_MEDIA_PUBLISH_CREDENTIALS');
            expect(run.output).to.not.contain(secret);
            expect(run.output).to.not.contain('AKIAWRONGKEY0000TEST');
          }
          const none = await appMedia(p.root, ['publish'], {
            AWS_ACCESS_KEY_ID: '',
            AWS_SECRET_ACCESS_KEY: '',
            AWS_SHARED_CREDENTIALS_FILE: '/nonexistent',
            AWS_CONFIG_FILE: '/nonexistent',
            AWS_EC2_METADATA_DISABLED: 'true',
          });
          expect(none.status, none.output).to.equal(1);
          expect(none.stderr).to.match(/^APP_MEDIA_PUBLISH_CREDENTIALS: .*no credentials found/m);
          expect(p.proxy.seen.filter((request) => request.method === 'PUT')).to.deep.equal([]);
        },
      );

      it(
        'progress: a line on a terminal (rewritten in place, cleared before the summary), ' + 'none when piped',
        async () => {
          const p = await project();
          await p.collect(sources(1));
          // Slow enough for the line to show (it waits a second before drawing):
          // 61 PUTs, 8 at a time, each held 250 ms.
          p.proxy.inject({ kind: 'stall', ms: 250, times: 1000, when: (request) => request.method === 'PUT' });
          const piped = await appMedia(p.root, ['publish', '--dry-run']);
          expect(piped.output).to.not.contain('\r');
          // `script` gives the command a terminal; its whole screen output comes back on stdout.
          const onTerminal = await runAsync(
            [
              '-e',
              `require('child_process').execFileSync('script', ['-qec', ` +
                `${JSON.stringify(`${process.execPath} ${APP_MEDIA_BIN} publish`)}, '/dev/null'], ` +
                `{ stdio: 'inherit' })`,
            ],
            p.root,
            stores.TEST_CREDENTIALS,
          );
          expect(onTerminal.status, onTerminal.output).to.equal(0);
          // The progress line is rewritten in place: a carriage return and the terminal's erase-line code.
          /* eslint-disable no-control-regex */
          expect(onTerminal.stdout).to.match(/\r\u001b\[Kmedia:publish: \d+\/\d+ objects, /);
          expect(onTerminal.stdout).to.match(/\r\u001b\[K(\r\n)?published\s+blog/);
          /* eslint-enable no-control-regex */
          expect(onTerminal.stdout).to.match(/media:publish: 4 published in s3:/);
        },
      );

      it(
        'a collect killed mid-run (files written, its records not yet) is APP_MEDIA_COLLECT_UNFINISHED: ' +
          'not a request sent; once collect has run again, the publish goes through',
        async () => {
          const p = await project();
          await p.collect(sources(1));
          await publish({ cwd: p.root });
          const before = await p.state();
          writeSources(p.root, sources(2));
          const killed = await appMedia(p.root, ['collect'], { APP_MEDIA_COLLECT_KILL: 'manifest' });
          expect(killed.status, killed.output).to.equal(null);
          p.proxy.clear();
          const refused = await appMedia(p.root, ['publish']);
          expect(refused.status, refused.output).to.equal(1);
          const line = refused.stderr.split('\n').find((text) => text.startsWith('APP_MEDIA_COLLECT_UNFINISHED: '));
          expect(line, refused.stderr).to.match(/nothing to publish yet: /);
          expect(line).to.match(/a media:collect run is writing, or was stopped before it finished$/);
          expect(refused.stderr).to.match(/hint: run media:collect again .*nothing was uploaded/);
          expect(p.proxy.seen, 'not a request reached the store').to.deep.equal([]);
          expect(await p.state()).to.deep.equal(before);
          const collected = await appMedia(p.root, ['collect']);
          expect(collected.status, collected.output).to.equal(0);
          const published = await appMedia(p.root, ['publish']);
          expect(published.status, published.output).to.equal(0);
          const manifest = (await p.state()).get('static/manifest.json');
          expect(manifest?.sha256, 'the bucket serves the build collect finished').to.equal(
            sha256File(path.join(p.collectRoot, 'manifest.json')),
          );
        },
      );

      it('gulp media:publish runs the same task (lines and exit status)', async () => {
        const p = await project(2, true);
        await p.collect(sources(1));
        const run = await gulp(p.root, ['media:publish'], stores.TEST_CREDENTIALS);
        expect(run.status, run.output).to.equal(0);
        expect(run.stdout).to.match(/media:publish: 4 published in s3:\/\/cmd-\d+\/static\/ \(\d+ ms\)/);
        const again = await gulp(p.root, ['media:publish', '--dry-run'], stores.TEST_CREDENTIALS);
        expect(again.stdout).to.match(
          /media:publish: dry run, nothing written: 4 up-to-date in s3:\/\/cmd-\d+\/static\//,
        );
      });
    }
  });
}

function sha256File(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

function withoutRecord(objects: Map<string, StoredObject>): Record<
  string,
  {
    sha256: string;
    contentType: string | undefined;
    cacheControl: string | undefined;
    contentEncoding: string | undefined;
  }
> {
  return Object.fromEntries(
    [...objects]
      .filter(([key]) => !key.endsWith('.app-media-publish.json'))
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([key, object]) => [
        key,
        {
          sha256: object.sha256,
          contentType: object.contentType,
          cacheControl: object.cacheControl,
          contentEncoding: object.contentEncoding,
        },
      ]),
  );
}

function pick(objects: Map<string, StoredObject>, keys: string[]): Record<string, StoredObject | undefined> {
  return Object.fromEntries(keys.map((key) => [key, objects.get(key)]));
}
