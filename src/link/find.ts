/**
 * media:find, like Django's findstatic: which app serves a published path,
 * from which source file, at which URL, and which other apps' files of the
 * same path it shadows. Read-only.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { loadConfig } from '../core/config/load.js';
import { toDisplay } from '../core/display.js';
import { discoverApps, type App } from '../core/discover.js';
import { errors } from '../core/errors.js';
import { ignoreMatcher, isInside } from '../core/fs/walk.js';
import { buildReport, logReport } from '../core/report.js';
import type { AppReport, Report, RunOptions } from '../core/types.js';
import { nearest } from '../core/util/nearest.js';

export async function find(options: RunOptions = {}): Promise<Report> {
  const started = performance.now();
  const asked = normalizePublishedPath(options.path);
  const config = await loadConfig(options);
  const apps = discoverApps(config);
  const wanted = withoutMediaUrl(asked, config.mediaUrl, apps);
  const [name, ...restParts] = wanted.split('/');
  const rest = restParts.join('/');
  const shown = (file: string): string => toDisplay(config.projectRoot, file);
  const url = `${config.mediaUrl.replace(/\/*$/, '/')}${wanted.split('/').map(encodeURIComponent).join('/')}`;
  const target = shown(path.join(config.mediaRoot, ...wanted.split('/')));
  const lines: AppReport[] = [];

  const serving = apps.find((app) => app.name === name);
  if (!serving) {
    const close = nearest(
      name ?? '',
      apps.map((app) => app.name),
    );
    lines.push(
      line(
        name ?? wanted,
        'not-found',
        null,
        target,
        `no configured app is named "${name ?? ''}"`,
        close
          ? `did you mean ${close}/${rest}?`
          : `the path starts with the app's name: ` +
              `one of ${apps.map((app) => app.name).join(', ') || '(no apps configured)'}`,
      ),
    );
  } else {
    const source = path.join(serving.mediaDir, ...restParts);
    if (await isFile(source)) {
      const ignored = ignoreMatcher(config.ignore)(rest);
      const escapes = !isInside(await fs.realpath(serving.mediaDir), await fs.realpath(source));
      const reason = escapes
        ? "it is a link leading outside the app's media folder: a link publishes it, " +
          'a copy leaves it out (media:verify reports it as escape)'
        : ignored
          ? 'matches an "ignore" glob: served by a link, but left out of a copy'
          : null;
      lines.push(line(serving.name, 'found', shown(source), target, reason, null, url));
    } else {
      lines.push(
        line(
          serving.name,
          'not-found',
          shown(source),
          target,
          `${serving.name} has no file ${rest} in ${shown(serving.mediaDir)}`,
          "check the path below the app's media folder (it is case-sensitive on most servers)",
        ),
      );
    }
  }
  // Another app that ships a file under this app's name is not served: its copy is shadowed.
  for (const other of apps) {
    if (other === serving) continue;
    const file = path.join(mediaParent(other), ...wanted.split('/'));
    if (await isFile(file)) {
      lines.push(
        line(
          other.name,
          'shadowed',
          shown(file),
          target,
          `${other.name} also has ${wanted} in its media folder; ` +
            `only ${other.mediaDirname}/${other.name}/ of it is published`,
          `move it to ${other.mediaDirname}/${other.name}/ if ${other.name} means to publish it`,
        ),
      );
    }
  }

  const report = buildReport({
    task: 'find',
    dryRun: false,
    projectRoot: config.projectRoot,
    mediaRoot: config.mediaRoot,
    started,
    warnings: [],
    apps: lines,
  });
  logReport(report, options.logger);
  return report;
}

function line(
  name: string,
  status: AppReport['status'],
  source: string | null,
  target: string,
  reason: string | null,
  hint: string | null,
  url?: string,
): AppReport {
  const report: AppReport = { name, status, mode: null, source, target, files: 0, bytes: 0, reason, hint };
  if (url !== undefined) report.url = url;
  return report;
}

/** `--path /media/blog/css/site.css`, `blog\css\site.css` and `blog/css/site.css` all mean the last. */
function normalizePublishedPath(value: string | undefined): string {
  if (value === undefined || value.trim() === '') {
    throw errors.badFlag(
      '--path',
      'media:find needs the published path to look up',
      'give it as --path <name/file>, for example --path blog/css/site.css',
    );
  }
  const parts = value
    .replace(/\\/g, '/')
    .split('/')
    .filter((part) => part !== '' && part !== '.');
  if (parts.includes('..') || parts.length < 2) {
    throw errors.badFlag(
      '--path',
      `--path must be <app name>/<file>, without "..", not "${value}"`,
      'for example --path blog/css/site.css',
    );
  }
  return parts.join('/');
}

/** A path copied from the browser (`/media/blog/x.css`) loses its mediaUrl prefix, unless an app has that name. */
function withoutMediaUrl(wanted: string, mediaUrl: string, apps: readonly App[]): string {
  const mediaPath = /^[a-z][a-z0-9+.-]*:\/\//i.test(mediaUrl) ? new URL(mediaUrl).pathname : mediaUrl;
  const prefix = mediaPath.split('/').filter(Boolean).join('/');
  if (prefix === '' || !wanted.startsWith(`${prefix}/`)) return wanted;
  const first = wanted.split('/')[0];
  if (apps.some((app) => app.name === first)) return wanted;
  const rest = wanted.slice(prefix.length + 1);
  return rest.includes('/') ? rest : wanted;
}

function mediaParent(app: App): string {
  return path.dirname(app.mediaDir);
}

async function isFile(file: string): Promise<boolean> {
  const stat = await fs.stat(file).catch(() => undefined);
  return stat?.isFile() ?? false;
}
