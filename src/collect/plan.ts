/**
 * The plan of a collect run: what each published file's final bytes and
 * name are, which files must be written, which are already there as the
 * tool wrote them, which old ones leave the keep window, and what is in the
 * way. It reads (sources, collectRoot, the tool's own files) and hashes and
 * compresses, but writes nothing in the build: a dry run is this plan,
 * reported. The one write: a new file, when it is hashed, is copied in the same
 * read into the run's private staging folder (no one else's to see; removed
 * with it when the run ends), so its bytes are read once, on the workers, and
 * the copy is the very bytes its name was made from; apply decides whether it
 * is renamed into place.
 */
import { createHash } from 'node:crypto';
import type { Stats } from 'node:fs';
import path from 'node:path';
import { SourceChanged } from '../core/fs/source.js';
import { isSystemError, type SystemError } from '../core/system-errors.js';
import { NotAFile } from './disk.js';
import {
  foldersOf,
  hashedPath,
  INDEX_FILE,
  MANIFEST_NAME,
  OWN_PREFIX,
  PENDING_FILE,
  RECORDS_FILE,
  REV_MANIFEST_NAME,
} from './names.js';
import type { OutputTree } from './outputs.js';
import {
  compressHere,
  hashFileHere,
  hashOpenHere,
  HashFailure,
  type CompressResult,
  type FileHashes,
  type WorkPool,
} from './pool.js';
import { manifestOf, type ManifestEntry } from './manifest.js';
import type { BuildRecord, FileRecord, Index, OwnFileName, OwnFileRecord, Pending, Records } from './records.js';
import { renderStylesheets, type Stylesheet } from './render.js';
import type { CollectSettings } from './settings.js';
import { openMediaFile, readSource, type AppSources, type Source } from './sources.js';

/** Types worth compressing: text, and the few binary formats that are not compressed already. */
const COMPRESSIBLE = new Set([
  'css',
  'js',
  'mjs',
  'cjs',
  'json',
  'map',
  'svg',
  'txt',
  'html',
  'htm',
  'xhtml',
  'xml',
  'rss',
  'atom',
  'webmanifest',
  'ico',
  'ttf',
  'otf',
  'eot',
  'wasm',
  'md',
  'csv',
  'tsv',
  'vtt',
  'glsl',
  'frag',
  'vert',
]);

export function extensionOf(name: string): string {
  const base = name.slice(name.lastIndexOf('/') + 1);
  const dot = base.lastIndexOf('.');
  return dot <= 0 ? '' : base.slice(dot + 1).toLowerCase();
}

export const isCompressible = (name: string): boolean => COMPRESSIBLE.has(extensionOf(name));
export const isStylesheet = (name: string): boolean => extensionOf(name) === 'css';

/** Compressing this many bytes or fewer is done on the main thread: starting workers costs more. */
const INLINE_COMPRESS_BYTES = 256 * 1024;
const INLINE_HASH_BYTES = 4 * 1024 * 1024;

export interface Item {
  source: Source;
  css: boolean;
  compressible: boolean;
  /** SHA-256 of the source's bytes, and of the final bytes (they differ only for a rewritten stylesheet). */
  sourceSha: string;
  finalSha: string;
  nameHash: string;
  size: number;
  integrity: string;
  /** The fingerprinted name. */
  hashed: string;
  /** The source's identity when it was hashed this run: the copy checks it is still that file. */
  identity?: { ino: number; mtimeMs: number; ctimeMs: number; size: number };
  /** The final bytes, when held (a rendered stylesheet, or a file read to be compressed). */
  content?: Buffer;
  /** Sizes of the .br and .gz variants (-1: none, not smaller), when known. */
  enc?: [number, number];
  compressed?: CompressResult;
  sheet?: Stylesheet;
  /** A copy of the source made in the read that hashed it: its name in the staging folder and its size. */
  staged?: { name: string; size: number };
}

export type OutputRole = 'hashed' | 'original' | 'variant';

/** One file of the build, and what the run does about it. */
export interface Output {
  name: string;
  item: Item;
  role: OutputRole;
  encoding?: 'br' | 'gzip' | undefined;
  /** A variant: the file it is a variant of. */
  of?: string | undefined;
  immutable: boolean;
  sha256: string;
  size: number;
  action: 'keep' | 'write';
}

export interface Conflict {
  app: string;
  name: string;
  why: string;
}

