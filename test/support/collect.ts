/**
 * media:collect's side of the test helpers: a project with a collectRoot and
 * stylesheets that reference images, and what a user looks at in the build.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { collect } from '../../src/index.js';
import type { Report, RunOptions } from '../../src/core/types.js';
import { makeProject, snapshot, writeTree, type EntrySnapshot } from './project.js';

export const OUT = 'dist/media';

/**
 * Two folder apps (blog, shop) with a stylesheet that references an image, a script and a font; collectRoot dist/media.
 */
export function makeCollectProject(
  options: { files?: Record<string, string | Buffer>; config?: Record<string, unknown>; gulp?: boolean } = {},
): string {
  const base = 'apps/blog/app_media/blog';
  return makeProject({
    apps: ['blog', 'shop'],
    gulp: options.gulp ?? true,
    config: { mediaRoot: 'public/media', collectRoot: OUT, apps: ['./apps/blog', './apps/shop'], ...options.config },
    files: {
      [`${base}/css/site.css`]: '@import "base.css";\n.logo { background: url(../img/logo.png) no-repeat; }\n',
      [`${base}/css/base.css`]: 'body { margin: 0; color: #333; }\n'.repeat(20),
      [`${base}/img/logo.png`]: Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 1, 2, 3]),
      ...options.files,
    },
  });
}

/** A collect run in this process (set-up) that must succeed. */
export async function collectedInProcess(cwd: string, options: RunOptions = {}): Promise<Report> {
  const report = await collect({ cwd, ...options });
  if (report.failed)
    throw new Error(`collect failed in ${cwd}: ${JSON.stringify(report.apps)} ${report.warnings.join('; ')}`);
  return report;
}

export interface ManifestJson {
  version: number;
  build: string;
  files: Record<string, { path: string; size: number; integrity: string; encodings?: Record<string, number> }>;
}

export function readManifest(root: string): ManifestJson {
  return JSON.parse(readFileSync(path.join(root, OUT, 'manifest.json'), 'utf8')) as ManifestJson;
}

export interface RecordsJson {
  tool: string;
  kind: string;
  version: number;
  files: Record<
    string,
    { size: number; mtimeMs: number; sha256: string; immutable: boolean; encoding?: string; of?: string }
  >;
  builds: Array<{ id: string; at: string; files: string[] }>;
}

export function readRecords(root: string): RecordsJson {
  return JSON.parse(readFileSync(path.join(root, OUT, '.app-media-collect.json'), 'utf8')) as RecordsJson;
}

/** Everything in the build folder (links not followed), as plain data. */
export function outState(root: string): Record<string, EntrySnapshot> {
  const dir = path.join(root, OUT);
  return existsSync(dir) ? Object.fromEntries(snapshot(dir)) : {};
}

/** The files of the build folder, recursively, sorted. */
export function outFiles(root: string, dir = ''): string[] {
  const full = path.join(root, OUT, dir);
  if (!existsSync(full)) return [];
  return readdirSync(full, { withFileTypes: true })
    .flatMap((entry) => {
      const rel = dir ? `${dir}/${entry.name}` : entry.name;
      return entry.isDirectory() ? outFiles(root, rel) : [rel];
    })
    .sort();
}

export function sri(data: Buffer): string {
  return `sha384-${createHash('sha384').update(data).digest('base64')}`;
}

/** The file a manifest entry names, from the build folder. */
export function servedBytes(root: string, logical: string): Buffer {
  const entry = readManifest(root).files[logical];
  if (!entry) throw new Error(`${logical} is not in the manifest`);
  return readFileSync(path.join(root, OUT, entry.path));
}

/**
 * Apps' media files from logical paths (`blog/css/site.css` → `apps/blog/app_media/blog/css/site.css`), for a project
 * whose apps are `./apps/<app>`.
 */
export function writeSources(root: string, sources: Record<string, string | Buffer>): void {
  writeTree(
    root,
    Object.fromEntries(
      Object.entries(sources).map(([logical, bytes]) => {
        const [app = '', ...rest] = logical.split('/');
        return [`apps/${app}/app_media/${app}/${rest.join('/')}`, bytes];
      }),
    ),
  );
}

/** The apps of logical paths, as config entries: `['./apps/blog', './apps/shop']`. */
export function sourceApps(sources: Record<string, unknown>): string[] {
  return [...new Set(Object.keys(sources).map((logical) => logical.split('/')[0] ?? ''))]
    .sort()
    .map((app) => `./apps/${app}`);
}

/** What a build in collectRoot holds, as media:collect wrote it. */
export interface CollectedBuild {
  build: string;
  /** Every file of the build (records' builds[0]), relative to collectRoot. */
  files: string[];
  /** logical path → fingerprinted path (manifest.json). */
  hashed: Record<string, string>;
}

/** Writes the sources into the apps' media folders and runs the real media:collect (in this process); what it built. */
export async function collectSources(root: string, sources: Record<string, string | Buffer>): Promise<CollectedBuild> {
  writeSources(root, sources);
  await collectedInProcess(root);
  const manifest = readManifest(root);
  const records = readRecords(root);
  if (records.builds[0]?.id !== manifest.build)
    throw new Error(
      `collect left manifest.json (${manifest.build}) and its records (${records.builds[0]?.id}) apart in ${root}`,
    );
  return {
    build: manifest.build,
    files: records.builds[0].files,
    hashed: Object.fromEntries(Object.entries(manifest.files).map(([logical, entry]) => [logical, entry.path])),
  };
}
