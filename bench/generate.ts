/**
 * Deterministic generated projects for the benchmark. The same size and seed
 * always give the same names, sizes and bytes. A project is written once into
 * a cache folder outside the repository and reused while its marker file says
 * it is complete and of this generator's version.
 *
 * Layout (Django's app layout, so collectstatic reads the very same files):
 *
 *   project/app-media.config.json   mediaRoot public/media, mediaDirname static
 *   project/gulpfile.mjs            registerMediaTasks(gulp) and a do-nothing task
 *   project/bench_settings.py       one Django app per generated app
 *   project/apps/__init__.py
 *   project/apps/app0001/__init__.py
 *   project/apps/app0001/static/app0001/{css,js,img,...}/...
 */
import { existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/** Bump when the generated content changes: older caches are then rebuilt. */
const GENERATOR_VERSION = 1;
const MARKER = '.bench-ready.json';
const KIB = 1024;
const MIB = 1024 * KIB;

export type SizeName = 'small' | 'medium' | 'large' | 'huge-files';
export const SIZE_NAMES: readonly SizeName[] = ['small', 'medium', 'large', 'huge-files'];

interface FileKind {
  ext: string;
  /** Folders (inside the app's media folder) a file of this kind goes to. */
  dirs: readonly string[];
  min: number;
  max: number;
  text: boolean;
}

const TEXT_KINDS: readonly FileKind[] = [
  { ext: 'css', dirs: ['css', 'css/vendor'], min: 1 * KIB, max: 8 * KIB, text: true },
  { ext: 'js', dirs: ['js', 'js/lib'], min: 1 * KIB, max: 8 * KIB, text: true },
];
const PNG: FileKind = { ext: 'png', dirs: ['img', 'img/icons'], min: 20 * KIB, max: 200 * KIB, text: false };
const JPG: FileKind = { ext: 'jpg', dirs: ['img/photos'], min: MIB, max: MIB, text: false };

export interface SizeSpec {
  name: SizeName;
  apps: number;
  filesPerApp: number;
  /** Per app: this many 1 MiB jpg and 20-200 KiB png; the rest are 1-8 KiB css/js. */
  jpg: number;
  png: number;
  /** Default number of repeats of each measurement. */
  repeats: number;
  description: string;
}

export const SIZES: Record<SizeName, SizeSpec> = {
  small: {
    name: 'small',
    apps: 10,
    filesPerApp: 20,
    jpg: 1,
    png: 4,
    repeats: 5,
    description: 'per app 1 jpg of 1 MiB, 4 png of 20-200 KiB, 15 css/js of 1-8 KiB',
  },
  medium: {
    name: 'medium',
    apps: 100,
    filesPerApp: 100,
    jpg: 5,
    png: 20,
    repeats: 3,
    description: 'per app 5 jpg of 1 MiB, 20 png of 20-200 KiB, 75 css/js of 1-8 KiB',
  },
  large: {
    name: 'large',
    apps: 1000,
    filesPerApp: 20,
    jpg: 0,
    png: 3,
    repeats: 3,
    description: 'per app 3 png of 20-200 KiB, 17 css/js of 1-8 KiB',
  },
  'huge-files': {
    name: 'huge-files',
    apps: 20,
    filesPerApp: 500,
    jpg: 500,
    png: 0,
    repeats: 1,
    description: 'per app 500 jpg of 1 MiB',
  },
};

export interface GeneratedApp {
  name: string;
  /** The app's folder, relative to the project root. */
  appDir: string;
  /** The app's media folder (`apps/<name>/static/<name>`), relative to the project root. */
  mediaDir: string;
  /** Folders inside the media folder, parents first. */
  dirs: string[];
  /** Files inside the media folder, relative to it. */
  files: Array<{ rel: string; size: number }>;
}

export interface Project {
  size: SizeSpec;
  seed: number;
  /** The folder holding `project/` and scratch folders for outputs. */
  home: string;
  root: string;
  apps: GeneratedApp[];
  files: number;
  bytes: number;
  /** Whether a complete earlier generation was reused. */
  reused: boolean;
  generateMs: number;
}

/** mulberry32: a small, fast, seeded 32-bit generator (good enough for test data). */
export function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}