export interface MissingReference {
  app: string;
  /** `apps/blog/app_media/blog/css/site.css:12: url(../img/x.png)` */
  text: string;
}

export interface Plan {
  items: Item[];
  outputs: Map<string, Output>;
  writes: Output[];
  mkdirs: string[];
  /** The tool's files that leave (out of every kept build, unchanged since written), with their records. */
  removals: Map<string, FileRecord>;
  /** The tool's own empty folders to remove after the removals (deepest first). */
  rmdirs: string[];
  conflicts: Conflict[];
  /** Apps whose sources could not be read. */
  appErrors: Map<string, string>;
  missing: MissingReference[];
  unparsed: MissingReference[];
  /** Names in collectRoot the tool did not make (or no longer owns): never touched. */
  foreign: string[];
  /** The tool's files changed by hand since it wrote them: kept, no longer its own. */
  handChanged: string[];
  warnings: string[];
  build: BuildRecord;
  manifestText: string;
  manifestSha: string;
  writeManifest: boolean;
  revText: string | undefined;
  writeRev: boolean;
  /** The tool's rev-manifest.json to remove (no longer asked for), as recorded. */
  removeRev: OwnFileRecord | undefined;
  /** The records as they are once the plan is carried out (written files get their facts when written). */
  records: Records;
  pendingLeft: boolean;
}

export interface PlanInput {
  settings: CollectSettings;
  digest: string;
  sources: AppSources[];
  tree: OutputTree;
  records: Records;
  pending: Pending | undefined;
  /** The index of the last build, when it was written under the same settings. */
  index: Index | undefined;
  pool: WorkPool;
  /** The run's private staging folder (none in a dry run): a new file hashed this run is copied there as it is read. */
  stage?: Stage;
}

/** New files in the run's private staging folder (core/fs/workspace.ts), where apply renames them from. */
export interface Stage {
  /**
   * A new name in the staging folder for `logical`, and the path the thread that reads the source makes it at
   * (O_EXCL, never through a link: the folder is held open, core/fs/folder.ts); nothing is made here.
   */
  reserve(logical: string): { name: string; path: string };
  remove(name: string): void;
}

interface Ownership {
  /** The tool's files as they still are (records, and pending files proven by their bytes). */
  owned: Map<string, FileRecord>;
  ownFiles: Map<OwnFileName, OwnFileRecord>;
  handChanged: string[];
}

function sha256File(root: string, name: string): string | undefined {
  try {
    return hashFileHere(path.join(root, ...name.split('/'))).sha256;
  } catch {
    return undefined;
  }
}

/**
 * Which recorded files are still the tool's: same size and mtime as recorded, or same size and
 * SHA-256 (a file touched without a change). A file recorded as pending (a run killed mid-way)
 * is the tool's when its size and SHA-256 are the ones the run meant to write.
 */
function resolveOwnership(input: PlanInput): Ownership {
  const { records, tree, pending, settings } = input;
  const owned = new Map<string, FileRecord>();
  const handChanged: string[] = [];
  for (const [name, record] of records.files) {
    const disk = tree.files.get(name);
    if (!disk) continue; // gone: the record goes
    if (disk.size === record.size && disk.mtimeMs === record.mtimeMs) owned.set(name, record);
    else if (disk.size === record.size && sha256File(settings.realRoot, name) === record.sha256)
      owned.set(name, { ...record, mtimeMs: disk.mtimeMs });
    else handChanged.push(name);
  }
  const ownFiles = new Map<OwnFileName, OwnFileRecord>();
  for (const [name, record] of records.own) {
    const disk = tree.files.get(name);
    if (!disk) continue;
    if (disk.size === record.size && disk.mtimeMs === record.mtimeMs) ownFiles.set(name, record);
    else if (disk.size === record.size && sha256File(settings.realRoot, name) === record.sha256)
      ownFiles.set(name, { ...record, mtimeMs: disk.mtimeMs });
  }
  for (const [name, intended] of pending?.files ?? []) {
    if (owned.has(name) || ownFiles.has(name as OwnFileName)) continue;
    const disk = tree.files.get(name);
    if (!disk || disk.size !== intended.size || sha256File(settings.realRoot, name) !== intended.sha256) continue;
    const facts = { size: disk.size, mtimeMs: disk.mtimeMs, sha256: intended.sha256 };
    if (name === MANIFEST_NAME || name === REV_MANIFEST_NAME) {
      ownFiles.set(name, facts);
    } else if (name !== INDEX_FILE) {
      const record: FileRecord = { ...facts, immutable: intended.immutable ?? false };
      if (intended.encoding && intended.of) {
        record.encoding = intended.encoding;
        record.of = intended.of;
      }
      owned.set(name, record);
      const at = handChanged.indexOf(name);
      if (at !== -1) handChanged.splice(at, 1);
    }
  }
  return { owned, ownFiles, handChanged };
}

