/**
 * media:verify --url: fetches one published file per app through the real web
 * server, because a correct tree on disk is not yet a served one (servers that
 * refuse to follow symbolic links are the classic cause).
 */
import pMap from 'p-map';
import type { Finding } from './check.js';
import { describeFetchFailure, redact, redactText, servedUrl } from '../core/served-url.js';

const TIMEOUT_MS = 10_000;

/** The findings once fetched: an `ok` one whose sample file the server does not answer 2xx for is `unserved`. */
export async function checkServed(
  findings: readonly Finding[],
  base: string,
  mediaUrl: string,
  timeout = TIMEOUT_MS,
): Promise<Finding[]> {
  // Credentials in --url go in an Authorization header (fetch refuses a URL that holds them), never in a line.
  const baseUrl = new URL(base);
  const headers: Record<string, string> = {};
  if (baseUrl.username !== '' || baseUrl.password !== '') {
    const user = decodeURIComponent(baseUrl.username);
    const password = decodeURIComponent(baseUrl.password);
    headers['authorization'] = `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
    baseUrl.username = '';
    baseUrl.password = '';
  }
  const shownBase = redact(new URL(base)).replace(/\/+$/, '');
  const plainBase = baseUrl.href.replace(/\/+$/, '');
  const candidates = findings.filter((finding) => finding.status === 'ok' && finding.sample !== null);
  const unserved = new Map<Finding, { reason: string; hint: string }>();
  await pMap(
    candidates,
    async (finding) => {
      const url = servedUrl(plainBase, mediaUrl, finding.name, finding.sample ?? '');
      const shown = shownBase + url.slice(plainBase.length);
      let problem: { reason: string; hint: string } | undefined;
      try {
        // A redirect is not followed: the file is not served at its URL (a login page, another
        // host or port), and following it would report that other answer as this file's.
        const response = await fetch(url, { headers, redirect: 'manual', signal: AbortSignal.timeout(timeout) });
        await response.body?.cancel();
        if (response.status >= 300 && response.status < 400) {
          const location = response.headers.get('location');
          const target = location === null ? 'nowhere (no Location)' : redactText(new URL(location, url).href);
          problem = {
            reason: `GET ${shown} answered ${response.status} ${response.statusText}, a redirect to ${target}`.replace(
              / {2}/g,
              ' ',
            ),
            hint:
              'the server redirects instead of serving the file: check that it serves mediaRoot at mediaUrl, ' +
              'and that --url is the address the site is served at (http or https, host, port)',
          };
        } else if (!response.ok) {
          problem = {
            reason: `GET ${shown} answered ${response.status} ${response.statusText}`.trim(),
            hint: notServedHint(finding),
          };
        }
      } catch (error) {
        const failure = describeFetchFailure(error, new URL(url));
        problem = { reason: `GET ${shown}: ${failure.reason}`, hint: failure.hint };
      }
      if (problem !== undefined) unserved.set(finding, problem);
    },
    { concurrency: 8 },
  );
  return findings.map((finding) => {
    const problem = unserved.get(finding);
    return problem ? { ...finding, status: 'unserved', ...problem } : finding;
  });
}

function notServedHint(finding: Finding): string {
  return finding.mode === 'copy'
    ? 'check that the server serves mediaRoot at mediaUrl'
    : 'the server may refuse to follow symbolic links (Apache: Options +FollowSymLinks; nginx: ' +
        'disable_symlinks off; serve/serve-handler: "symlinks": true), or use --mode copy; ' +
        'also check that it serves mediaRoot at mediaUrl';
}
