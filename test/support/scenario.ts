/**
 * Randomized, seeded scenarios for the non-destruction property (issue 8,
 * spec §6): a real project on disk with random apps, random pre-existing
 * contents of mediaRoot and random step sequences, and an independent checker
 * that fingerprints every byte the tool did not create before each step of the
 * tool and proves it unchanged after.
 *
 * The checker uses none of src/'s logic: ownership is tracked by diffing the
 * tree around each step of the tool (what appears during a tool step is the
 * tool's; what the scenario makes by hand is foreign), and what mediaRoot must
 * serve is computed from the app's media folder with plain `fs` calls.
 *
 * Used by test/property.test.ts (a fast slice) and test/soak.ts (thousands of
 * scenarios, crash and race runs in child processes).
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { clean, link, verify } from '../../src/index.js';
import type { Report, RunOptions } from '../../src/index.js';
// The adversary's hooks into a run (the moments it acts at), not the checker's logic.
import { folderKind, type FolderKind } from '../../src/core/fs/folder.js';
import { onPause } from '../../src/core/fs/pause.js';
import { entryOf, sha, snapshot, type EntrySnapshot } from './project.js';

// ---------------------------------------------------------------------------
// Seeded randomness

/** mulberry32: a tiny, fast, seedable PRNG with a 2^32 period; good enough for test inputs. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export class Rng {
  private readonly next: () => number;
  constructor(readonly seed: number) {
    this.next = mulberry32(seed);
  }
  float(): number {
    return this.next();
  }
  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  /** An integer in [lo, hi]. */
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('internal: pick from an empty list');
    return items[this.int(items.length)] as T;
  }
  weighted<T>(pairs: ReadonlyArray<readonly [T, number]>): T {
    const total = pairs.reduce((sum, [, weight]) => sum + weight, 0);
    let at = this.next() * total;
    for (const [item, weight] of pairs) {
      at -= weight;
      if (at < 0) return item;
    }
    return (pairs[pairs.length - 1] as readonly [T, number])[0];
  }
  /** Deterministic bytes: a SHA-256 chain seeded from this generator. */
  bytes(size: number): Buffer {
    const out = Buffer.alloc(size);
    let block = Buffer.from(String(this.next()));
    for (let at = 0; at < size; at += 32) {
      block = createHash('sha256').update(block).digest();
      block.copy(out, at, 0, Math.min(32, size - at));
    }
    return out;
  }
}

// ---------------------------------------------------------------------------
// Fingerprints: every entry below a folder, links never followed

export type Fingerprint =
  | { t: 'file'; sha: string; size: number; mode: number; mtimeMs: number; ino: number }
  | { t: 'dir'; ino: number; mtimeMs: number }
  | { t: 'link'; text: string; ino: number; mtimeMs: number }
  | { t: 'other'; ino: number };

/** An entry's fingerprint (test/support/project.ts takes it); undefined when nothing is there. */
export function fingerprintOf(full: string): Fingerprint | undefined {
  const entry = entryOf(full);
  return entry && fingerprint(entry);
}

function fingerprint(entry: EntrySnapshot): Fingerprint {
  switch (entry.type) {
    case 'file':
      return { t: 'file', sha: entry.sha, size: entry.size, mode: entry.mode, mtimeMs: entry.mtimeMs, ino: entry.ino };
    case 'dir':
      return { t: 'dir', ino: entry.ino, mtimeMs: entry.mtimeMs };
    case 'link':
      return { t: 'link', text: entry.text, ino: entry.ino, mtimeMs: entry.mtimeMs };
    default:
      return { t: 'other', ino: entry.ino };
  }
}

/** `rel` → fingerprint for every entry below `root` (not `root` itself); `skip` gets absolute paths. */
export function fingerprintTree(root: string, skip: (full: string) => boolean = () => false): Map<string, Fingerprint> {
  return new Map(
    [...snapshot(root, { skipPath: skip, tolerant: true })].map(([rel, entry]) => [rel, fingerprint(entry)]),
  );
}

/** Same bytes, same kind, same inode (never rewritten, even with equal bytes); directory times are free to change. */
export function sameEntry(a: Fingerprint, b: Fingerprint): boolean {
  if (a.t !== b.t) return false;
  switch (a.t) {
    case 'file': {
      const other = b as typeof a;
      return (
        a.sha === other.sha &&
        a.size === other.size &&
        a.mode === other.mode &&
        a.mtimeMs === other.mtimeMs &&
        a.ino === other.ino
      );
    }
    case 'link': {
      const other = b as typeof a;
      return a.text === other.text && a.ino === other.ino;
    }
    case 'dir':
      return a.ino === (b as typeof a).ino;
    default:
      return a.ino === (b as typeof a).ino;
  }
}

function describeFp(print: Fingerprint | undefined): string {
  if (!print) return 'absent';
  switch (print.t) {
    case 'file':
      return `file sha ${print.sha.slice(0, 10)} size ${print.size} ino ${print.ino} mtime ${print.mtimeMs}`;
    case 'link':
      return `link -> ${print.text} (ino ${print.ino})`;
    case 'dir':
      return `dir (ino ${print.ino})`;
    default:
      return `special (ino ${print.ino})`;
  }
}

// ---------------------------------------------------------------------------
// What an app's media folder must publish, computed independently

const SECRET = [/^\.env$/, /^\.env\..*$/, /^\.git$/, /^.*\.pem$/, /^.*\.key$/, /^id_rsa.*$/, /^\.npmrc$/];
const looksSecret = (name: string): boolean => SECRET.some((pattern) => pattern.test(name));
/** The default `ignore` globs `.*` and `*~`, as base names. */
const ignoredName = (name: string): boolean => name.startsWith('.') || name.endsWith('~');

export function isInside(parent: string, child: string): boolean {
  const rel = path.relative(parent, child);
  return rel === '' || (rel !== '..' && !rel.startsWith(`..${path.sep}`) && !path.isAbsolute(rel));
}

export interface SourceView {
  /**
   * What a copy must hold: relative path → sha (ignored names and links leading out left out; links to files inside
   * followed).
   */
  copyFiles: Map<string, string>;
  /** Links in the media folder that lead outside it (what a link publishes and verify calls escape). */
  escapes: string[];
  /** A published (linked) file or folder looks secret. */
  linkSecret: boolean;
  /** A copied file or folder looks secret. */
  copySecret: boolean;
}

export function viewOfSource(mediaDir: string): SourceView {
  const realRoot = fs.realpathSync(mediaDir);
  const view: SourceView = { copyFiles: new Map(), escapes: [], linkSecret: false, copySecret: false };
  // One walk gives both views: a link publishes everything; a copy drops ignored names (and what is below them).
  const visitBoth = (dir: string, rel: string, inIgnored: boolean): void => {
    for (const name of fs.readdirSync(dir).sort()) {
      const full = path.join(dir, name);
      const childRel = rel ? `${rel}/${name}` : name;
      const ignoredHere = inIgnored || ignoredName(name);
      const stat = fs.lstatSync(full);
      let content: string | undefined;
      let isDir = false;
      if (stat.isDirectory()) isDir = true;
      else if (stat.isFile()) content = full;
      else if (stat.isSymbolicLink()) {
        let real: string | undefined;
        try {
          real = fs.realpathSync(full);
        } catch {
          real = undefined;
        }
        if (real === undefined) continue;
        if (!isInside(realRoot, real)) {
          view.escapes.push(childRel);
          continue;
        }
        if (!fs.statSync(real).isFile()) continue;
        content = real;
      } else continue;
      if (looksSecret(name)) {
        view.linkSecret = true;
        if (!ignoredHere) view.copySecret = true;
      }
      if (isDir) visitBoth(full, childRel, ignoredHere);
      else if (!ignoredHere && content !== undefined) view.copyFiles.set(childRel, sha(fs.readFileSync(content)));
    }
  };
  visitBoth(mediaDir, '', false);
  return view;
}