function between(next: () => number, min: number, max: number): number {
  return min + (next() % (max - min + 1));
}

/** The apps, folders and files of a size, from the seed alone (no I/O). */
export function layout(size: SizeSpec, seed: number): GeneratedApp[] {
  const next = prng(seed);
  const apps: GeneratedApp[] = [];
  const width = String(size.apps).length < 4 ? 4 : String(size.apps).length;
  for (let index = 1; index <= size.apps; index++) {
    const name = `app${String(index).padStart(width, '0')}`;
    const kinds: FileKind[] = [];
    for (let n = 0; n < size.jpg; n++) kinds.push(JPG);
    for (let n = 0; n < size.png; n++) kinds.push(PNG);
    while (kinds.length < size.filesPerApp) kinds.push(TEXT_KINDS[next() % TEXT_KINDS.length] as FileKind);
    const dirs = new Set<string>();
    const files = kinds.map((kind, fileIndex) => {
      const dir = kind.dirs[next() % kind.dirs.length] as string;
      for (let at = dir.indexOf('/'); at !== -1; at = dir.indexOf('/', at + 1)) dirs.add(dir.slice(0, at));
      dirs.add(dir);
      return {
        rel: `${dir}/${kind.ext}-${String(fileIndex).padStart(3, '0')}.${kind.ext}`,
        size: between(next, kind.min, kind.max),
      };
    });
    apps.push({
      name,
      appDir: `apps/${name}`,
      mediaDir: `apps/${name}/static/${name}`,
      dirs: [...dirs].sort(),
      files: files.sort((a, b) => (a.rel < b.rel ? -1 : 1)),
    });
  }
  return apps;
}

/**
 * Byte pools the files are cut from: generating every byte of 10 GB with a
 * PRNG would take longer than the benchmark itself. Each file is a slice at a
 * seeded offset with its own header, so no two files are equal.
 */
function pools(seed: number): { binary: Buffer; text: Buffer } {
  const next = prng(seed ^ 0x9e3779b9);
  const binary = Buffer.allocUnsafe(4 * MIB);
  const words = new Uint32Array(binary.buffer, binary.byteOffset, binary.length / 4);
  for (let i = 0; i < words.length; i++) words[i] = next();

  const parts: string[] = [];
  let length = 0;
  const props = ['color', 'margin', 'padding', 'border', 'display', 'font-size', 'line-height', 'width'];
  while (length < 64 * KIB) {
    const id = next().toString(36);
    const rule =
      next() % 2 === 0
        ? `.c-${id} { ${props[next() % props.length]}: ${next() % 400}px; ${props[next() % props.length]}: ` +
          `#${(next() % 0xffffff).toString(16)}; }\n`
        : `export function f_${id}(a, b) { return a * ${next() % 97} + b - ${next() % 13}; }\n`;
    parts.push(rule);
    length += rule.length;
  }
  return { binary, text: Buffer.from(parts.join('')) };
}

function fill(target: Buffer, size: number, pool: Buffer, offset: number, header: string): void {
  let written = target.write(header, 0, 'latin1');
  let from = offset % pool.length;
  while (written < size) {
    const chunk = Math.min(size - written, pool.length - from);
    pool.copy(target, written, from, from + chunk);
    written += chunk;
    from = 0;
  }
}

/** The gulpfile of a generated project: the tasks, and a task that does nothing to time start-up against. */
export const GULPFILE = [
  "import gulp from 'gulp';",
  "import { registerMediaTasks } from 'gulp-app-media';",
  '',
  'registerMediaTasks(gulp);',
  '',
  '/** Does nothing: the start-up cost of node, gulp and this gulpfile. */',
  'export function noop(cb) {',
  '  cb();',
  '}',
  '',
].join('\n');

function djangoSettings(apps: readonly GeneratedApp[]): string {
  return [
    '# Generated by the gulp-app-media benchmark: one Django app per generated app.',
    'import os',
    '',
    "SECRET_KEY = 'bench'",
    'DEBUG = False',
    'USE_TZ = True',
    "STATIC_URL = '/static/'",
    "STATIC_ROOT = os.environ['BENCH_STATIC_ROOT']",
    'INSTALLED_APPS = [',
    "    'django.contrib.staticfiles',",
    ...apps.map((app) => `    'apps.${app.name}',`),
    ']',
    '',
  ].join('\n');
}

