/**
 * media:verify --url: fetches one published file per app through the real web
 * server, because a correct tree on disk is not yet a served one (servers that
 * refuse to follow symbolic links are the classic cause).
 */
import pMap from 'p-map';
import type { Finding } from './check.js';
import { errors } from './errors.js';

const TIMEOUT_MS = 10_000;

/** `--url http://localhost:8080` + mediaUrl `/media/` + `blog/css/site.css`. */
export function servedUrl(base: string, mediaUrl: string, name: string, rel: string): string {
  const mediaPath = /^[a-z][a-z0-9+.-]*:\/\//i.test(mediaUrl) ? new URL(mediaUrl).pathname : mediaUrl;
  const prefix = `/${mediaPath.replace(/^\/+|\/+$/g, '')}`.replace(/^\/$/, '');
  const file = [name, ...rel.split('/')].map(encodeURIComponent).join('/');
  return `${base.replace(/\/+$/, '')}${prefix}/${file}`;
}

export function checkBaseUrl(base: string): void {
  let url: URL;
  try {
    url = new URL(base);
  } catch {
    throw errors.badFlag('--url', `--url must be a full address such as http://localhost:8080, not "${base}"`, 'write it as --url http://host:port');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw errors.badFlag('--url', `--url must be an http or https address, not "${base}"`, 'write it as --url http://host:port');
  }
}

/** Turns an `ok` finding into `unserved` when the server does not answer 2xx for its sample file. */
export async function checkServed(findings: Finding[], base: string, mediaUrl: string): Promise<void> {
  const candidates = findings.filter((finding) => finding.status === 'ok' && finding.sample !== null);
  await pMap(candidates, async (finding) => {
    const url = servedUrl(base, mediaUrl, finding.name, finding.sample ?? '');
    let problem: string | undefined;
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(TIMEOUT_MS) });
      await response.body?.cancel();
      if (!response.ok) problem = `GET ${url} answered ${response.status} ${response.statusText}`.trim();
    } catch (error) {
      const cause = (error as { cause?: { code?: string } }).cause?.code ?? (error as Error).name;
      problem = `GET ${url} failed (${cause})`;
    }
    if (problem === undefined) return;
    finding.status = 'unserved';
    finding.reason = problem;
    finding.hint = finding.mode === 'copy'
      ? 'check that the server serves mediaRoot at mediaUrl'
      : 'the server may refuse to follow symbolic links (Apache: Options +FollowSymLinks; nginx: disable_symlinks off; serve/serve-handler: "symlinks": true), or use --mode copy; also check that it serves mediaRoot at mediaUrl';
  }, { concurrency: 8 });
}
