/**
 * The URLs media:verify --url fetches (mediaRoot's, and collectRoot's with --collect): the base
 * URL checked, a served file's URL, what a failed fetch means, and credentials never shown.
 */
import { errors } from './errors.js';

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
    throw errors.badFlag(
      '--url',
      `--url must be a full address such as http://localhost:8080, not "${redactText(base)}"`,
      'write it as --url http://host:port',
    );
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw errors.badFlag(
      '--url',
      `--url must be an http or https address, not "${redact(url)}"`,
      'write it as --url http://host:port',
    );
  }
}

/** A URL as it may be shown: a password becomes `***` (reports are printed and kept in CI logs). */
export function redact(url: URL): string {
  if (url.password === '') return url.href;
  const shown = new URL(url.href);
  shown.password = '***';
  return shown.href;
}

/** The same for text that did not parse as a URL: `user:secret@` → `user:***@`. */
export function redactText(text: string): string {
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
  if (
    name === 'TimeoutError' ||
    code === 'UND_ERR_CONNECT_TIMEOUT' ||
    code === 'UND_ERR_HEADERS_TIMEOUT' ||
    code === 'ETIMEDOUT'
  ) {
    return {
      reason: 'timed out: no answer',
      hint: `check that the server at ${where} is up and answering, and that no firewall drops the connection`,
    };
  }
  if (code === 'ECONNREFUSED') {
    return {
      reason: `connection refused: nothing listens at ${where}`,
      hint: 'start the web server, or check the host and port in --url',
    };
  }
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN' || code === 'EAI_NONAME' || code === 'EAI_FAIL') {
    return {
      reason: `the host name ${url.hostname} does not resolve (DNS: ${code})`,
      hint: 'check the spelling of the host in --url (localhost or 127.0.0.1 for a server on this machine)',
    };
  }
  if (/WRONG_VERSION_NUMBER|PACKET_LENGTH_TOO_LONG|HTTP_REQUEST/i.test(code)) {
    return {
      reason: `TLS failed: ${where} does not speak TLS (${code})`,
      hint: `use http:// for this server, or the port where it serves https`,
    };
  }
  if (/CERT|SSL|TLS|EPROTO/i.test(code) || /certificate|ssl|tls/i.test(cause?.message ?? '')) {
    const plain = url.protocol === 'https:' ? '; for a server without TLS, use http://' : '';
    return {
      reason: `the TLS handshake failed (${code || cause?.message || 'TLS error'})`,
      hint: `check the server's certificate (trusted, not expired, issued for ${url.hostname})${plain}`,
    };
  }
  if (code === 'ECONNRESET' || code === 'UND_ERR_SOCKET' || code === 'EPIPE') {
    return {
      reason: `the connection was closed by ${where} (${code})`,
      hint: "check the server's log; a server that speaks https answers an http:// request so: try https://",
    };
  }
  const detail = code || cause?.message || (error as Error).message || name;
  return {
    reason: `failed (${detail})`,
    hint: 'check that --url points at your web server, and run again with --verbose',
  };
}
