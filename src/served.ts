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
    throw errors.badFlag('--url', `--url must be a full address such as http://localhost:8080, not "${redactText(base)}"`, 'write it as --url http://host:port');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw errors.badFlag('--url', `--url must be an http or https address, not "${redact(url)}"`, 'write it as --url http://host:port');
  }
}

/** A URL as it may be shown: a password becomes `***` (reports are printed and kept in CI logs). */
function redact(url: URL): string {
  if (url.password === '') return url.href;
  const shown = new URL(url.href);
  shown.password = '***';
  return shown.href;
}

/** The same for text that did not parse as a URL: `user:secret@` → `user:***@`. */
function redactText(text: string): string {
  return text.replace(/^([a-z][a-z0-9+.-]*:\/\/[^/:@]*):[^/@]*@/i, '$1:***@');
}

/** Why a fetch failed, in words, with what to do about it. */
export function describeFetchFailure(error: unknown, url: URL): { reason: string; hint: string } {
  type Cause = { code?: string; message?: string; errors?: Cause[] };
  const cause = (error as { cause?: Cause }).cause;
  // "localhost" may be tried at ::1 and 127.0.0.1: an AggregateError holds both failures.
  const code = cause?.code ?? cause?.errors?.find((each) => each.code)?.code ?? '';
  const name = (error as { name?: string }).name ?? '';
  const where = url.host;
  if (name === 'TimeoutError' || code === 'UND_ERR_CONNECT_TIMEOUT' || code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'ETIMEDOUT') {
    return { reason: 'timed out: no answer', hint: `check that the server at ${where} is up and answering, and that no firewall drops the connection` };
  }
  if (code === 'ECONNREFUSED') {
    return { reason: `connection refused: nothing listens at ${where}`, hint: 'start the web server, or check the host and port in --url' };
  }
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN' || code === 'EAI_NONAME' || code === 'EAI_FAIL') {
    return { reason: `the host name ${url.hostname} does not resolve (DNS: ${code})`, hint: 'check the spelling of the host in --url (localhost or 127.0.0.1 for a server on this machine)' };
  }
  if (/WRONG_VERSION_NUMBER|PACKET_LENGTH_TOO_LONG|HTTP_REQUEST/i.test(code)) {
    return { reason: `TLS failed: ${where} does not speak TLS (${code})`, hint: `use http:// for this server, or the port where it serves https` };
  }
  if (/CERT|SSL|TLS|EPROTO/i.test(code) || /certificate|ssl|tls/i.test(cause?.message ?? '')) {
    const plain = url.protocol === 'https:' ? '; for a server without TLS, use http://' : '';
    return { reason: `the TLS handshake failed (${code || cause?.message || 'TLS error'})`, hint: `check the server's certificate (trusted, not expired, issued for ${url.hostname})${plain}` };
  }
  if (code === 'ECONNRESET' || code === 'UND_ERR_SOCKET' || code === 'EPIPE') {
    return { reason: `the connection was closed by ${where} (${code})`, hint: 'check the server\'s log; a server that speaks https answers an http:// request so: try https://' };
  }
  const detail = code || cause?.message || (error as Error).message || name;
  return { reason: `failed (${detail})`, hint: 'check that --url points at your web server, and run again with --verbose' };
}

/** Turns an `ok` finding into `unserved` when the server does not answer 2xx for its sample file. */
export async function checkServed(findings: Finding[], base: string, mediaUrl: string, timeout = TIMEOUT_MS): Promise<void> {
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
  await pMap(candidates, async (finding) => {
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
          reason: `GET ${shown} answered ${response.status} ${response.statusText}, a redirect to ${target}`.replace(/ {2}/g, ' '),
          hint: 'the server redirects instead of serving the file: check that it serves mediaRoot at mediaUrl, and that --url is the address the site is served at (http or https, host, port)',
        };
      } else if (!response.ok) {
        problem = { reason: `GET ${shown} answered ${response.status} ${response.statusText}`.trim(), hint: notServedHint(finding) };
      }
    } catch (error) {
      const failure = describeFetchFailure(error, new URL(url));
      problem = { reason: `GET ${shown}: ${failure.reason}`, hint: failure.hint };
    }
    if (problem === undefined) return;
    finding.status = 'unserved';
    finding.reason = problem.reason;
    finding.hint = problem.hint;
  }, { concurrency: 8 });
}

function notServedHint(finding: Finding): string {
  return finding.mode === 'copy'
    ? 'check that the server serves mediaRoot at mediaUrl'
    : 'the server may refuse to follow symbolic links (Apache: Options +FollowSymLinks; nginx: disable_symlinks off; serve/serve-handler: "symlinks": true), or use --mode copy; also check that it serves mediaRoot at mediaUrl';
}