function describeFailure(error: unknown, source: Source): string {
  if (error instanceof HashFailure) {
    if (error.kind) return `${source.shown} is ${error.kind} (never read: only regular files are published)`;
    return error.copying
      ? `${error.code} (writing its copy into the run's staging folder) ${source.shown}`
      : `${error.code} (open) ${source.shown}`;
  }
  if (error instanceof NotAFile)
    return `${source.shown} is ${error.kind} (never read: only regular files are published)`;
  if (error instanceof SourceChanged) return error.message;
  if (isSystemError(error)) return `${error.code} (${error.syscall}) ${source.shown}`;
  return `${source.shown}: ${String(error)}`;
}

export async function makePlan(input: PlanInput): Promise<Plan> {
  const { settings, sources, tree, index, pool } = input;
  const warnings: string[] = [];
  const appErrors = new Map<string, string>();
  const items: Item[] = [];
  const byLogical = new Map<string, Item>();
  const sheets = new Map<string, Stylesheet>();
  const hashJobs: Array<Promise<void>> = [];
  let inlineBytes = 0;

  // 1. Every source: what the index knows of it, else its bytes hashed (stylesheets read: they are rendered).
  const indexed = index?.sources();
  for (const app of sources) {
    if (app.error) appErrors.set(app.app.name, describeFailure(app.error, { shown: app.app.name } as Source));
    // Nothing of it is read; like an app whose media cannot be read, it holds the build.
    if (app.escape !== undefined) appErrors.set(app.app.name, escapeReason(app));
    for (const source of app.files) {
      const item: Item = {
        source,
        css: isStylesheet(source.logical),
        compressible: settings.compress !== null && isCompressible(source.logical),
        sourceSha: '',
        finalSha: '',
        nameHash: '',
        size: 0,
        integrity: '',
        hashed: '',
      };
      items.push(item);
      byLogical.set(source.logical, item);
      const known = indexed?.get(source.logical);
      const unchanged = known !== undefined && known[0] === source.size && known[1] === source.mtimeMs;
      if (item.css) {
        const sheet: Stylesheet = { logical: source.logical, sourceSha: unchanged ? known[2] : '' };
        const css = index?.css.get(source.logical);
        if (unchanged && css && known) {
          sheet.previous = {
            deps: css.deps,
            missing: css.missing,
            ...(css.unparsed ? { unparsed: css.unparsed } : {}),
            finalSha: known[3],
            nameHash: known[4],
            size: known[5],
            integrity: known[6],
            depHashes: new Map(css.deps.map((dep) => [dep, indexed?.get(dep)?.[4]])),
          };
          item.enc = [known[7], known[8]];
        } else {
          try {
            sheet.bytes = readSource(source);
            sheet.sourceSha = createHash('sha256').update(sheet.bytes).digest('hex');
          } catch (error) {
            appErrors.set(source.app.name, describeFailure(error, source));
          }
        }
        item.sheet = sheet;
        sheets.set(source.logical, sheet);
        continue;
      }
      if (unchanged && known) {
        [, , item.sourceSha, item.finalSha, item.nameHash, item.size, item.integrity] = known;
        item.enc = [known[7], known[8]];
        continue;
      }
      const take = (hashes: FileHashes): void => {
        item.sourceSha = hashes.sha256;
        item.finalSha = hashes.sha256;
        item.nameHash = hashes.sha256.slice(0, settings.hashLength);
        item.size = hashes.size;
        item.integrity = hashes.integrity;
        item.identity = { ino: hashes.ino, mtimeMs: hashes.mtimeMs, ctimeMs: hashes.ctimeMs, size: hashes.size };
      };
      // A file the build has nothing at the name of yet (a first build, a new file) will be written: it is
      // copied into the staging folder in the same read as its hash, not read again by apply.
      const copy =
        input.stage && !item.compressible && known === undefined && !input.records.files.has(source.logical)
          ? input.stage
          : undefined;
      let staged: string | undefined;
      const open = (): { fd: number; out?: string; close(): void } => {
        const opened = openMediaFile(source);
        if (!copy) return opened;
        let reserved: { name: string; path: string };
        try {
          reserved = copy.reserve(source.logical); // may make the staging folder
        } catch (error) {
          opened.close();
          throw error;
        }
        staged = reserved.name;
        return { ...opened, out: reserved.path };
      };
      const hashed = (hashes: FileHashes): void => {
        take(hashes);
        if (staged !== undefined && hashes.copied === hashes.size) item.staged = { name: staged, size: hashes.size };
        else if (staged !== undefined) copy?.remove(staged);
      };
      const failed = (error: unknown): void => {
        if (staged !== undefined) copy?.remove(staged);
        appErrors.set(source.app.name, describeFailure(error, source));
      };
      // A few small files: here. Many, or big ones: on the workers.
      if (inlineBytes + source.size <= INLINE_HASH_BYTES) {
        inlineBytes += source.size;
        try {
          const opened = open();
          let hashes: FileHashes;
          try {
            hashes = hashOpenHere(opened.fd, undefined, undefined, opened.out);
          } finally {
            opened.close();
          }
          hashed(hashes);
        } catch (error) {
          failed(error);
        }
      } else {
        hashJobs.push(pool.hashOpened({ open, label: source.shown }, source.size).then(hashed, failed));
      }
    }
  }
  await Promise.all(hashJobs);
  const failedApps = new Set(appErrors.keys());

  // 2. The stylesheets, dependencies first.
  const usable = (item: Item | undefined): item is Item => item !== undefined && !failedApps.has(item.source.app.name);
  for (const [logical, sheet] of sheets) {
    const item = byLogical.get(logical) as Item;
    if (!usable(item) || (!sheet.previous && sheet.bytes === undefined)) sheets.delete(logical);
  }
  renderStylesheets(sheets, {
    mediaUrl: settings.mediaUrl,
    hashLength: settings.hashLength,
    nameHashOf: (logical) => {
      const item = byLogical.get(logical);
      return usable(item) && !item.css ? item.nameHash || undefined : undefined;
    },
    load: (sheet) => {
      const item = byLogical.get(sheet.logical) as Item;
      const data = readSource(item.source);
      if (createHash('sha256').update(data).digest('hex') !== sheet.sourceSha) throw changedDuringRun(item.source);
      return data;
    },
  });
  const missing: MissingReference[] = [];
  const unparsed: MissingReference[] = [];
  for (const [logical, sheet] of sheets) {
    const item = byLogical.get(logical) as Item;
    item.sourceSha = sheet.sourceSha;
    item.nameHash = sheet.nameHash as string;
    item.finalSha = sheet.hashes?.sha256 as string;
    item.size = sheet.hashes?.size as number;
    item.integrity = sheet.hashes?.integrity as string;
    if (sheet.rendered) {
      item.content = sheet.final as Buffer;
      delete item.enc; // new bytes: compressed anew
    }
    for (const [line, ref] of sheet.missing ?? [])
      missing.push({ app: item.source.app.name, text: `${item.source.shown}:${line}: ${ref}` });
    if (sheet.unparsed)
      unparsed.push({
        app: item.source.app.name,
        text: `${item.source.shown}:${sheet.unparsed[0]}: ${sheet.unparsed[1]} (published unchanged)`,
      });
    // Bytes read only to be rendered are let go; the rendered ones are written.
    delete sheet.bytes;
    delete sheet.parsed;
  }
  const published = items.filter((item) => usable(item) && item.finalSha !== '');
  for (const item of published) item.hashed = hashedPath(item.source.logical, item.nameHash);

  // 3. What the tool owns in collectRoot, and what each published file needs.
  const ownership = resolveOwnership(input);
  const { owned } = ownership;
  const outputs = new Map<string, Output>();
  const conflicts: Conflict[] = [];
  const levels = settings.compress;
  const want = (output: Omit<Output, 'action'>): void => {
    const there = outputs.get(output.name);
    if (there) {
      if (there.sha256 !== output.sha256)
        warnings.push(
          `${output.name}: two files would be published under this name (${there.item.source.shown} ` +
            `and ${output.item.source.shown}); the first is kept`,
        );
      return;
    }
    const record = owned.get(output.name);
    // Written out field by field, every output with the same fields in the same order: built with a spread, each of
    // 20,000 outputs got a hidden class of its own in V8 (5 MiB of a huge-files run's heap).
    outputs.set(output.name, {
      name: output.name,
      item: output.item,
      role: output.role,
      encoding: output.encoding,
      of: output.of,
      immutable: output.immutable,
      sha256: output.sha256,
      size: output.size,
      action: record && record.sha256 === output.sha256 ? 'keep' : 'write',
    });
  };
  for (const item of published) {
    want({ name: item.hashed, item, role: 'hashed', immutable: true, sha256: item.finalSha, size: item.size });
    if (settings.keepOriginals)
      want({
        name: item.source.logical,
        item,
        role: 'original',
        immutable: false,
        sha256: item.finalSha,
        size: item.size,
      });
  }
  // Variants: from the index (sizes) and the records (hashes) when the file is unchanged, else compressed anew.
  const encodings = (
    levels
      ? ([
          ['br', 0, levels.brotli],
          ['gzip', 1, levels.gzip],
        ] as const)
      : []
  ).filter(([, , level]) => level !== null);
  // A compressed variant beside the hashed name, and beside the original name when originals are kept.
  const wantVariant = (item: Item, encoding: 'br' | 'gzip', sha256: string, size: number): void => {
    const suffix = encoding === 'br' ? '.br' : '.gz';
    const beside: [string, boolean][] = [[item.hashed, true]];
    if (settings.keepOriginals) beside.push([item.source.logical, false]);
    for (const [of, immutable] of beside)
      want({ name: `${of}${suffix}`, item, role: 'variant', encoding, of, immutable, sha256, size });
  };
  const toCompress: Item[] = [];
  for (const item of published) {
    if (!item.compressible) continue;
    const complete =
      item.enc !== undefined &&
      encodings.every(([encoding, slot]) => {
        if ((item.enc as [number, number])[slot] < 0) return true;
        const suffix = encoding === 'br' ? '.br' : '.gz';
        const record = owned.get(`${item.hashed}${suffix}`);
        if (!record || record.size !== (item.enc as [number, number])[slot]) return false;
        return !settings.keepOriginals || owned.get(`${item.source.logical}${suffix}`)?.sha256 === record.sha256;
      });
    if (complete) {
      for (const [encoding, slot] of encodings) {
        if ((item.enc as [number, number])[slot] < 0) continue;
        const suffix = encoding === 'br' ? '.br' : '.gz';
        const record = owned.get(`${item.hashed}${suffix}`) as FileRecord;
        wantVariant(item, encoding, record.sha256, record.size);
      }
    } else {
      toCompress.push(item);
    }
  }
  if (levels && toCompress.length > 0) {
    const total = toCompress.reduce((sum, item) => sum + item.size, 0);
    const inline = total <= INLINE_COMPRESS_BYTES;
    await Promise.all(
      toCompress.map(async (item) => {
        try {
          const data = item.content ?? readChecked(item);
          item.content = data;
          item.compressed = inline ? compressHere(data, levels) : await pool.compress(data, levels);
          item.enc = [item.compressed.br?.data.length ?? -1, item.compressed.gzip?.data.length ?? -1];
        } catch (error) {
          appErrors.set(item.source.app.name, describeFailure(error, item.source));
        }
      }),
    );
    for (const item of toCompress) {
      if (!item.compressed) continue;
      for (const [encoding] of encodings) {
        const part = item.compressed[encoding];
        if (!part) continue;
        wantVariant(item, encoding, part.sha256, part.data.length);
      }
      // The file's own bytes are kept only if a write needs them (a stylesheet's always are).
    }
  }
  // Apps that failed are published from the last build: none of their files is written or removed.
  for (const [name, output] of outputs) if (appErrors.has(output.item.source.app.name)) outputs.delete(name);

  // 4. What is in the way: a name (or a folder on its way) that holds something not the tool's.
  const mkdirs = new Set<string>();
  for (const output of outputs.values()) {
    if (output.action === 'keep') continue;
    const app = output.item.source.app.name;
    for (const dir of foldersOf(output.name)) {
      if (tree.dirs.has(dir)) continue;
      if (tree.files.has(dir) || tree.others.has(dir)) {
        conflicts.push({
          app,
          name: dir,
          why:
            `${settings.shown}/${dir} is ${tree.others.get(dir) ?? 'a file'} not made by app-media, ` +
            `where a folder is needed`,
        });
      } else {
        mkdirs.add(dir);
      }
    }
    if (tree.others.has(output.name)) {
      conflicts.push({
        app,
        name: output.name,
        why: `${settings.shown}/${output.name} is ${tree.others.get(output.name) as string} not made by app-media`,
      });
    } else if (tree.dirs.has(output.name)) {
      conflicts.push({
        app,
        name: output.name,
        why: `${settings.shown}/${output.name} is a folder not made by app-media`,
      });
    } else if (tree.files.has(output.name) && !owned.has(output.name)) {
      const changed = ownership.handChanged.includes(output.name); // (conflicts are few)
      conflicts.push({
        app,
        name: output.name,
        why: changed
          ? `${settings.shown}/${output.name} was changed by hand since app-media wrote it`
          : `${settings.shown}/${output.name} is a file not made by app-media`,
      });
    }
  }

  // 5. The manifest of the build, its id, and the builds kept.
  const entries = new Map<string, ManifestEntry>();
  const rev: Record<string, string> = {};
  for (const item of [...published].sort((a, b) => (a.source.logical < b.source.logical ? -1 : 1))) {
    if (appErrors.has(item.source.app.name)) continue;
    const encodingsOf: { br?: number; gzip?: number } = {};
    for (const [encoding] of encodings) {
      const output = outputs.get(`${item.hashed}${encoding === 'br' ? '.br' : '.gz'}`);
      if (output) encodingsOf[encoding] = output.size;
    }
    entries.set(item.source.logical, {
      path: item.hashed,
      size: item.size,
      integrity: item.integrity,
      encodings: encodingsOf,
    });
    rev[item.source.logical] = item.hashed;
  }
  const { text: manifestText, build: id } = manifestOf(entries);
  const manifestSha = createHash('sha256').update(manifestText).digest('hex');
  const revText = settings.revManifest ? `${JSON.stringify(rev, null, 2)}\n` : undefined;
  const ownFile = (name: OwnFileName): OwnFileRecord | undefined => ownership.ownFiles.get(name);
  const manifestThere = tree.files.has(MANIFEST_NAME) || tree.others.has(MANIFEST_NAME) || tree.dirs.has(MANIFEST_NAME);
  let writeManifest = ownFile(MANIFEST_NAME)?.sha256 !== manifestSha;
  if (writeManifest && manifestThere && !ownFile(MANIFEST_NAME)) {
    conflicts.push({
      app: '',
      name: MANIFEST_NAME,
      why:
        `${settings.shown}/${MANIFEST_NAME} is not the one app-media wrote (changed by hand, ` +
        `or made by something else)`,
    });
    writeManifest = false;
  }
  const revThere =
    tree.files.has(REV_MANIFEST_NAME) || tree.others.has(REV_MANIFEST_NAME) || tree.dirs.has(REV_MANIFEST_NAME);
  const revSha = revText === undefined ? undefined : createHash('sha256').update(revText).digest('hex');
  let writeRev = revText !== undefined && ownFile(REV_MANIFEST_NAME)?.sha256 !== revSha;
  if (writeRev && revThere && !ownFile(REV_MANIFEST_NAME)) {
    conflicts.push({
      app: '',
      name: REV_MANIFEST_NAME,
      why: `${settings.shown}/${REV_MANIFEST_NAME} is not the one app-media wrote`,
    });
    writeRev = false;
  }
  const removeRev = revText === undefined ? ownFile(REV_MANIFEST_NAME) : undefined;

  const previous = input.records.builds;
  const names = [...outputs.keys()].sort();
  let builds: BuildRecord[];
  let build: BuildRecord;
  if (previous[0]?.id === id) {
    build = { ...previous[0], files: names };
    builds = [build, ...previous.slice(1)].slice(0, settings.keep + 1);
  } else {
    build = { id, at: new Date().toISOString(), files: names };
    builds = [build, ...previous.filter((old) => old.id !== id)].slice(0, settings.keep + 1);
  }
  const kept = new Set<string>();
  for (const one of builds) for (const name of one.files) kept.add(name);
  // Files of apps that failed stay whatever build they belong to.
  const failedPrefixes = [...appErrors.keys()].map((name) => `${name}/`);
  // A variant under an original name whose file the new build rewrote without that variant would serve
  // the old bytes for the new file: it goes now, not after the keep window.
  const stale = (name: string): boolean => {
    const record = owned.get(name) as FileRecord;
    return !record.immutable && record.of !== undefined && outputs.has(record.of) && !outputs.has(name);
  };
  const removals = [...owned.keys()]
    .filter(
      (name) =>
        (!kept.has(name) || stale(name)) &&
        !outputs.has(name) &&
        !failedPrefixes.some((prefix) => name.startsWith(prefix)),
    )
    .sort();

  // The records once carried out: the tool's files as they are, the new ones added as written.
  const removed = new Set(removals);
  const removing = new Map(removals.map((name) => [name, owned.get(name) as FileRecord]));
  const records: Records = { files: new Map(), builds, dirs: new Set(), own: new Map(ownership.ownFiles) };
  for (const [name, record] of owned) if (!removed.has(name)) records.files.set(name, record);
  for (const dir of input.records.dirs) if (tree.dirs.has(dir)) records.dirs.add(dir);
  for (const dir of input.pending?.dirs ?? []) if (tree.dirs.has(dir)) records.dirs.add(dir);
  for (const dir of mkdirs) records.dirs.add(dir);
  if (!writeRev && revText === undefined) records.own.delete(REV_MANIFEST_NAME);
  // Own folders left empty once the removals are done, deepest first.
  // (rmdir removes only an empty folder anyway: this spares the calls that would fail.)
  const occupied = new Set<string>();
  const occupy = (name: string): void => {
    for (const dir of foldersOf(name)) occupied.add(dir);
  };
  for (const name of records.files.keys()) occupy(name);
  for (const name of outputs.keys()) occupy(name);
  for (const name of tree.files.keys()) if (!removed.has(name)) occupy(name);
  for (const name of tree.others.keys()) occupy(name);
  for (const dir of tree.dirs) {
    if (records.dirs.has(dir)) continue;
    occupy(dir);
    occupied.add(dir);
  }
  const rmdirs = [...records.dirs]
    .filter((dir) => !occupied.has(dir))
    .sort((a, b) => b.length - a.length || (a < b ? 1 : -1));
  for (const dir of rmdirs) records.dirs.delete(dir);

  // 6. Foreign names (reported, never touched).
  const reserved = (name: string): boolean =>
    name === RECORDS_FILE ||
    name === INDEX_FILE ||
    name === PENDING_FILE ||
    ((name === MANIFEST_NAME || name === REV_MANIFEST_NAME) && ownership.ownFiles.has(name));
  const changedByHand = new Set(ownership.handChanged);
  const foreign = [
    ...[...tree.files.keys()].filter(
      (name) =>
        !owned.has(name) &&
        !changedByHand.has(name) &&
        !reserved(name) &&
        !(name.startsWith(OWN_PREFIX) && !name.includes('/')),
    ),
    ...tree.others.keys(),
  ].sort();

  const writes = [...outputs.values()].filter((output) => output.action === 'write');
  // Held bytes no write needs are let go (a stylesheet rewritten the same as before, for one).
  const needed = new Set(writes.map((output) => output.item));
  for (const item of published) if (!needed.has(item)) delete item.content;
  const recordsAfter = records;
  return {
    items: published,
    outputs,
    writes,
    mkdirs: [...mkdirs].sort((a, b) => a.length - b.length || (a < b ? -1 : 1)),
    removals: removing,
    rmdirs,
    conflicts,
    appErrors,
    missing,
    unparsed,
    foreign,
    handChanged: ownership.handChanged.sort(),
    warnings,
    build,
    manifestText,
    manifestSha,
    writeManifest,
    revText,
    writeRev,
    removeRev,
    records: recordsAfter,
    pendingLeft: tree.files.has(PENDING_FILE),
  };
}

/** Why an app whose media folder leads out of its app publishes nothing (link's words, plan.ts). */
export function escapeReason(app: AppSources): string {
  return (
    `${app.app.mediaDirname}/${app.app.name}/ leads outside the app's folder (to ${app.escape ?? '?'}): ` +
    `nothing of it is published`
  );
}

function changedDuringRun(source: Source): Error {
  return Object.assign(new Error(`${source.shown} changed while it was being collected; run again`), {
    code: 'ECHANGED',
  });
}

/** The bytes of a file that is not a stylesheet, checked to be the ones its name was made from. */
function readChecked(item: Item): Buffer {
  const data = readSource(item.source);
  if (createHash('sha256').update(data).digest('hex') !== item.finalSha) throw changedDuringRun(item.source);
  return data;
}

export type { Stats, SystemError };