/** Regular files below a copy (links not followed) and anything else found there. */
function viewOfCopy(dir: string): { files: Map<string, string>; odd: string[] } {
  const files = new Map<string, string>();
  const odd: string[] = [];
  for (const [rel, print] of fingerprintTree(dir)) {
    if (print.t === 'file') files.set(rel, print.sha);
    else if (print.t !== 'dir') odd.push(`${rel} (${print.t})`);
  }
  return { files, odd };
}

// ---------------------------------------------------------------------------
// The scenario world

export type Mode = 'symlink' | 'copy' | 'auto';
/** Who made a path under mediaRoot: the tool, someone else, or the tool and then someone edited it by hand. */
export type Owner = 'tool' | 'foreign' | 'edited';

export interface AppModel {
  /** Folder under apps/. */
  dir: string;
  name: string;
  /** The config entry carries `name` (else the folder name is the app name). */
  explicitName: boolean;
  mediaDirname: string | undefined;
}

export interface ConfigModel {
  mode: Mode;
  relative: boolean;
  apps: AppModel[];
}

export type StepKind =
  | 'link'
  | 'link-dry'
  | 'clean'
  | 'clean-force'
  | 'verify'
  | 'mode-switch'
  | 'relative-switch'
  | 'app-added'
  | 'app-renamed'
  | 'app-removed'
  | 'source-edit'
  | 'copy-hand-edit'
  | 'copy-file-added'
  | 'entry-replaced'
  | 'copy-subdir-swapped'
  /** Someone who can write mediaRoot edits the records file: names that climb out, an entry's record tampered with. */
  | 'records-forged'
  /**
   * A run of the tool (link, clean, clean --force) during which a racing process swaps a folder for a link, at a random
   * moment.
   */
  | 'raced-run';

export const STEP_WEIGHTS: ReadonlyArray<readonly [StepKind, number]> = [
  ['link', 30],
  ['link-dry', 3],
  ['clean', 6],
  ['clean-force', 3],
  ['verify', 5],
  ['mode-switch', 7],
  ['relative-switch', 3],
  ['app-added', 5],
  ['app-renamed', 4],
  ['app-removed', 4],
  ['source-edit', 9],
  ['copy-hand-edit', 6],
  ['copy-file-added', 6],
  ['entry-replaced', 4],
  ['copy-subdir-swapped', 3],
  ['records-forged', 3],
  ['raced-run', 5],
];

export interface ScenarioOptions {
  /** How many steps, inclusive range; a final `link` is always added. */
  steps?: [number, number];
  /**
   * The steps themselves, chosen by the caller (fast-check, which can then shrink them), instead of drawn from the
   * scenario's seed; the seed still draws everything else. A final `link` is added as with `steps`.
   */
  kinds?: readonly StepKind[];
  /** Bigger media trees (hundreds of files), for crash runs that must be cut mid-copy. */
  bulk?: boolean;
  /** Keep the scenario's folder after a failure (its path is in the log). */
  keep?: boolean;
  /** End with a link (default true), so every scenario checks link + verify at least once. */
  finalLink?: boolean;
}

export interface ScenarioResult {
  seed: number;
  /** Every step as it was carried out, setup first. */
  steps: string[];
  violations: string[];
  /** How many calls of link/clean/verify the scenario made. */
  toolRuns: number;
  dir: string;
}

const APP_NAMES = [
  'blog',
  'shop',
  'news',
  'wiki',
  'docs',
  'forum',
  'cart',
  'maps',
  'chat',
  'mail',
  'auth',
  'feed',
  'game',
  'jobs',
  'poll',
  'shop2',
];
const FOREIGN_NAMES = [
  'robots.txt',
  'legacy',
  'uploads',
  'favicon.ico',
  '.htaccess',
  'old-site',
  'cdn',
  'tmp',
  'vendor',
];

/** Thrown inside a step to stop the scenario with a violation (already recorded in `violations`). */
export class Violation extends Error {}

export class World {
  readonly rng: Rng;
  readonly sandbox: string;
  readonly project: string;
  readonly outside: string;
  /** mediaRoot as configured (may be a link). */
  readonly mediaRoot: string;
  /** The folder the tool really writes in. */
  readonly realMediaRoot: string;
  config: ConfigModel;
  /** Every path below the real mediaRoot, and who made it. */
  readonly owner = new Map<string, Owner>();
  readonly steps: string[] = [];
  readonly violations: string[] = [];
  toolRuns = 0;
  private counter = 0;
  /** All apps that ever existed on disk (configured or not). */
  readonly apps: AppModel[] = [];

