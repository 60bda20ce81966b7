/**
 * Turns the configured app entries into apps: where each lives, its name and
 * its media folder (`<appDir>/<mediaDirname>/<name>`). Reads package.json files
 * and checks that folders exist; writes nothing.
 */
import { existsSync, lstatSync, realpathSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { checkDirname } from './config/validate.js';
import { readJsonFile } from './config/json.js';
import { type AppSpec, type ResolvedConfig } from './config/load.js';
import { toDisplay } from './display.js';
import { errors } from './errors.js';
import { MAX_NAME_LENGTH, NAME_PATTERN, PACKAGE_KEY } from './options.js';

export interface App {
  name: string;
  kind: 'folder' | 'package';
  /** The app's folder. For packages, the path through node_modules (not the real path). */
  appDir: string;
  mediaDirname: string;
  /** `<appDir>/<mediaDirname>/<name>`: what gets exposed as `<mediaRoot>/<name>`. */
  mediaDir: string;
  /** Where the app was configured, for messages: `apps[1]`, or `discover: @acme/x`. */
  field: string;
  /** How the user wrote it: `./apps/blog`, `@acme/gallery`. */
  label: string;
}

interface AppPackage {
  packageName: string | undefined;
  declared: { name?: unknown; mediaDirname?: unknown } | undefined;
}

export function discoverApps(config: ResolvedConfig): App[] {
  const apps: App[] = config.apps.map((spec) => resolveEntry(config, spec));
  if (config.discover) apps.push(...discoverDependencies(config, apps));

  const byName = new Map<string, App>();
  for (const app of apps) {
    const first = byName.get(app.name);
    if (first)
      throw errors.duplicateName(
        config.file,
        app.name,
        `${first.label} (${first.field})`,
        `${app.label} (${app.field})`,
      );
    byName.set(app.name, app);
  }
  return apps;
}

export function isFolderReference(entry: string): boolean {
  return (
    entry.startsWith('./') ||
    entry.startsWith('../') ||
    entry === '.' ||
    entry === '..' ||
    path.isAbsolute(entry) ||
    /^[A-Za-z]:[\\/]/.test(entry) ||
    entry.startsWith('.\\') ||
    entry.startsWith('..\\')
  );
}

function resolveEntry(config: ResolvedConfig, spec: AppSpec): App {
  const entry =
    typeof spec.entry === 'string'
      ? isFolderReference(spec.entry)
        ? { path: spec.entry }
        : { package: spec.entry }
      : spec.entry;
  const fieldOf =
    typeof spec.entry === 'string' ? spec.field : `${spec.field}.${entry.path !== undefined ? 'path' : 'package'}`;

  let appDir: string;
  let label: string;
  let kind: App['kind'];
  if (entry.path !== undefined) {
    appDir = path.resolve(spec.baseDir, entry.path);
    label = entry.path;
    kind = 'folder';
    if (!isDirectory(appDir)) throw errors.appNotFound(config.file, fieldOf, toDisplay(config.projectRoot, appDir));
  } else {
    const pkg = entry.package ?? '';
    label = pkg;
    kind = 'package';
    const found = resolvePackageDir(config.projectRoot, pkg);
    if (!found) {
      const folder = path.resolve(spec.baseDir, pkg);
      throw errors.packageNotFound(
        config.file,
        fieldOf,
        pkg,
        isDirectory(folder) ? toDisplay(config.projectRoot, folder) : undefined,
      );
    }
    appDir = found;
  }

  const pkg = readAppPackage(config, appDir);
  const name = pickName(entry.name, pkg, appDir);
  checkName(config, entry.name !== undefined ? `${spec.field}.name` : fieldOf, name);
  const mediaDirname = pickMediaDirname(config, spec.field, entry.mediaDirname, pkg, appDir);
  return {
    name,
    kind,
    appDir,
    mediaDirname,
    mediaDir: path.join(appDir, mediaDirname, name),
    field: spec.field,
    label,
  };
}

/** Looks for `<dir>/node_modules/<pkg>/package.json` in every folder Node would search from the project. */
export function resolvePackageDir(projectRoot: string, pkg: string): string | undefined {
  if (!isPackageName(pkg)) return undefined;
  const require = createRequire(path.join(projectRoot, 'noop.js'));
  const searchPaths = require.resolve.paths(pkg) ?? [];
  for (const dir of searchPaths) {
    const candidate = path.join(dir, pkg);
    if (existsSync(path.join(candidate, 'package.json'))) return candidate;
  }
  return undefined;
}

function isPackageName(pkg: string): boolean {
  return /^(@[A-Za-z0-9][\w.-]*\/)?[A-Za-z0-9][\w.-]*$/.test(pkg) && !pkg.includes('..');
}

function readAppPackage(config: ResolvedConfig, appDir: string): AppPackage {
  const file = path.join(appDir, 'package.json');
  if (!lstatOrUndefined(file)) return { packageName: undefined, declared: undefined };
  // A regular file of bounded size, read without blocking: a folder, a FIFO or a device is a coded error.
  const json = readJsonFile(file, toDisplay(config.projectRoot, file));
  if (typeof json !== 'object' || json === null) return { packageName: undefined, declared: undefined };
  const record = json as Record<string, unknown>;
  const declared = record[PACKAGE_KEY];
  return {
    packageName: typeof record['name'] === 'string' ? record['name'] : undefined,
    declared: typeof declared === 'object' && declared !== null ? declared : undefined,
  };
}

/** The entry's name, else appMedia.name, else the package name without its scope, else the folder name. */
function pickName(entryName: string | undefined, pkg: AppPackage, appDir: string): string {
  if (entryName !== undefined) return entryName;
  if (typeof pkg.declared?.name === 'string') return pkg.declared.name;
  if (pkg.packageName) return pkg.packageName.replace(/^@[^/]+\//, '');
  return path.basename(appDir);
}

function checkName(config: ResolvedConfig, field: string, name: string): void {
  let why: string | undefined;
  if (name.includes('/') || name.includes('\\')) why = 'it contains a path separator';
  else if (name.includes('..')) why = 'it contains ".."';
  else if (name.includes('\0')) why = 'it contains a NUL character';
  else if (name.length > MAX_NAME_LENGTH) why = `it is longer than ${MAX_NAME_LENGTH} characters`;
  else if (!NAME_PATTERN.test(name))
    why = 'only letters, digits, ".", "_" and "-" are allowed, starting with a letter or digit';
  if (why) throw errors.badName(config.file, field, name, why);
}

/** The entry's mediaDirname, else the app's own appMedia.mediaDirname, else the project's, else "app_media". */
function pickMediaDirname(
  config: ResolvedConfig,
  field: string,
  entryValue: string | undefined,
  pkg: AppPackage,
  appDir: string,
): string {
  if (entryValue !== undefined) return entryValue;
  const declared = pkg.declared?.mediaDirname;
  if (declared !== undefined) {
    const file = toDisplay(config.projectRoot, path.join(appDir, 'package.json'));
    return checkDirname(declared, { file }, `${PACKAGE_KEY}.mediaDirname`);
  }
  void field;
  return config.mediaDirname;
}

/** `discover: true`: dependencies of the project whose own package.json has an "appMedia" key. */
function discoverDependencies(config: ResolvedConfig, configured: App[]): App[] {
  const file = path.join(config.projectRoot, 'package.json');
  if (!lstatOrUndefined(file)) return [];
  const read = readJsonFile(file, 'package.json');
  if (typeof read !== 'object' || read === null) return [];
  const pkg = read as Record<string, unknown>;
  const names = new Set<string>();
  for (const key of ['dependencies', 'devDependencies', 'optionalDependencies']) {
    const deps = pkg[key];
    if (typeof deps === 'object' && deps !== null) for (const name of Object.keys(deps)) names.add(name);
  }
  const taken = new Set(configured.map((app) => realpathOr(app.appDir)));
  const found: App[] = [];
  for (const name of [...names].sort()) {
    const appDir = resolvePackageDir(config.projectRoot, name);
    if (!appDir || taken.has(realpathOr(appDir))) continue;
    const pkg = readAppPackage(config, appDir);
    if (pkg.declared === undefined) continue;
    const field = `discover: ${name}`;
    const appName = pickName(undefined, pkg, appDir);
    checkName(config, field, appName);
    const mediaDirname = pickMediaDirname(config, field, undefined, pkg, appDir);
    found.push({
      name: appName,
      kind: 'package',
      appDir,
      mediaDirname,
      mediaDir: path.join(appDir, mediaDirname, appName),
      field,
      label: name,
    });
  }
  return found;
}

// A missing file is an answer, not an error: asked without an exception (every run asks for each app's package.json).
function lstatOrUndefined(file: string): ReturnType<typeof lstatSync> | undefined {
  try {
    return lstatSync(file, { throwIfNoEntry: false });
  } catch {
    return undefined;
  }
}

function isDirectory(dir: string): boolean {
  try {
    return statSync(dir, { throwIfNoEntry: false })?.isDirectory() ?? false;
  } catch {
    return false;
  }
}

function realpathOr(dir: string): string {
  try {
    return realpathSync(dir);
  } catch {
    return dir;
  }
}