/**
 * The project of a size and seed under `cacheRoot/<size>-<seed>/project`,
 * generated unless a complete one is there. node_modules links to gulp and to
 * this package are made anew every time (the repository may have moved).
 */
export function generateProject(
  size: SizeSpec,
  seed: number,
  cacheRoot: string,
  repo: string,
  log: (line: string) => void,
): Project {
  const started = performance.now();
  const home = path.join(cacheRoot, `${size.name}-${seed}`);
  const root = path.join(home, 'project');
  const apps = layout(size, seed);
  const files = apps.reduce((sum, app) => sum + app.files.length, 0);
  const bytes = apps.reduce((sum, app) => sum + app.files.reduce((s, file) => s + file.size, 0), 0);
  const expected = { version: GENERATOR_VERSION, size: size.name, seed, files, bytes };

  const marker = path.join(home, MARKER);
  const reused = existsSync(marker) && readFileSync(marker, 'utf8') === JSON.stringify(expected);
  if (!reused) {
    log(`generating ${size.name} (seed ${seed}): ${size.apps} apps, ${files} files, ${formatMiB(bytes)} in ${home}`);
    rmSync(home, { recursive: true, force: true });
    writeProject(root, apps, seed);
    writeFileSync(marker, JSON.stringify(expected));
  }

  const modules = path.join(root, 'node_modules');
  rmSync(modules, { recursive: true, force: true });
  mkdirSync(modules, { recursive: true });
  symlinkSync(path.join(repo, 'node_modules', 'gulp'), path.join(modules, 'gulp'));
  symlinkSync(repo, path.join(modules, 'gulp-app-media'));

  return { size, seed, home, root, apps, files, bytes, reused, generateMs: performance.now() - started };
}

function writeProject(root: string, apps: readonly GeneratedApp[], seed: number): void {
  const { binary, text } = pools(seed);
  const next = prng(seed ^ 0x85ebca6b);
  const buffer = Buffer.allocUnsafe(Math.max(MIB, ...apps.flatMap((app) => app.files.map((file) => file.size))));
  mkdirSync(path.join(root, 'apps'), { recursive: true });
  writeFileSync(path.join(root, 'apps', '__init__.py'), '');
  for (const app of apps) {
    const media = path.join(root, app.mediaDir);
    mkdirSync(media, { recursive: true });
    writeFileSync(path.join(root, app.appDir, '__init__.py'), '');
    for (const dir of app.dirs) mkdirSync(path.join(media, dir), { recursive: true });
    for (const file of app.files) {
      const isText = file.rel.endsWith('.css') || file.rel.endsWith('.js');
      const header = isText
        ? `/* ${app.name}/${file.rel} */\n`
        : `${file.rel.endsWith('.png') ? '\x89PNG\r\n\x1a\n' : '\xff\xd8\xff\xe0'}${app.name}/${file.rel}\n`;
      fill(buffer, file.size, isText ? text : binary, next(), header);
      writeFileSync(path.join(media, file.rel), buffer.subarray(0, file.size));
    }
  }
  const config = { mediaRoot: 'public/media', mediaDirname: 'static', apps: apps.map((app) => `./${app.appDir}`) };
  writeFileSync(path.join(root, 'app-media.config.json'), `${JSON.stringify(config, null, 2)}\n`);
  writeFileSync(
    path.join(root, 'package.json'),
    `${JSON.stringify({ name: 'bench-project', private: true, type: 'module' }, null, 2)}\n`,
  );
  writeFileSync(path.join(root, 'gulpfile.mjs'), GULPFILE);
  writeFileSync(path.join(root, 'bench_settings.py'), djangoSettings(apps));
}

export function formatMiB(bytes: number): string {
  return bytes >= 10 * 1024 * MIB ? `${(bytes / 1024 / MIB).toFixed(2)} GiB` : `${(bytes / MIB).toFixed(1)} MiB`;
}