  constructor(
    readonly seed: number,
    readonly options: ScenarioOptions = {},
  ) {
    this.rng = new Rng(seed);
    this.sandbox = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), `app-media-prop-${seed}-`)));
    this.project = path.join(this.sandbox, 'project');
    this.outside = path.join(this.sandbox, 'outside');
    fs.mkdirSync(path.join(this.project, 'public'), { recursive: true });
    this.mediaRoot = path.join(this.project, 'public', 'media');
    if (this.rng.chance(0.15)) {
      // mediaRoot is itself a link (allowed by the spec) to a folder elsewhere in the project.
      fs.mkdirSync(path.join(this.project, 'srv', 'media'), { recursive: true });
      fs.symlinkSync(path.join('..', 'srv', 'media'), this.mediaRoot);
      this.realMediaRoot = path.join(this.project, 'srv', 'media');
    } else {
      this.realMediaRoot = this.mediaRoot;
    }
    this.config = {
      mode: this.rng.pick(['symlink', 'copy', 'copy', 'symlink', 'auto'] as const),
      relative: this.rng.chance(0.7),
      apps: [],
    };
  }

  // ---- building ------------------------------------------------------------

  private fresh(prefix: string): string {
    this.counter += 1;
    return `${prefix}${this.counter}`;
  }

  private contents(): Buffer {
    const size = this.options.bulk ? this.rng.range(1024, 24 * 1024) : this.rng.pick([0, 1, 7, 64, 300, 1500, 4000]);
    return this.rng.bytes(size);
  }

  /** The outside world: folders and files a link may lead to; never to be touched by the tool. */
  buildOutside(): void {
    fs.writeFileSync(this.path(this.outside, 'secret.txt'), 'outside secret\n');
    fs.writeFileSync(this.path(this.outside, 'shared', 'logo.svg'), '<svg/>');
    fs.writeFileSync(this.path(this.outside, 'shared', 'css', 'shared.css'), 'body{}');
    fs.writeFileSync(this.path(this.outside, 'lib', 'lib.js'), 'export {}');
  }

  /** `path.join` that also makes the parent folders. */
  private path(...parts: string[]): string {
    const full = path.join(...parts);
    fs.mkdirSync(path.dirname(full), { recursive: true });
    return full;
  }

  appDir(app: AppModel): string {
    return path.join(this.project, 'apps', app.dir);
  }

  mediaDir(app: AppModel): string {
    return path.join(this.appDir(app), app.mediaDirname ?? 'app_media', app.name);
  }

  /** A random media tree: folders, files, and sometimes dotfiles, internal and escaping links, loops. */
  private writeMedia(app: AppModel): void {
    const media = this.mediaDir(app);
    fs.mkdirSync(media, { recursive: true });
    const dirs = ['', ...['css', 'js', 'img', 'img/icons', 'fonts'].filter(() => this.rng.chance(0.45))];
    const files: string[] = [];
    const count = this.options.bulk ? this.rng.range(80, 260) : this.rng.range(1, 6);
    for (let index = 0; index < count; index++) {
      const dir = this.rng.pick(dirs);
      const rel = path.posix.join(dir, `f${index}.${this.rng.pick(['css', 'js', 'png', 'txt'])}`);
      fs.writeFileSync(this.path(media, rel), this.contents());
      files.push(rel);
    }
    if (this.rng.chance(0.1)) fs.mkdirSync(path.join(media, 'empty'), { recursive: true });
    if (this.rng.chance(0.15)) fs.writeFileSync(this.path(media, '.gitkeep'), '');
    if (this.rng.chance(0.1))
      fs.writeFileSync(this.path(media, this.rng.pick(['', 'js/'] as const) + '.env'), 'TOKEN=s3cret\n');
    if (this.rng.chance(0.08)) fs.writeFileSync(this.path(media, 'backup.css~'), 'old');
    if (this.rng.chance(0.05)) fs.writeFileSync(this.path(media, 'key.pem'), '-----BEGIN KEY-----\n');
    if (this.rng.chance(0.05)) fs.writeFileSync(this.path(media, '.git', 'config'), '[core]\n');
    const first = files[0];
    if (first !== undefined && this.rng.chance(0.2)) {
      // A link to a file inside the media folder (a copy holds it as a plain file).
      const at = this.path(media, `alias-${path.posix.basename(first)}`);
      fs.symlinkSync(path.relative(path.dirname(at), path.join(media, first)), at);
    }
    if (dirs.length > 1 && this.rng.chance(0.1)) fs.symlinkSync(dirs[1] as string, path.join(media, 'dirlink'));
    if (this.rng.chance(0.12))
      fs.symlinkSync(
        this.rng.chance(0.5)
          ? path.join(this.outside, 'secret.txt')
          : path.relative(media, path.join(this.outside, 'secret.txt')),
        path.join(media, 'leak.txt'),
      );
    if (this.rng.chance(0.06)) fs.symlinkSync(path.join(this.outside, 'lib'), path.join(media, 'lib'));
    if (this.rng.chance(0.08)) fs.symlinkSync('nowhere.css', path.join(media, 'gone.css'));
    if (this.rng.chance(0.06)) {
      fs.symlinkSync('loop-b', path.join(media, 'loop-a'));
      fs.symlinkSync('loop-a', path.join(media, 'loop-b'));
    }
    const other = this.apps.find((candidate) => candidate !== app && fs.existsSync(this.mediaDir(candidate)));
    if (other && this.rng.chance(0.06)) fs.symlinkSync(this.mediaDir(other), path.join(media, 'cross'));
  }

  /** A new app folder: with media most of the time, else only a README (and sometimes a misnamed folder). */
  private newApp(name: string): AppModel {
    const explicit = this.rng.chance(0.25);
    const app: AppModel = {
      dir: explicit ? `${name}-app` : name,
      name,
      explicitName: explicit,
      mediaDirname: this.rng.chance(0.15) ? 'static' : undefined,
    };
    fs.writeFileSync(this.path(this.appDir(app), 'README.md'), `# ${name}\n`);
    if (this.rng.chance(0.85)) this.writeMedia(app);
    else if (this.rng.chance(0.5)) fs.writeFileSync(this.path(this.appDir(app), 'app_media', `${name}x`, 'x.css'), 'x');
    this.apps.push(app);
    return app;
  }

  private unusedName(): string | undefined {
    const taken = new Set([...this.apps.map((app) => app.name), ...this.apps.map((app) => app.dir)]);
    const free = APP_NAMES.filter((name) => !taken.has(name));
    return free.length > 0 ? this.rng.pick(free) : undefined;
  }

  writeConfig(): void {
    const apps = this.config.apps.map((app) => {
      if (!app.explicitName && app.mediaDirname === undefined) return `./apps/${app.dir}`;
      const entry: Record<string, string> = { path: `./apps/${app.dir}` };
      if (app.explicitName) entry['name'] = app.name;
      if (app.mediaDirname !== undefined) entry['mediaDirname'] = app.mediaDirname;
      return entry;
    });
    const config = { mediaRoot: 'public/media', mode: this.config.mode, relative: this.config.relative, apps };
    fs.writeFileSync(path.join(this.project, 'app-media.config.json'), `${JSON.stringify(config, null, 2)}\n`);
  }

  /** Marks everything at and below `rel` (under the real mediaRoot) as made by hand. */
  private markForeign(rel: string): void {
    const full = path.join(this.realMediaRoot, rel);
    const print = fingerprintOf(full);
    if (!print) return;
    this.owner.set(rel, 'foreign');
    if (print.t === 'dir')
      for (const child of fingerprintTree(full).keys()) this.owner.set(`${rel}/${child}`, 'foreign');
  }

  /** Drops paths that are gone (removed by hand). */
  private forgetGone(): void {
    const present = this.mediaPrints();
    for (const rel of [...this.owner.keys()]) if (!present.has(rel)) this.owner.delete(rel);
  }

  mediaPrints(): Map<string, Fingerprint> {
    return fingerprintTree(this.realMediaRoot);
  }

  /**
   * Everything the tool must not touch outside mediaRoot: the project, the outside folder, the link that mediaRoot may
   * be.
   */
  outsidePrints(): Map<string, Fingerprint> {
    return fingerprintTree(this.sandbox, (full) => full === this.realMediaRoot);
  }

  private topEntries(): string[] {
    return [...this.owner.keys()].filter((rel) => !rel.includes('/')).sort();
  }

  /**
   * Random foreign things in mediaRoot: files, folders with files, links to real folders, dangling links, an empty
   * folder.
   */
  private placeForeign(name: string, options: { empty?: boolean } = {}): void {
    const full = path.join(this.realMediaRoot, name);
    fs.mkdirSync(this.realMediaRoot, { recursive: true });
    const kinds = ['file', 'folder', 'link-outside', 'link-app', 'dangling', 'empty-folder'] as const;
    const kind = this.rng.pick(
      options.empty === false ? kinds.filter((candidate) => candidate !== 'empty-folder') : kinds,
    );
    const withMedia = this.apps.filter((app) => fs.existsSync(this.mediaDir(app)));
    switch (kind) {
      case 'file':
        fs.writeFileSync(full, this.contents());
        break;
      case 'folder':
        fs.writeFileSync(this.path(full, 'index.html'), '<p>mine</p>');
        fs.writeFileSync(this.path(full, 'css', 'own.css'), this.contents());
        break;
      case 'link-outside':
        fs.symlinkSync(
          this.rng.chance(0.5)
            ? path.join(this.outside, 'shared')
            : path.relative(this.realMediaRoot, path.join(this.outside, 'shared')),
          full,
        );
        break;
      case 'link-app': {
        // A link made by hand to some app's media folder: to this name's app (right) or another.
        const target =
          withMedia.find((app) => app.name === name) ?? (withMedia.length > 0 ? this.rng.pick(withMedia) : undefined);
        if (target) fs.symlinkSync(`./${path.relative(this.realMediaRoot, this.mediaDir(target))}`, full);
        else fs.symlinkSync(path.join(this.outside, 'shared'), full);
        break;
      }
      case 'dangling':
        fs.symlinkSync(
          this.rng.chance(0.5) ? '../gone/elsewhere' : path.join(this.sandbox, 'deleted-checkout', name),
          full,
        );
        break;
      case 'empty-folder':
        fs.mkdirSync(full);
        break;
    }
    this.markForeign(name);
  }

  // ---- the scenario ----------------------------------------------------------

  /** Apps, an earlier run of the tool under another config, foreign entries: the state before the steps. */
  async setup(): Promise<void> {
    this.buildOutside();
    const count = this.rng.range(1, 5);
    for (let index = 0; index < count; index++) {
      const name = this.unusedName();
      if (name) this.newApp(name);
    }
    this.config.apps = this.apps.filter(() => this.rng.chance(0.85));
    if (this.config.apps.length === 0 && this.apps[0]) this.config.apps.push(this.apps[0]);

    const foreignFirst = this.rng.chance(0.3);
    const foreignCount = this.rng.pick([0, 0, 1, 1, 2, 3]);
    const placeAll = (): void => {
      for (let index = 0; index < foreignCount; index++) {
        // Half the time at an app's name (a conflict), else an unrelated name.
        const name =
          this.rng.chance(0.5) && this.apps.length > 0 ? this.rng.pick(this.apps).name : this.rng.pick(FOREIGN_NAMES);
        if (this.owner.has(name)) continue;
        this.placeForeign(name);
        this.steps.push(`setup: foreign ${describeFp(fingerprintOf(path.join(this.realMediaRoot, name)))} at ${name}`);
      }
    };
    if (foreignFirst) placeAll();
    if (this.rng.chance(0.6)) {
      // An earlier config: another mode, another relative, a subset of apps plus apps since dropped.
      const current = this.config;
      const earlier: ConfigModel = {
        mode: this.rng.pick(['symlink', 'copy'] as const),
        relative: this.rng.chance(0.5),
        apps: this.apps.filter(() => this.rng.chance(0.7)),
      };
      const old = this.unusedName();
      if (old && this.rng.chance(0.5)) {
        const gone = this.newApp(old);
        earlier.apps.push(gone);
      }
      this.config = earlier;
      this.writeConfig();
      this.steps.push(`setup: earlier config ${this.describeConfig()}`);
      await this.toolStep('link');
      this.config = current;
    }
    if (!foreignFirst) placeAll();
    if (this.rng.chance(0.2)) await this.userStep('copy-hand-edit');
    this.writeConfig();
    this.steps.push(`setup: config ${this.describeConfig()}`);
  }

  /** Sets the mode by hand (a step of its own in the log). */
  setMode(mode: Mode, why: string): void {
    const from = this.config.mode;
    this.config.mode = mode;
    this.writeConfig();
    this.steps.push(`mode-switch: ${from} -> ${mode} (${why})`);
  }

  describeConfig(): string {
    const apps = this.config.apps.map(
      (app) =>
        `${app.name}${app.dir !== app.name ? `@${app.dir}` : ''}${app.mediaDirname ? `/${app.mediaDirname}` : ''}` +
        `${fs.existsSync(this.mediaDir(app)) ? '' : '(no media)'}`,
    );
    return `mode=${this.config.mode} relative=${this.config.relative} apps=[${apps.join(', ')}]`;
  }

  plan(): StepKind[] {
    const kinds: StepKind[] = [...(this.options.kinds ?? [])];
    if (!this.options.kinds) {
      const [lo, hi] = this.options.steps ?? [4, 8];
      const count = this.rng.range(lo, hi);
      for (let index = 0; index < count; index++) kinds.push(this.rng.weighted(STEP_WEIGHTS));
    }
    if (this.options.finalLink ?? true) kinds.push('link');
    return kinds;
  }

  async run(): Promise<ScenarioResult> {
    try {
      await this.setup();
      for (const kind of this.plan()) {
        await this.step(kind);
        if (this.violations.length > 0) break;
      }
    } catch (error) {
      if (!(error instanceof Violation))
        this.violations.push(
          `step ${this.steps.length}: unexpected failure: ${(error as Error).stack ?? String(error)}`,
        );
    }
    // Nothing of the tool's beside the scenario's folder either (the system temp folder holds it).
    const stray = fs.readdirSync(os.tmpdir()).filter((name) => name.startsWith('.app-media'));
    if (stray.length > 0 && this.violations.length === 0)
      this.violations.push(`the system temp folder holds ${stray.join(', ')}`);
    return this.result();
  }

  result(): ScenarioResult {
    return {
      seed: this.seed,
      steps: [...this.steps],
      violations: [...this.violations],
      toolRuns: this.toolRuns,
      dir: this.sandbox,
    };
  }

  dispose(): void {
    if (this.violations.length > 0 && this.options.keep) return;
    fs.rmSync(this.sandbox, { recursive: true, force: true });
  }

  async step(kind: StepKind): Promise<void> {
    switch (kind) {
      case 'link':
      case 'link-dry':
      case 'clean':
      case 'clean-force':
      case 'verify':
        await this.toolStep(kind);
        return;
      case 'raced-run':
        await this.racedRun();
        return;
      default:
        await this.userStep(kind);
    }
  }

  /**
   * A run of the tool raced by another process (the adversary of issue 23): at a random moment
   * where the run writes or deletes, a folder it works in (its entry, a folder of its copy, the
   * private folder a new copy is built in) is renamed away and a link to a folder outside put at
   * its name, or the tool's own link about to be removed is swapped for a file. Then: nothing
   * outside mediaRoot changed (the folder the link leads to included), nothing foreign changed,
   * and the raced app is not reported as done. What the adversary made is foreign from then on.
   */
  private async racedRun(): Promise<void> {
    const rng = this.rng;
    const kind = rng.pick(['link', 'link', 'clean', 'clean-force'] as const);
    // The folder a swapped-in link leads to: made before the run, so it is in the run's "before".
    const twin = path.join(this.outside, this.fresh('race-twin-'));
    fs.writeFileSync(this.path(twin, 'keep.txt'), "the racer's folder");
    fs.writeFileSync(this.path(twin, 'css', 'f0.css'), "not the app's");
    const chance = rng.pick([0.05, 0.2, 0.6]);
    const deeper = rng.chance(0.5);
    const kindOfFolders: FolderKind = rng.chance(0.3) ? 'path' : 'descriptor';
    const was = folderKind();
    folderKind(kindOfFolders);
    const swapped: string[] = [];
    let racedApp: string | undefined;
    let decided = false;
    onPause((point, detail) => {
      if (decided || point === 'sweep' || !rng.chance(chance)) return;
      decided = true;
      const entry = detail.includes('/') ? detail.slice(0, detail.indexOf('/')) : detail;
      // A copy set aside for a link is worked on under a temporary name that ends with its app's.
      racedApp = entry.replace(/^\.app-media-tmp-[0-9a-f]{16}-\d{1,9}[0-9a-f]{8}-/, '');
      const top = fs.readdirSync(this.realMediaRoot);
      // A folder of the run's (a link set aside at such a name leads to the app's sources: not the run's to race).
      const temp = top.find(
        (name) =>
          name.startsWith('.app-media-tmp-') &&
          name.endsWith(`-${entry}`) &&
          fingerprintOf(path.join(this.realMediaRoot, name))?.t === 'dir',
      );
      if (point === 'unlink') {
        const at = path.join(this.realMediaRoot, entry);
        const taken = this.fresh('.taken-');
        fs.renameSync(at, path.join(this.realMediaRoot, taken));
        fs.writeFileSync(at, "the racer's file");
        swapped.push(entry, taken);
        return;
      }
      // What to swap: the private folder a copy is built in (if there is one), the entry, or the folder holding the
      // file.
      const rel = detail.slice(entry.length + 1);
      const holder = temp ?? entry;
      const candidates = [holder];
      if (rel.includes('/')) candidates.push(`${holder}/${rel.slice(0, rel.lastIndexOf('/'))}`);
      const target = (deeper ? candidates[candidates.length - 1] : candidates[0]) as string;
      const full = path.join(this.realMediaRoot, target);
      if (fingerprintOf(full)?.t !== 'dir' || fingerprintOf(path.join(this.realMediaRoot, holder))?.t !== 'dir') return;
      const taken = path.posix.join(path.posix.dirname(target), this.fresh('.taken-'));
      fs.renameSync(full, path.join(this.realMediaRoot, taken));
      fs.symlinkSync(twin, full);
      swapped.push(target, taken);
    });
    const before = this.mediaPrints();
    this.reconcile(before);
    const outsideBefore = this.outsidePrints();
    let report: Report;
    try {
      this.toolRuns++;
      const options: RunOptions = { cwd: this.project };
      report = kind === 'link' ? await link(options) : await clean({ ...options, force: kind === 'clean-force' });
    } catch (error) {
      this.steps.push(`raced ${kind}`);
      this.fail(
        `raced ${kind} threw ${(error as { code?: string }).code ?? ''} ${(error as Error).stack ?? String(error)}`,
      );
    } finally {
      onPause(undefined);
      folderKind(was);
    }
    const raced =
      swapped.length > 0
        ? `${swapped.filter((_, index) => index % 2 === 0).join(', ')} swapped (${kindOfFolders} folders)`
        : 'no swap';
    this.steps.push(`raced ${kind}: ${raced}: ${summarize(report)}`);
    const racedLine = report.apps.find((app) => app.name === racedApp);
    // Done as if nothing happened: only if the swap missed the run's work (a temporary folder is removed, not
    // published).
    if (
      swapped.length > 0 &&
      racedLine &&
      ['linked', 'copied', 'relinked', 'removed', 'pruned'].includes(racedLine.status)
    ) {
      const entryNow = fingerprintOf(path.join(this.realMediaRoot, racedApp as string));
      if (entryNow?.t === 'link' && fs.readlinkSync(path.join(this.realMediaRoot, racedApp as string)) === twin) {
        this.fail(`${racedApp}: reported ${racedLine.status}, but the racer's link is at its name`);
      }
    }
    // The run's staging folder (made by the first copy sync that writes, used by every one after it; labelled
    // `.staging`, which no app name can be) names no app: swapped, it fails the sync that was making it, whose reason
    // shows it as `(staging folder)`.
    const isRaced = (app: Report['apps'][number]): boolean =>
      app.name === racedApp ||
      (racedApp === '.staging' && app.status === 'error' && (app.reason ?? '').includes('(staging folder)'));
    const errors = report.apps
      .filter((app) => app.status === 'error' && !isRaced(app))
      .map((app) => `${app.name}: ${app.reason ?? ''}`);
    // The racer moved what was at the swapped name (foreign files in a copy among it): it is now below the name it
    // took.
    const pairs: Array<[string, string]> = [];
    for (let index = 0; index < swapped.length; index += 2)
      pairs.push([swapped[index] as string, swapped[index + 1] as string]);
    const movedTo = (rel: string): string => {
      for (const [from, to] of pairs)
        if (rel === from || rel.startsWith(`${from}/`)) return `${to}${rel.slice(from.length)}`;
      return rel;
    };
    const beforeMoved = new Map([...before].map(([rel, print]) => [movedTo(rel), print]));
    for (const [rel, who] of [...this.owner]) {
      const to = movedTo(rel);
      if (to === rel) continue;
      this.owner.delete(rel);
      this.owner.set(to, who);
    }
    this.afterTool(kind, beforeMoved, outsideBefore, errors);
    for (const rel of swapped) this.markForeign(rel);
    // What the adversary did is foreign; the raced app's line is not checked against the disk (it may be error or
    // conflict).
    if (kind === 'link') {
      const others = { ...report, apps: report.apps.filter((app) => !isRaced(app)) };
      if (swapped.length === 0) await this.checkLinked(report);
      else await this.checkLinkedAfterRace(others);
    }
  }

  /**
   * After a raced link: the apps the racer did not touch are served right (verify is not compared: the raced one may
   * fail it).
   */
  private async checkLinkedAfterRace(report: Report): Promise<void> {
    const problems: string[] = [];
    for (const app of report.apps) {
      if (app.status === 'conflict' && !this.somethingForeignAt(app.name))
        problems.push(`${app.name}: conflict with nothing foreign in the way (${app.reason ?? ''})`);
    }
    if (problems.length > 0) this.fail(problems.join('\n    '));
  }

  // ---- steps by hand (the user, not the tool) -----------------------------------

  async userStep(kind: Exclude<StepKind, 'link' | 'link-dry' | 'clean' | 'clean-force' | 'verify'>): Promise<void> {
    const note = this.byHand(kind);
    this.forgetGone();
    this.writeConfig();
    this.steps.push(`${kind}${note ? `: ${note}` : ': (nothing to do)'}`);
  }

  private byHand(kind: string): string | undefined {
    const rng = this.rng;
    switch (kind) {
      case 'mode-switch': {
        const from = this.config.mode;
        this.config.mode = rng.pick(
          (['symlink', 'copy', 'auto'] as const).filter(
            (mode) => mode !== from && (mode !== 'auto' || rng.chance(0.3)),
          ),
        );
        return `${from} -> ${this.config.mode}`;
      }
      case 'relative-switch':
        this.config.relative = !this.config.relative;
        return `relative=${this.config.relative}`;
      case 'app-added': {
        const unconfigured = this.apps.filter((app) => !this.config.apps.includes(app));
        const name = rng.chance(0.3) && unconfigured.length > 0 ? undefined : this.unusedName();
        const app = name ? this.newApp(name) : unconfigured.length > 0 ? rng.pick(unconfigured) : undefined;
        if (!app || this.config.apps.some((other) => other.name === app.name)) return undefined;
        this.config.apps.push(app);
        return `${app.name}${fs.existsSync(this.mediaDir(app)) ? '' : ' (no media)'}`;
      }
      case 'app-renamed': {
        if (this.config.apps.length === 0) return undefined;
        const app = rng.pick(this.config.apps);
        const to = this.unusedName();
        if (!to) return undefined;
        const from = app.name;
        const oldMedia = this.mediaDir(app);
        app.name = to;
        app.explicitName = to !== app.dir;
        if (fs.existsSync(oldMedia)) fs.renameSync(oldMedia, this.mediaDir(app));
        return `${from} -> ${to}`;
      }
      case 'app-removed': {
        if (this.config.apps.length === 0) return undefined;
        const app = rng.pick(this.config.apps);
        this.config.apps = this.config.apps.filter((other) => other !== app);
        if (rng.chance(0.4)) {
          fs.rmSync(this.appDir(app), { recursive: true, force: true });
          this.apps.splice(this.apps.indexOf(app), 1);
          return `${app.name} (its folder deleted too)`;
        }
        return app.name;
      }
      case 'source-edit': {
        if (this.config.apps.length === 0) return undefined;
        const app = rng.pick(this.config.apps);
        const media = this.mediaDir(app);
        if (!fs.existsSync(media)) {
          this.writeMedia(app);
          return `${app.name}: media folder created`;
        }
        const files = [...fingerprintTree(media)].filter(([, print]) => print.t === 'file').map(([rel]) => rel);
        const what = rng.weighted([
          ['change', 4],
          ['add', 3],
          ['delete', 2],
          ['drop-media', files.length > 0 ? 1 : 0],
        ] as const);
        if (what === 'drop-media') {
          fs.rmSync(media, { recursive: true, force: true });
          return `${app.name}: media folder deleted`;
        }
        if (what === 'change' && files.length > 0) {
          const rel = rng.pick(files);
          // Another size, so that size + mtime sees it.
          fs.appendFileSync(path.join(media, rel), rng.bytes(rng.range(1, 50)));
          return `${app.name}: ${rel} changed`;
        }
        if (what === 'delete' && files.length > 0) {
          const rel = rng.pick(files);
          fs.rmSync(path.join(media, rel));
          return `${app.name}: ${rel} deleted`;
        }
        const rel = path.posix.join(rng.pick(['', 'css', 'newdir']), `${this.fresh('n')}.css`);
        fs.writeFileSync(this.path(media, rel), this.contents());
        return `${app.name}: ${rel} added`;
      }
      case 'copy-hand-edit': {
        const files = this.inCopies('file', 'tool');
        if (files.length === 0) return undefined;
        const rel = rng.pick(files);
        fs.appendFileSync(path.join(this.realMediaRoot, rel), `/* edited by hand ${this.fresh('e')} */`);
        this.owner.set(rel, 'edited');
        return rel;
      }
      case 'copy-file-added': {
        const dirs = [
          ...this.inCopies('dir', 'tool'),
          ...this.topEntries().filter(
            (rel) => this.owner.get(rel) === 'tool' && fingerprintOf(path.join(this.realMediaRoot, rel))?.t === 'dir',
          ),
        ];
        if (dirs.length === 0) return undefined;
        const dir = rng.pick(dirs.sort());
        const rel = rng.chance(0.8) ? `${dir}/${this.fresh('user-')}.txt` : `${dir}/${this.fresh('user-dir-')}`;
        if (rel.endsWith('.txt')) fs.writeFileSync(path.join(this.realMediaRoot, rel), this.contents());
        else fs.mkdirSync(path.join(this.realMediaRoot, rel));
        this.markForeign(rel);
        return rel;
      }
      case 'entry-replaced': {
        const tops = this.topEntries().filter((rel) => this.owner.get(rel) === 'tool' && !rel.startsWith('.app-media'));
        if (tops.length === 0) return undefined;
        const name = rng.pick(tops);
        const full = path.join(this.realMediaRoot, name);
        const was = describeFp(fingerprintOf(full));
        // A copy without files cannot be told from an empty folder made in its place (a limit of proof by
        // file facts, see README "How it knows an entry is its own"): such a copy is not replaced by an empty folder.
        const holdsFiles = [...fingerprintTree(full).values()].some((print) => print.t !== 'dir');
        fs.rmSync(full, { recursive: true, force: true });
        this.forgetGone();
        this.placeForeign(name, holdsFiles ? {} : { empty: false });
        return `${name}: ${was} replaced by hand with ${describeFp(fingerprintOf(full))}`;
      }
      case 'records-forged': {
        const file = path.join(this.realMediaRoot, '.app-media.json');
        if (!fs.existsSync(file)) return undefined;
        const records = JSON.parse(fs.readFileSync(file, 'utf8')) as {
          entries: Record<string, Record<string, unknown>>;
        };
        const notes: string[] = [];
        // Names that climb out of mediaRoot, each claiming what is there with its real facts.
        const app = this.apps.length > 0 ? rng.pick(this.apps) : undefined;
        const climbs = [
          '..',
          '../..',
          '../../outside',
          ...(app ? [path.relative(this.realMediaRoot, this.mediaDir(app))] : []),
        ];
        for (const name of climbs.filter(() => rng.chance(0.5))) {
          const target = path.resolve(this.realMediaRoot, name);
          const print = fingerprintOf(target);
          if (print?.t === 'dir') {
            const files: Record<string, [number, number]> = {};
            for (const [rel, child] of fingerprintTree(target))
              if (child.t === 'file') files[rel] = [child.size, Math.round(child.mtimeMs)];
            records.entries[name] = { kind: 'copy', source: 'x', files };
          } else if (print?.t === 'link') {
            records.entries[name] = {
              kind: 'symlink',
              target: `sha256:${sha(print.text.replace(/[\\/]+$/, ''))}`,
              source: 'x',
            };
          }
          notes.push(name);
        }
        // An entry of the tool's whose record now lists a path out of its folder: not provably the tool's any more.
        const own = Object.keys(records.entries).filter(
          (name) => this.owner.get(name) === 'tool' && records.entries[name]?.['kind'] === 'copy',
        );
        if (own.length > 0 && rng.chance(0.4)) {
          const name = rng.pick(own.sort());
          (records.entries[name]?.['files'] as Record<string, unknown>)['../../outside/secret.txt'] = [15, 0];
          this.markForeign(name);
          notes.push(`${name} (its record tampered with)`);
        }
        fs.writeFileSync(file, `${JSON.stringify(records)}\n`);
        return notes.length > 0 ? notes.join(', ') : undefined;
      }
      case 'copy-subdir-swapped': {
        const dirs = this.inCopies('dir', 'tool');
        if (dirs.length === 0) return undefined;
        const rel = rng.pick(dirs);
        const full = path.join(this.realMediaRoot, rel);
        // The same names, sizes and times, in a folder outside: a swap the records cannot tell by facts.
        const twin = path.join(this.outside, this.fresh('twin-'));
        for (const [child, print] of fingerprintTree(full)) {
          const from = path.join(full, child);
          const to = path.join(twin, child);
          if (print.t === 'dir') fs.mkdirSync(to, { recursive: true });
          else if (print.t === 'file') {
            fs.writeFileSync(this.path(to), fs.readFileSync(from));
            fs.utimesSync(to, print.mtimeMs / 1000, print.mtimeMs / 1000);
          }
        }
        fs.mkdirSync(twin, { recursive: true });
        fs.rmSync(full, { recursive: true, force: true });
        this.forgetGone();
        fs.symlinkSync(twin, full);
        this.markForeign(rel);
        return `${rel} -> ${path.relative(this.sandbox, twin)}`;
      }
    }
    throw new Error(`internal: unknown step ${kind}`);
  }

  /** Paths inside the tool's copies (not the top entry itself), of one kind and one owner. */
  private inCopies(type: 'file' | 'dir', who: Owner): string[] {
    const prints = this.mediaPrints();
    return [...this.owner]
      .filter(([rel, owner]) => {
        if (owner !== who || !rel.includes('/')) return false;
        const top = rel.slice(0, rel.indexOf('/'));
        return (
          this.owner.get(top) === 'tool' &&
          prints.get(top)?.t === 'dir' &&
          prints.get(rel)?.t === type &&
          !path.posix.basename(rel).startsWith('.app-media')
        );
      })
      .map(([rel]) => rel)
      .sort();
  }

  // ---- steps of the tool, and the checks around them ----------------------------

  fail(message: string): never {
    this.violations.push(`step ${this.steps.length} (${this.steps[this.steps.length - 1] ?? 'setup'}): ${message}`);
    throw new Violation(message);
  }

  /** The bookkeeping agrees with the disk (a check of the checker). */
  reconcile(prints: Map<string, Fingerprint>): void {
    for (const rel of prints.keys())
      if (!this.owner.has(rel)) throw new Error(`internal: ${rel} under mediaRoot has no owner`);
    for (const rel of this.owner.keys()) if (!prints.has(rel)) throw new Error(`internal: ${rel} is tracked but gone`);
  }

  async toolStep(kind: 'link' | 'link-dry' | 'clean' | 'clean-force' | 'verify'): Promise<Report | undefined> {
    const before = this.mediaPrints();
    this.reconcile(before);
    const outsideBefore = this.outsidePrints();
    const options: RunOptions = { cwd: this.project };
    let report: Report;
    try {
      this.toolRuns++;
      if (kind === 'link') report = await link(options);
      else if (kind === 'link-dry') report = await link({ ...options, dryRun: true });
      else if (kind === 'clean') report = await clean(options);
      else if (kind === 'clean-force') report = await clean({ ...options, force: true });
      else report = await verify(options);
    } catch (error) {
      this.steps.push(kind);
      this.fail(`${kind} threw ${(error as { code?: string }).code ?? ''} ${(error as Error).stack ?? String(error)}`);
    }
    this.steps.push(`${kind}: ${summarize(report)}`);
    this.afterTool(
      kind,
      before,
      outsideBefore,
      report.apps.filter((app) => app.status === 'error').map((app) => `${app.name}: ${app.reason ?? ''}`),
    );
    if (kind === 'link') await this.checkLinked(report);
    if (kind === 'clean' || kind === 'clean-force') this.checkCleaned(kind === 'clean-force', report);
    return report;
  }

  /**
   * Rules 1 and 2 around one run of the tool (or several at once, or one cut
   * short): nothing foreign changed or gone, nothing outside mediaRoot
   * touched, nothing made inside a foreign folder, no temporary file or lock
   * left. New paths are the tool's from here on.
   */
  afterTool(
    kind: string,
    before: Map<string, Fingerprint>,
    outsideBefore: Map<string, Fingerprint>,
    errors: string[],
    allow: { editedRemovable?: boolean; leftovers?: boolean } = {},
  ): void {
    const after = this.mediaPrints();
    const problems: string[] = [];
    const editedRemovable = allow.editedRemovable ?? kind === 'clean-force';
    let sources: Map<string, Map<string, string>> | undefined;
    for (const [rel, print] of before) {
      const who = this.owner.get(rel);
      if (who === 'tool') continue;
      const now = after.get(rel);
      if (who === 'edited' && editedRemovable) {
        if (now === undefined) continue;
        // In a race: the forced clean removed the whole copy, then a link made a new one (a new
        // folder: a link that wrote over the edited file in place would leave the folder as it was).
        const top = rel.slice(0, rel.indexOf('/'));
        const remade = rel.includes('/') && after.get(top)?.t === 'dir' && after.get(top)?.ino !== before.get(top)?.ino;
        sources ??= this.sourceCopies();
        if (remade && now.t === 'file' && now.sha === sources.get(top)?.get(rel.slice(top.length + 1))) continue;
      }
      if (!now || !sameEntry(print, now))
        problems.push(`${who} ${rel}: was ${describeFp(print)}, now ${describeFp(now)}`);
    }
    for (const rel of after.keys()) {
      if (before.has(rel)) continue;
      const parent = rel.includes('/') ? rel.slice(0, rel.lastIndexOf('/')) : undefined;
      if (parent !== undefined && this.owner.get(parent) === 'foreign')
        problems.push(`the tool made ${rel} inside a folder it did not create`);
    }
    const outsideAfter = this.outsidePrints();
    for (const [rel, print] of outsideBefore) {
      const now = outsideAfter.get(rel);
      if (!now || !sameEntry(print, now))
        problems.push(`outside mediaRoot ${rel}: was ${describeFp(print)}, now ${describeFp(now)}`);
    }
    for (const rel of outsideAfter.keys())
      if (!outsideBefore.has(rel)) problems.push(`outside mediaRoot: ${rel} appeared`);
    if (kind === 'verify' || kind === 'link-dry') {
      // Read-only: not even a time or an inode of the tool's own entries changes.
      for (const [rel, print] of before) {
        const now = after.get(rel);
        if (!now || !sameEntry(print, now) || (print.t === 'dir' && now.t === 'dir' && print.mtimeMs !== now.mtimeMs))
          problems.push(`${kind} changed ${rel}: ${describeFp(print)} -> ${describeFp(now)}`);
      }
      for (const rel of after.keys()) if (!before.has(rel)) problems.push(`${kind} made ${rel}`);
    }
    if (!allow.leftovers) {
      const leftovers = [...after.keys()].filter(
        (rel) =>
          path.posix.basename(rel).startsWith('.app-media-tmp-') ||
          (!rel.includes('/') && rel.startsWith('.app-media.lock')),
      );
      if (leftovers.length > 0) problems.push(`left behind: ${leftovers.join(', ')}`);
    }
    if (errors.length > 0) problems.push(`error statuses: ${errors.join('; ')}`);
    // Ownership bookkeeping: whatever appeared is the tool's; whatever went is forgotten.
    for (const rel of after.keys()) if (!before.has(rel) || !this.owner.has(rel)) this.owner.set(rel, 'tool');
    for (const rel of [...this.owner.keys()]) if (!after.has(rel)) this.owner.delete(rel);
    if (problems.length > 0) this.fail(problems.join('\n    '));
  }

  /**
   * Right after a run was killed (rule 4): every file at a published path in
   * the tool's copies is whole: the bytes its source has now, or the bytes
   * that were there before the run.
   */
  checkWhole(before: Map<string, Fingerprint>): void {
    const problems: string[] = [];
    const sources = this.sourceCopies();
    for (const [rel, print] of this.mediaPrints()) {
      if (print.t !== 'file' || !rel.includes('/') || this.owner.get(rel) !== 'tool') continue;
      if (rel.split('/').some((part) => part.startsWith('.app-media-tmp-'))) continue;
      const top = rel.slice(0, rel.indexOf('/'));
      const inner = rel.slice(top.length + 1);
      const was = before.get(rel);
      const allowed = new Set<string>();
      if (was?.t === 'file') allowed.add(was.sha);
      const now = sources.get(top)?.get(inner);
      if (now !== undefined) allowed.add(now);
      if (!allowed.has(print.sha))
        problems.push(
          `${rel}: a published file that is neither the source's bytes nor the old ones (${print.size} bytes)`,
        );
    }
    if (problems.length > 0) this.fail(problems.slice(0, 5).join('\n    '));
  }

  /** For each configured app whose media folder is there: what its copy holds (relative path → sha). */
  private sourceCopies(): Map<string, Map<string, string>> {
    const sources = new Map<string, Map<string, string>>();
    for (const app of this.config.apps) {
      const media = this.mediaDir(app);
      if (fs.existsSync(media) && fs.statSync(media).isDirectory())
        sources.set(app.name, viewOfSource(media).copyFiles);
    }
    return sources;
  }

  /** Something foreign (or edited by hand) is at or below mediaRoot/<name>: a conflict is justified. */
  private somethingForeignAt(name: string): boolean {
    for (const [rel, who] of this.owner) {
      if ((rel === name || rel.startsWith(`${name}/`)) && who !== 'tool') return true;
    }
    return false;
  }

  /**
   * After a link: no conflict without something foreign in the way; every app
   * that is not in conflict is served exactly as its media folder says; and
   * verify agrees with this independent look.
   */
  async checkLinked(report: Report): Promise<void> {
    const problems: string[] = [];
    const statusOf = new Map(report.apps.map((app) => [app.name, app.status]));
    for (const app of report.apps) {
      if (app.status === 'conflict' && !this.somethingForeignAt(app.name)) {
        problems.push(`${app.name}: conflict with nothing foreign in the way (${app.reason ?? ''})`);
      }
    }
    const expected = new Map<string, string>();
    for (const app of this.config.apps) {
      const status = statusOf.get(app.name);
      if (status === undefined) {
        problems.push(`${app.name}: no line in the link report`);
        continue;
      }
      if (status === 'conflict' || status === 'error') continue;
      const media = this.mediaDir(app);
      const hasMedia = fs.existsSync(media) && fs.statSync(media).isDirectory();
      const entry = path.join(this.realMediaRoot, app.name);
      const print = fingerprintOf(entry);
      if (!hasMedia) {
        if (status !== 'no-media' && status !== 'pruned')
          problems.push(`${app.name}: has no media folder but link says ${status}`);
        expected.set(app.name, 'no-media');
        continue;
      }
      const source = viewOfSource(media);
      if (print?.t === 'link') {
        let real: string | undefined;
        try {
          real = fs.realpathSync(entry);
        } catch {
          real = undefined;
        }
        if (real !== fs.realpathSync(media))
          problems.push(
            `${app.name}: link ${print.text} resolves to ${real ?? 'nothing'}, ` +
              `not to ${path.relative(this.sandbox, media)}`,
          );
        const mine = this.owner.get(app.name) === 'tool';
        if (mine && this.config.mode === 'copy') problems.push(`${app.name}: the tool's entry is a link in copy mode`);
        if (mine && path.isAbsolute(print.text) === this.config.relative)
          problems.push(
            `${app.name}: the tool's link text ${print.text} does not follow relative=${this.config.relative}`,
          );
        expected.set(app.name, source.escapes.length > 0 ? 'escape' : source.linkSecret ? 'exposed' : 'ok');
      } else if (print?.t === 'dir') {
        if (this.config.mode !== 'copy')
          problems.push(`${app.name}: a folder in ${this.config.mode} mode (status ${status})`);
        // Files added by hand beside the app's are kept (and named) without a conflict; verify calls them drift.
        const added = new Set(
          [...this.owner]
            .filter(([rel, who]) => who === 'foreign' && rel.startsWith(`${app.name}/`))
            .map(([rel]) => rel.slice(app.name.length + 1)),
        );
        const addedFiles = [...added].filter((rel) => fingerprintOf(path.join(entry, rel))?.t !== 'dir');
        const copy = viewOfCopy(entry);
        const missing = [...source.copyFiles.keys()].filter((rel) => !copy.files.has(rel));
        const extra = [...copy.files.keys()].filter((rel) => !source.copyFiles.has(rel) && !added.has(rel));
        const differ = [...source.copyFiles]
          .filter(([rel, hash]) => copy.files.has(rel) && copy.files.get(rel) !== hash)
          .map(([rel]) => rel);
        const odd = copy.odd.filter((line) => !added.has(line.slice(0, line.lastIndexOf(' ('))));
        if (missing.length + extra.length + differ.length + odd.length > 0) {
          problems.push(
            `${app.name}: the copy does not serve the source (missing ${missing.join(',') || '-'}; ` +
              `extra ${extra.join(',') || '-'}; differ ${differ.join(',') || '-'}; odd ${odd.join(',') || '-'})`,
          );
        }
        expected.set(app.name, source.copySecret ? 'exposed' : addedFiles.length > 0 ? 'drift' : 'ok');
      } else {
        problems.push(`${app.name}: link says ${status} but mediaRoot/${app.name} is ${describeFp(print)}`);
      }
    }
    if (problems.length > 0) this.fail(problems.join('\n    '));

    const checked = await verify({ cwd: this.project });
    this.toolRuns++;
    const anyConflict = report.apps.some((app) => app.status === 'conflict');
    for (const line of checked.apps) {
      const want = expected.get(line.name);
      if (want !== undefined && line.status !== want) {
        problems.push(
          `verify says ${line.name} is ${line.status} (${line.reason ?? ''}), the independent check says ${want}`,
        );
      } else if (want === undefined && !anyConflict && !['no-media', 'ok'].includes(line.status)) {
        problems.push(
          `verify says ${line.name} is ${line.status} (${line.reason ?? ''}) after a link without conflicts`,
        );
      }
    }
    const shouldFail = [...expected.values()].some(
      (status) => status === 'escape' || status === 'exposed' || status === 'drift',
    );
    if (!anyConflict && checked.failed !== shouldFail)
      problems.push(
        `verify failed=${checked.failed} after a link without conflicts; expected ${shouldFail}: ${summarize(checked)}`,
      );
    if (problems.length > 0) this.fail(problems.join('\n    '));
  }

  /** After a clean: the tool's entries are gone but for copies holding files changed or added by hand. */
  checkCleaned(force: boolean, report: Report): void {
    const problems: string[] = [];
    if (!fs.existsSync(this.realMediaRoot) && this.owner.size > 0) problems.push('mediaRoot itself was removed');
    for (const name of this.topEntries()) {
      if (this.owner.get(name) !== 'tool' || name.startsWith('.app-media')) continue;
      const inside = [...this.owner].filter(([rel]) => rel.startsWith(`${name}/`));
      const foreign = inside.some(([, who]) => who === 'foreign');
      const edited = inside.some(([, who]) => who === 'edited');
      const own = inside.filter(
        ([rel, who]) => who === 'tool' && fingerprintOf(path.join(this.realMediaRoot, rel))?.t === 'file',
      );
      // Kept as a whole: edited by hand (not forced), or nothing of the tool's left to prove it.
      if (edited && (!force || own.length === 0)) continue;
      if (own.length > 0)
        problems.push(
          `${name}: clean left the tool's files ${own
            .slice(0, 3)
            .map(([rel]) => rel)
            .join(', ')} (status ${report.apps.find((app) => app.name === name)?.status ?? '-'})`,
        );
      else if (!foreign)
        problems.push(
          `${name}: clean left the tool's entry ` +
            `(${describeFp(fingerprintOf(path.join(this.realMediaRoot, name)))}, ` +
            `status ${report.apps.find((app) => app.name === name)?.status ?? '-'})`,
        );
    }
    if (problems.length > 0) this.fail(problems.join('\n    '));
  }
}

export function summarize(report: Report): string {
  return report.apps.map((app) => `${app.name}=${app.status}`).join(' ') || '(no entries)';
}

/** One scenario from its seed, start to end, its folder removed after (unless kept on failure). */
export async function runScenario(seed: number, options: ScenarioOptions = {}): Promise<ScenarioResult> {
  const world = new World(seed, options);
  try {
    return await world.run();
  } finally {
    world.dispose();
  }
}

export function formatFailure(result: ScenarioResult, replay: string): string {
  return [
    `seed ${result.seed}: ${result.violations.length} violation(s)`,
    ...result.violations.map((violation) => `  ${violation}`),
    '  steps:',
    ...result.steps.map((step, index) => `    ${index + 1}. ${step}`),
    `  replay: ${replay}`,
  ].join('\n');
}
