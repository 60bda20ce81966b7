/**
 * media:publish against its peers, on one local s3rver (a child process, objects on
 * disk) behind a proxy that counts every request the server receives:
 * `app-media publish` against `aws s3 sync` and gulp-awspublish uploading the same
 * collect output (written by media:collect itself, once per generated project), each
 * first publish into a fresh bucket; the no-change re-publish of ours and of
 * `aws s3 sync`, with their PUTs counted; peak RSS.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { collect } from 'gulp-app-media';
import type { Project } from './generate.js';
import type { Sample } from './measure.js';
import { runMeasured, type Tools } from './processes.js';
import { medianMs, peakRssMiB, Rows, type Row } from './rows.js';

const REPO = path.resolve(fileURLToPath(new URL('..', import.meta.url)));
const CREDENTIALS = {
  AWS_ACCESS_KEY_ID: 'S3RVER',
  AWS_SECRET_ACCESS_KEY: 'S3RVER',
  AWS_REGION: 'us-east-1',
  AWS_DEFAULT_REGION: 'us-east-1',
  AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
};
/**
 * Bumped when the collect output the bench publishes changes (2: media:collect's own, no longer the tests' fixture).
 */
const COLLECT_VERSION = 2;
/** The config media:collect runs with here, beside the project's own (whose relative paths it shares). */
const COLLECT_CONFIG = 'app-media.publish-bench.json';

export interface PublishBench {
  rows: Rows;
  /** PUTs the server received in each tool's no-change re-publish. */
  rerunPuts: Record<string, number>;
  objects: number;
  bytes: number;
}

function which(command: string): string | null {
  const found = spawnSync('sh', ['-c', `command -v ${command}`], { encoding: 'utf8' });
  return found.status === 0 && found.stdout.trim() !== '' ? found.stdout.trim() : null;
}

/**
 * collectRoot for the project, written by media:collect once per generation (keepOriginals: false
 * keeps it to one copy of the media, with its .br/.gz); outside collect's own bench folder.
 */
async function collectOutput(project: Project, log: (line: string) => void): Promise<string> {
  const root = path.join(project.home, 'collected');
  const marker = path.join(project.home, '.bench-collected.json');
  const expected = JSON.stringify({ version: COLLECT_VERSION, files: project.files, bytes: project.bytes });
  if (existsSync(marker) && readFileSync(marker, 'utf8') === expected) return root;
  log(`  running media:collect on ${project.size.name} into ${root}`);
  rmSync(root, { recursive: true, force: true });
  rmSync(marker, { force: true });
  const config = JSON.parse(readFileSync(path.join(project.root, 'app-media.config.json'), 'utf8')) as Record<
    string,
    unknown
  >;
  writeFileSync(
    path.join(project.root, COLLECT_CONFIG),
    `${JSON.stringify({ ...config, collectRoot: root, keepOriginals: false }, null, 2)}\n`,
  );
  const report = await collect({ cwd: project.root, config: COLLECT_CONFIG });
  if (report.failed || report.build === null)
    throw new Error(
      `media:collect failed on ${project.size.name}: ` +
        `${JSON.stringify(report.apps.filter((app) => app.status !== 'collected').slice(0, 3))}`,
    );
  writeFileSync(marker, expected);
  return root;
}

interface Server {
  endpoint: string;
  control: string;
  stop(): void;
}

/**
 * s3rver's continuation tokens use DES, which OpenSSL 3 keeps in its legacy provider: without it, any listing past
 * 1,000 keys is a 500.
 */
async function startServer(folder: string): Promise<Server> {
  mkdirSync(folder, { recursive: true });
  const child = spawn(
    process.execPath,
    ['--openssl-legacy-provider', '--import=tsx', path.join(REPO, 'bench', 'object-store.ts'), folder],
    { cwd: REPO, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const line = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      out += chunk;
      if (out.includes('\n')) resolve(out.split('\n')[0] as string);
    });
    child.on('exit', (code) => reject(new Error(`the bench's s3rver exited with ${code}`)));
  });
  const info = JSON.parse(line) as { endpoint: string; control: string };
  return { ...info, stop: () => child.kill('SIGTERM') };
}

/**
 * The proxy's counts (a fresh connection each time: a kept-alive one may be closed by the server during a long run).
 */
async function control(server: Server, clear = false): Promise<Record<string, number>> {
  return new Promise((resolve, reject) => {
    const request = http.request(`${server.control}/`, { method: clear ? 'POST' : 'GET', agent: false }, (response) => {
      let body = '';
      response.setEncoding('utf8').on('data', (chunk: string) => {
        body += chunk;
      });
      response.on('end', () => resolve(JSON.parse(body) as Record<string, number>));
    });
    request.on('error', reject);
    request.end();
  });
}

