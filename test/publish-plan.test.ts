/**
 * media:publish without a server: the reader of collectRoot refuses every
 * off-contract file before a path is joined or a key built (hostile inputs), the
 * record check refuses forged records whole, and the planner uploads only what
 * changed, manifests last, and deletes only recorded objects of builds no longer kept.
 */
import { expect } from 'chai';
import { readFileSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { verify } from '../src/verify.js';
import { configSchema } from '../src/core/config/schema.js';
import { validateConfig } from '../src/core/config/validate.js';
import { isAppMediaError, type AppMediaError } from '../src/core/errors.js';
import { readCollected } from '../src/publish/collected.js';
import { DEFAULT_CACHE_CONTROL } from '../src/publish/headers.js';
import { planPublish } from '../src/publish/plan.js';
import { checkRecord, emptyRecord, serializeRecord, type RemoteRecord } from '../src/publish/remote-record.js';
import { canonicalJson, sha256, writeCollected } from './support/collect-fixture.js';
import { collectedInProcess, makeCollectProject, OUT, readRecords } from './support/collect.js';
import { appMedia, removeTempDirs, tempDir } from './support/project.js';

after(removeTempDirs);

const SOURCES = { 'blog/css/site.css': 'body { color: red; }\n'.repeat(20), 'blog/img/a.png': 'png' };

function collectRoot(): string {
  const root = path.join(tempDir('collected'), 'build');
  writeCollected(root, SOURCES);
  return root;
}

async function refusal(root: string): Promise<string> {
  const error = await readCollected(root, 'build').then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(isAppMediaError(error), String(error)).to.equal(true);
  return isAppMediaError(error) ? `${error.code} ${error.field ?? ''}` : '';
}

function editJson(file: string, edit: (value: Record<string, any>) => void): void {
  const value = JSON.parse(readFileSync(file, 'utf8')) as Record<string, any>;
  edit(value);
  writeFileSync(file, JSON.stringify(value));
}

/**
 * A forger who knows how collect names a build: the manifest edited, its id recomputed, the records' newest build
 * renamed to match.
 */
function forgeManifest(root: string, edit: (manifest: Record<string, any>) => void): void {
  let build = '';
  editJson(path.join(root, 'manifest.json'), (manifest) => {
    edit(manifest);
    build = sha256(canonicalJson(manifest['files'])).slice(0, 16);
    manifest['build'] = build;
  });
  editJson(path.join(root, '.app-media-collect.json'), (records) => {
    records['builds'][0]['id'] = build;
  });
}

describe('media:publish: the reader of collectRoot (untrusted input)', () => {
  it("reads the contract's files: the newest build, its files with sha256 and size, the manifest entries", async () => {
    const root = collectRoot();
    const build = await readCollected(root, 'build');
    expect(build.files.map((file) => file.rel)).to.include.members([
      'blog/css/site.css',
      'blog/css/site.css.br',
      'blog/img/a.png',
    ]);
    expect(build.manifest.entries.map((entry) => entry.name)).to.deep.equal(['blog/css/site.css', 'blog/img/a.png']);
    expect(build.files.find((file) => file.rel.endsWith('.css.gz'))?.encoding).to.equal('gzip');
  });

  const hostile: Array<[string, (root: string) => void, RegExp]> = [
    [
      'a records path with ".."',
      (root) =>
        editJson(path.join(root, '.app-media-collect.json'), (records) => {
          records['files']['../../etc/passwd'] = { size: 1, mtimeMs: 1, sha256: 'a'.repeat(64), immutable: true };
        }),
      /APP_MEDIA_BAD_COLLECT_OUTPUT files\["..\/..\/etc\/passwd"\]/,
    ],
    [
      'an absolute records path',
      (root) =>
        editJson(path.join(root, '.app-media-collect.json'), (records) => {
          records['files']['/etc/passwd'] = { size: 1, mtimeMs: 1, sha256: 'a'.repeat(64), immutable: true };
        }),
      /BAD_COLLECT_OUTPUT files\["\/etc\/passwd"\]/,
    ],
    [
      'a backslash in a path',
      (root) =>
        editJson(path.join(root, '.app-media-collect.json'), (records) => {
          records['builds'][0]['files'].push('blog\\..\\x');
        }),
      /BAD_COLLECT_OUTPUT builds\[0\]\.files/,
    ],
    [
      'an uppercase sha256',
      (root) =>
        editJson(path.join(root, '.app-media-collect.json'), (records) => {
          records['files']['blog/img/a.png']['sha256'] = 'A'.repeat(64);
        }),
      /sha256/,
    ],
    [
      'a negative size',
      (root) =>
        editJson(path.join(root, '.app-media-collect.json'), (records) => {
          records['files']['blog/img/a.png']['size'] = -1;
        }),
      /size/,
    ],
    [
      'records of another tool',
      (root) =>
        editJson(path.join(root, '.app-media-collect.json'), (records) => {
          records['tool'] = 'other';
        }),
      /BAD_COLLECT_OUTPUT tool/,
    ],
    [
      'a manifest whose build id is not that of its entries',
      (root) =>
        editJson(path.join(root, 'manifest.json'), (manifest) => {
          manifest['build'] = '0000000000000000';
        }),
      /BAD_COLLECT_OUTPUT build/,
    ],
    [
      'a manifest entry changed after collect wrote it (its id left as it was)',
      (root) =>
        editJson(path.join(root, 'manifest.json'), (manifest) => {
          manifest['files']['blog/img/a.png']['size'] = 4;
        }),
      /BAD_COLLECT_OUTPUT build/,
    ],
    [
      'a manifest path outside the build',
      (root) =>
        forgeManifest(root, (manifest) => {
          manifest['files']['blog/img/a.png']['path'] = 'blog/img/other.png';
        }),
      /BAD_COLLECT_OUTPUT files\["blog\/img\/a\.png"\]\.path/,
    ],
    [
      'a manifest path with ".."',
      (root) =>
        forgeManifest(root, (manifest) => {
          manifest['files']['blog/img/a.png']['path'] = '../a.png';
        }),
      /BAD_COLLECT_OUTPUT files\["blog\/img\/a\.png"\]\.path/,
    ],
    [
      'a manifest path that is an original name, not a fingerprinted one',
      (root) =>
        forgeManifest(root, (manifest) => {
          manifest['files']['blog/img/a.png']['path'] = 'blog/img/a.png';
        }),
      /BAD_COLLECT_OUTPUT files\["blog\/img\/a\.png"\]\.path/,
    ],
    [
      'a variant of an original name recorded as immutable',
      (root) =>
        editJson(path.join(root, '.app-media-collect.json'), (records) => {
          records['files']['blog/css/site.css.br']['immutable'] = true;
        }),
      /BAD_COLLECT_OUTPUT files\["blog\/css\/site\.css\.br"\]\.immutable/,
    ],
    [
      'a gzip variant whose encoding is "gz"',
      (root) =>
        editJson(path.join(root, '.app-media-collect.json'), (records) => {
          records['files']['blog/css/site.css.gz']['encoding'] = 'gz';
        }),
      /BAD_COLLECT_OUTPUT files\["blog\/css\/site\.css\.gz"\]\.encoding/,
    ],
    [
      'records that are a symbolic link',
      (root) => {
        const records = path.join(root, '.app-media-collect.json');
        writeFileSync(`${records}.real`, readFileSync(records));
        unlinkSync(records);
        symlinkSync(`${records}.real`, records);
      },
      /BAD_COLLECT_OUTPUT/,
    ],
    [
      'malformed JSON',
      (root) => writeFileSync(path.join(root, 'manifest.json'), '{"version": 1,'),
      /BAD_COLLECT_OUTPUT/,
    ],
  ];
  for (const [name, spoil, expected] of hostile) {
    it(`refuses ${name} whole, with a coded error naming the field`, async () => {
      const root = collectRoot();
      spoil(root);
      expect(await refusal(root)).to.match(expected);
    });
  }

  it(
    'records one build behind manifest.json (a collect stopped between the two) ' + 'are APP_MEDIA_COLLECT_UNFINISHED',
    async () => {
      const root = collectRoot();
      const first = readFileSync(path.join(root, '.app-media-collect.json'));
      writeCollected(root, { ...SOURCES, 'blog/img/a.png': 'png 2' });
      writeFileSync(path.join(root, '.app-media-collect.json'), first);
      expect(await refusal(root)).to.equal('APP_MEDIA_COLLECT_UNFINISHED ');
    },
  );

  it('no collect output is APP_MEDIA_NOTHING_COLLECTED', async () => {
    const error = await readCollected(tempDir('empty'), 'build').then(
      () => undefined,
      (caught: unknown) => caught,
    );
    expect(isAppMediaError(error) && error.code).to.equal('APP_MEDIA_NOTHING_COLLECTED');
  });
});

describe('media:publish: the reader of what the real media:collect wrote', () => {
  it(
    'reads every file of the build: fingerprinted names and their variants immutable, ' +
      'original names and theirs not, .gz as gzip; dirs and own ignored',
    async () => {
      const root = makeCollectProject({ gulp: false, config: { revManifest: true } });
      await collectedInProcess(root);
      const records = readRecords(root) as unknown as Record<string, unknown>;
      expect(records, 'collect writes the optional fields the reader must ignore').to.include.keys('dirs', 'own');
      const build = await readCollected(path.join(root, OUT), OUT);
      const manifest = JSON.parse(readFileSync(path.join(root, OUT, 'manifest.json'), 'utf8')) as {
        build: string;
        files: Record<string, { path: string }>;
      };
      expect(build.id).to.equal(manifest.build);
      expect(build.files.map((file) => file.rel)).to.deep.equal([...readRecords(root).builds[0]!.files].sort());
      const byName = new Map(build.files.map((file) => [file.rel, file]));
      const hashedBase = manifest.files['blog/css/base.css']!.path;
      expect(byName.get(hashedBase)?.immutable).to.equal(true);
      expect(byName.get(`${hashedBase}.gz`)).to.include({ immutable: true, encoding: 'gzip' });
      expect(byName.get('blog/css/base.css')?.immutable).to.equal(false);
      expect(byName.get('blog/css/base.css.br')).to.include({ immutable: false, encoding: 'br' });
      expect(build.manifest.entries.map((entry) => entry.name)).to.deep.equal(Object.keys(manifest.files));
      expect(build.revManifest?.rel).to.equal('rev-manifest.json');
    },
  );

  it(
    'a collect killed after manifest.json, before its records: APP_MEDIA_COLLECT_UNFINISHED (its pending list; ' +
      'without it, the build ids apart); after a new collect, read',
    async () => {
      const root = makeCollectProject({ gulp: false });
      await collectedInProcess(root);
      writeFileSync(path.join(root, 'apps/blog/app_media/blog/css/base.css'), 'body { margin: 2px; }\n'.repeat(30));
      const killed = appMedia(root, ['collect'], { APP_MEDIA_COLLECT_KILL: 'manifest' });
      expect(killed.status, killed.output).to.equal(null);
      const out = path.join(root, OUT);
      const pendingError = await readCollected(out, OUT).then(
        () => undefined,
        (caught: unknown) => caught,
      );
      expect(isAppMediaError(pendingError) && `${pendingError.code} ${pendingError.message}`).to.match(
        /^APP_MEDIA_COLLECT_UNFINISHED .*\.app-media-collect-pending\.json is there/,
      );
      expect(isAppMediaError(pendingError) && pendingError.hint).to.match(/^run media:collect again/);
      const pending = path.join(out, '.app-media-collect-pending.json');
      const pendingBytes = readFileSync(pending);
      unlinkSync(pending);
      const behind = await readCollected(out, OUT).then(
        () => undefined,
        (caught: unknown) => caught,
      );
      expect(isAppMediaError(behind) && `${behind.code} ${behind.message}`).to.match(
        new RegExp(
          '^APP_MEDIA_COLLECT_UNFINISHED .*manifest\\.json describes build [0-9a-f]{16}, ' +
            'but the newest build of \\.app-media-collect\\.json is [0-9a-f]{16}',
        ),
      );
      writeFileSync(pending, pendingBytes);
      await collectedInProcess(root);
      expect((await readCollected(out, OUT)).id).to.equal(readRecords(root).builds[0]!.id);
    },
  );
});

describe('media:publish: the record in the bucket (untrusted input)', () => {
  const valid = (): RemoteRecord => ({
    objects: { 'blog/a.css': { sha256: 'a'.repeat(64), size: 3, etag: '"e"' } },
    builds: [{ id: '0123456789abcdef', at: 't', keys: ['blog/a.css'] }],
  });
  it('reads back what it writes', () => {
    const checked = checkRecord(serializeRecord(valid()));
    expect(checked).to.deep.equal({ ok: true, record: valid() });
  });
  it('takes an object named __proto__ or toString as an entry like any other, not as a property', () => {
    const raw = JSON.parse(serializeRecord(valid())) as { objects: Record<string, unknown> };
    const entry = { sha256: 'b'.repeat(64), size: 4, etag: '"f"' };
    const text = JSON.stringify(raw).replace('"objects":{', `"objects":{"__proto__":${JSON.stringify(entry)},`);
    const checked = checkRecord(text);
    if (!checked.ok) throw new Error(checked.why);
    expect(Object.keys(checked.record.objects).sort()).to.deep.equal(['__proto__', 'blog/a.css']);
    expect(Object.getPrototypeOf(checked.record.objects), 'nothing inherited').to.equal(null);
    expect(checked.record.objects['sha256'], 'nothing inherited').to.equal(undefined);
    expect(checkRecord(serializeRecord(checked.record))).to.deep.equal(checked);
    expect(Object.getPrototypeOf(emptyRecord().objects)).to.equal(null);
  });
  for (const [name, edit] of [
    [
      'a key with ".."',
      (record: any) => {
        record.objects['../x'] = record.objects['blog/a.css'];
      },
    ],
    [
      'an absolute key',
      (record: any) => {
        record.builds[0].keys.push('/etc/x');
      },
    ],
    [
      "the record's own name",
      (record: any) => {
        record.builds[0].keys.push('.app-media-publish.json');
      },
    ],
    [
      'a build naming manifest.json',
      (record: any) => {
        record.builds[0].keys.push('manifest.json');
      },
    ],
    [
      'another tool',
      (record: any) => {
        record.tool = 'x';
      },
    ],
    [
      'a bad ETag',
      (record: any) => {
        record.objects['blog/a.css'].etag = 'a\nb';
      },
    ],
  ] as const) {
    it(`refuses ${name}`, () => {
      const raw = JSON.parse(serializeRecord(valid())) as Record<string, unknown>;
      edit(raw);
      expect(checkRecord(JSON.stringify(raw)).ok).to.equal(false);
    });
  }
});

describe('media:publish: the plan (pure)', () => {
  it(
    'uploads only changed files, hashed names first, manifests last; ' +
      'deletes only recorded objects of builds past keep',
    async () => {
      const root = path.join(tempDir('plan'), 'build');
      writeCollected(root, SOURCES);
      const first = await readCollected(root, 'build');
      const plan1 = planPublish({
        collected: first,
        record: emptyRecord(),
        keep: 1,
        cacheControl: DEFAULT_CACHE_CONTROL,
        now: 't1',
      });
      expect(plan1.assets.length).to.equal(first.files.length);
      expect(plan1.documents.map((upload) => upload.rel)).to.deep.equal(['manifest.json']);
      const immutable = plan1.assets.map((upload) => upload.headers.cacheControl === DEFAULT_CACHE_CONTROL.immutable);
      expect(immutable.indexOf(false), 'plain names after every hashed one').to.equal(immutable.lastIndexOf(true) + 1);
      expect(plan1.deletes).to.deep.equal([]);

      // As if published: every object recorded.
      const record: RemoteRecord = { objects: {}, builds: plan1.builds };
      for (const upload of [...plan1.assets, ...plan1.documents])
        record.objects[upload.rel] = { sha256: upload.sha256, size: upload.size, etag: `"${upload.rel}"` };
      const again = planPublish({ collected: first, record, keep: 1, cacheControl: DEFAULT_CACHE_CONTROL, now: 't2' });
      expect(again.writes, 'no change, nothing to write').to.equal(false);

      const builds = [first.id];
      for (const version of [2, 3]) {
        writeCollected(root, { ...SOURCES, 'blog/css/site.css': `v${version}` });
        const next = await readCollected(root, 'build');
        const plan = planPublish({
          collected: next,
          record,
          keep: 1,
          cacheControl: DEFAULT_CACHE_CONTROL,
          now: `t${version}`,
        });
        expect(plan.assets.map((upload) => upload.rel).sort()).to.deep.equal(
          next.files
            .filter((file) => file.rel.includes('site'))
            .map((file) => file.rel)
            .sort(),
        );
        if (version === 2) expect(plan.deletes).to.deep.equal([]);
        else
          expect(
            plan.deletes.map((item) => item.rel).sort(),
            "build 1's own files, not the ones build 2 shares",
          ).to.deep.equal(
            first.files
              .filter((file) => file.rel.includes('site.') && file.rel !== 'blog/css/site.css')
              .map((file) => file.rel)
              .sort(),
          );
        for (const upload of [...plan.assets, ...plan.documents])
          record.objects[upload.rel] = { sha256: upload.sha256, size: upload.size, etag: `"${upload.rel}${version}"` };
        for (const item of plan.deletes) delete record.objects[item.rel];
        record.builds = plan.builds;
        builds.unshift(next.id);
        expect(record.builds.map((build) => build.id)).to.deep.equal(builds.slice(0, 2));
      }
    },
  );
});

describe('media:publish: the publish config, rows of the one table (validator and JSON Schema agree)', () => {
  const base = { mediaRoot: 'public/media', collectRoot: 'dist/media' };
  const check = (publish: unknown): string => {
    try {
      validateConfig({ ...base, publish }, { file: 'app-media.config.json', prefix: '', requireMediaRoot: true });
      return 'ok';
    } catch (error) {
      if (!isAppMediaError(error)) throw error;
      return `${error.code} ${error.field ?? ''}`;
    }
  };
  const schema = configSchema() as {
    properties: { publish: { properties: Record<string, { pattern?: string }>; required: string[] } };
  };
  const schemaAccepts = (field: string, value: string): boolean =>
    new RegExp(schema.properties.publish.properties[field]!.pattern!).test(value);

  it('takes bucket and prefix, drops a trailing "/" of the prefix, and keeps the other fields', () => {
    const out = validateConfig(
      {
        ...base,
        publish: {
          bucket: 'my-site-media',
          prefix: 'site/media/',
          endpoint: 'http://127.0.0.1:9000',
          region: 'auto',
          forcePathStyle: true,
          concurrency: 4,
        },
      },
      { file: undefined, prefix: '', requireMediaRoot: true },
    );
    expect(out.publish).to.deep.equal({
      bucket: 'my-site-media',
      prefix: 'site/media',
      endpoint: 'http://127.0.0.1:9000',
      region: 'auto',
      forcePathStyle: true,
      concurrency: 4,
    });
    expect(schema.properties.publish.required).to.deep.equal(['bucket', 'prefix']);
  });

  for (const [what, publish, refused] of [
    ['no prefix', { bucket: 'my-site-media' }, 'APP_MEDIA_MISSING_FIELD publish.prefix'],
    ['a bucket with capitals', { bucket: 'My_Bucket', prefix: 'static' }, 'APP_MEDIA_BAD_VALUE publish.bucket'],
    [
      'a prefix with ".."',
      { bucket: 'my-site-media', prefix: 'static/../other' },
      'APP_MEDIA_BAD_VALUE publish.prefix',
    ],
    [
      'a prefix with a leading "/"',
      { bucket: 'my-site-media', prefix: '/static' },
      'APP_MEDIA_BAD_VALUE publish.prefix',
    ],
    [
      "a prefix of the tool's own names",
      { bucket: 'my-site-media', prefix: 'static/.app-media-publish.json' },
      'APP_MEDIA_BAD_VALUE publish.prefix',
    ],
    [
      'an empty region',
      { bucket: 'my-site-media', prefix: 'static', region: '' },
      'APP_MEDIA_BAD_VALUE publish.region',
    ],
    [
      'an endpoint that is no URL',
      { bucket: 'my-site-media', prefix: 'static', endpoint: '127.0.0.1:9000' },
      'APP_MEDIA_BAD_VALUE publish.endpoint',
    ],
    [
      'concurrency 0',
      { bucket: 'my-site-media', prefix: 'static', concurrency: 0 },
      'APP_MEDIA_BAD_VALUE publish.concurrency',
    ],
    [
      'a misspelt field',
      { bucket: 'my-site-media', prefix: 'static', regoin: 'eu-west-1' },
      'APP_MEDIA_UNKNOWN_FIELD publish.regoin',
    ],
  ] as const) {
    it(`refuses ${what}: ${refused}`, () => {
      expect(check(publish)).to.equal(refused);
      const field = refused.split('.').pop() as string;
      const value = (publish as Record<string, unknown>)[field];
      if (typeof value === 'string' && schema.properties.publish.properties[field]?.pattern)
        expect(schemaAccepts(field, value), `the schema refuses ${JSON.stringify(value)} too`).to.equal(false);
    });
  }

  it('a credential in the config is refused without its value in the message', () => {
    const secret = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
    try {
      validateConfig(
        { ...base, publish: { bucket: 'my-site-media', prefix: 'static', secretAccessKey: secret } },
        { file: 'app-media.config.json', prefix: '', requireMediaRoot: true },
      );
      expect.fail('accepted a secret');
    } catch (error) {
      expect(isAppMediaError(error), String(error)).to.equal(true);
      const coded = error as AppMediaError;
      expect(coded.field).to.equal('publish.secretAccessKey');
      const shown = `${coded.oneLine()} ${coded.hint}`;
      expect(shown).to.not.contain(secret);
      expect(shown).to.contain('AWS_SECRET_ACCESS_KEY');
    }
  });

  it('verify --collect --published is refused: they check different places', async () => {
    const error = await verify({ cwd: tempDir('both'), collect: true, published: true }).then(
      () => undefined,
      (caught: unknown) => caught,
    );
    expect(isAppMediaError(error) && `${error.code} ${error.field ?? ''}`, String(error)).to.equal(
      'APP_MEDIA_BAD_FLAG --published',
    );
  });

  it("the schema's prefix and bucket patterns take what the validator takes", () => {
    for (const prefix of ['', 'static', 'site/media', 'site/media/'])
      expect(schemaAccepts('prefix', prefix), prefix).to.equal(true);
    expect(schemaAccepts('bucket', 'my-site-media')).to.equal(true);
  });
});