async function createBucket(endpoint: string, bucket: string): Promise<void> {
  Object.assign(process.env, CREDENTIALS);
  const { S3Client, CreateBucketCommand } = await import('@aws-sdk/client-s3');
  const client = new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true });
  await client.send(new CreateBucketCommand({ Bucket: bucket }));
  client.destroy();
}

export async function runPublishBench(
  project: Project,
  repeats: number,
  tools: Tools,
  log: (line: string) => void,
): Promise<PublishBench> {
  const collectRoot = await collectOutput(project, log);
  const records = JSON.parse(readFileSync(path.join(collectRoot, '.app-media-collect.json'), 'utf8')) as {
    files: Record<string, { size: number }>;
  };
  const objects = Object.keys(records.files).length + 1;
  const bytes = Object.values(records.files).reduce((sum, file) => sum + file.size, 0);
  // huge-files (10 GiB) measures our peak RSS only: three tools uploading it would write 30 GiB.
  const rssOnly = project.size.name === 'huge-files';
  const aws = rssOnly ? null : which('aws');
  const rows = new Rows();
  const peers = ['publish.aws.first', 'publish.awspublish.first'];
  rows.add({
    id: 'publish.first',
    label: '`app-media publish`, first publish into an empty bucket',
    short: 'app-media publish',
    kind: 'ours',
    peers,
  });
  rows.add({
    id: 'publish.rerun',
    label: '`app-media publish`, no-change re-publish',
    short: 'app-media publish re-run',
    kind: 'ours',
    peers: ['publish.aws.rerun'],
  });
  const noAws = aws
    ? {}
    : {
        skipped: rssOnly
          ? 'huge-files: peak RSS of ours only'
          : 'the aws command is not installed (Debian: apt-get install awscli; or pip install awscli)',
      };
  rows.add({
    id: 'publish.aws.first',
    label: 'peer: `aws s3 sync`, first',
    short: 'aws s3 sync',
    kind: 'peer',
    ...noAws,
  });
  rows.add({
    id: 'publish.aws.rerun',
    label: 'peer: `aws s3 sync`, no-change re-run',
    short: 'aws s3 sync re-run',
    kind: 'peer',
    ...noAws,
  });
  const awspublish = rssOnly
    ? { skipped: 'huge-files: peak RSS of ours only' }
    : existsSync(path.join(REPO, 'node_modules', 'gulp-awspublish'))
      ? {}
      : { skipped: 'gulp-awspublish is not installed (npm install)' };
  rows.add({
    id: 'publish.awspublish.first',
    label: 'peer: gulp-awspublish, first',
    short: 'gulp-awspublish',
    kind: 'peer',
    ...awspublish,
  });
  const record = (id: string, sample: Sample): void => {
    (rows.get(id) as Row).samples.push(sample);
  };
  const rerunPuts: Record<string, number> = {};
  const scratch = path.join(project.home, 'publish-bench');
  rmSync(scratch, { recursive: true, force: true });
  const server = await startServer(path.join(scratch, 's3rver'));
  let bucketIndex = 0;
  try {
    const env = CREDENTIALS;
    const ourConfig = (bucket: string): string => {
      const file = path.join(scratch, `${bucket}.config.json`);
      writeFileSync(
        file,
        JSON.stringify({
          mediaRoot: 'public/media',
          collectRoot,
          publish: { bucket, prefix: 'static', endpoint: server.endpoint, forcePathStyle: true },
        }),
      );
      return file;
    };
    const peerScript = path.join(scratch, 'awspublish.mjs');
    writeFileSync(peerScript, awspublishScript());
    for (let round = 1; round <= repeats; round++) {
      log(`  publish, round ${round}/${repeats}`);
      const ours = `ours-${++bucketIndex}`;
      await createBucket(server.endpoint, ours);
      const config = ourConfig(ours);
      record(
        'publish.first',
        runMeasured(tools, process.execPath, [path.join(REPO, 'bin', 'app-media.js'), 'publish', '--config', config], {
          cwd: project.root,
          env,
        }),
      );
      await control(server, true);
      record(
        'publish.rerun',
        runMeasured(tools, process.execPath, [path.join(REPO, 'bin', 'app-media.js'), 'publish', '--config', config], {
          cwd: project.root,
          env,
        }),
      );
      rerunPuts['app-media publish'] = (await control(server))['PUT'] ?? 0;
      if (aws) {
        const bucket = `aws-${++bucketIndex}`;
        await createBucket(server.endpoint, bucket);
        const args = [
          's3',
          'sync',
          collectRoot,
          `s3://${bucket}/static`,
          '--endpoint-url',
          server.endpoint,
          '--exclude',
          '.app-media*',
          '--only-show-errors',
          '--no-progress',
        ];
        record('publish.aws.first', runMeasured(tools, aws, args, { cwd: project.root, env }));
        await control(server, true);
        record('publish.aws.rerun', runMeasured(tools, aws, args, { cwd: project.root, env }));
        rerunPuts['aws s3 sync'] = (await control(server))['PUT'] ?? 0;
      }
      if (!awspublish.skipped) {
        const bucket = `awspublish-${++bucketIndex}`;
        await createBucket(server.endpoint, bucket);
        record(
          'publish.awspublish.first',
          runMeasured(tools, process.execPath, [peerScript, collectRoot, server.endpoint, bucket], { cwd: REPO, env }),
        );
      }
    }
  } finally {
    server.stop();
  }
  rmSync(scratch, { recursive: true, force: true });
  return { rows, rerunPuts, objects, bytes };
}

/** gulp-awspublish as its README sets it up: gulp.src → publisher.publish(headers), into the same prefix. */
function awspublishScript(): string {
  return `import { createRequire } from 'node:module';
import { Transform } from 'node:stream';
const require = createRequire(${JSON.stringify(path.join(REPO, 'package.json'))});
const gulp = require('gulp');
const awspublish = require('gulp-awspublish');
import path from 'node:path';
const [collectRoot, endpoint, bucket] = process.argv.slice(2);
const publisher = awspublish.create({ region: 'us-east-1', endpoint, forcePathStyle: true, \
params: { Bucket: bucket } });
const intoPrefix = new Transform({ objectMode: true, transform(file, _encoding, done) { \
file.path = path.join(file.base, 'static', file.relative); done(null, file); } });
await new Promise((resolve, reject) => {
  gulp.src('**/*', { cwd: collectRoot, base: collectRoot, nodir: true, dot: false })
    .pipe(intoPrefix)
    .pipe(publisher.publish({ 'Cache-Control': 'public, max-age=31536000, immutable' }))
    .on('error', reject)
    .on('finish', resolve)
    .resume();
});
`;
}

export function publishSection(bench: PublishBench, sizeName: string): string {
  const { rows } = bench;
  const cell = (id: string): string[] => {
    const row = rows.get(id) as Row;
    if (row.skipped) return [row.label, 'skipped', '', '', row.skipped];
    const rss = peakRssMiB(row);
    return [
      row.label,
      String(row.samples.length),
      Math.round(medianMs(row)).toLocaleString('en-US'),
      Number.isFinite(rss) ? rss.toFixed(1) : '—',
      '',
    ];
  };
  const lines = ['operation', 'runs', 'median ms', 'peak RSS MiB', 'note'];
  const table = [
    `| ${lines.join(' | ')} |`,
    '| --- | ---: | ---: | ---: | --- |',
    ...rows.list.map(
      (row) =>
        `| ${cell(row.id)
          .map((text) => text.replace(/\|/g, '\\|'))
          .join(' | ')} |`,
    ),
  ];
  const ratio = (ours: string, peer: string): string => {
    const value = medianMs(rows.get(ours)) / medianMs(rows.get(peer));
    return Number.isFinite(value) ? `${value.toFixed(2)}×` : '—';
  };
  const puts = Object.entries(bench.rerunPuts)
    .map(([tool, count]) => `${tool}: ${count} PUT${count === 1 ? '' : 's'}`)
    .join('; ');
  return [
    `### Publish (${sizeName}: ${bench.objects.toLocaleString('en-US')} objects, ` +
      `${(bench.bytes / 1024 / 1024).toFixed(0)} MiB, to a local s3rver behind a counting proxy)`,
    '',
    ...table,
    '',
    `- First publish: app-media publish / aws s3 sync = ${ratio('publish.first', 'publish.aws.first')}; ` +
      `app-media publish / gulp-awspublish = ${ratio('publish.first', 'publish.awspublish.first')}.`,
    `- No-change re-publish: aws s3 sync re-run / app-media publish re-run = ` +
      `${ratio('publish.aws.rerun', 'publish.rerun').replace('×', '')}× (how many times faster ours is); ` +
      `PUTs the server received in the re-run: ${puts || 'not counted'}.`,
  ].join('\n');
}
