/**
 * The object store, through the AWS SDK v3 (loaded only here, only by publish
 * and verify --published). What the rest of publish sees: get the record, head,
 * list, put, delete, each for a name relative to the prefix, each retried with
 * exponential backoff and full jitter on throttling, 5xx answers, timeouts and
 * broken connections, and each failure turned into a coded error.
 *
 * The SDK's own retries are off: it cannot retry a request whose body is a file
 * stream, and two layers of retries multiply. Credentials come only from the
 * SDK's standard chain (environment, shared profile, SSO, instance role); they
 * never appear in a message.
 */
import http from 'node:http';
import https from 'node:https';
import type { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { AppMediaError, errors } from '../core/errors.js';
import { RECORD_NAME, SHA_METADATA } from './remote-record.js';
import type { ObjectHeaders } from './headers.js';

type S3Module = typeof import('@aws-sdk/client-s3');
type S3Client = import('@aws-sdk/client-s3').S3Client;

export interface StoreSettings {
  bucket: string;
  /** Validated, without leading or trailing `/`; '' for the whole bucket. */
  prefix: string;
  endpoint?: string;
  region?: string;
  forcePathStyle?: boolean;
  /** Requests in flight at most. */
  concurrency: number;
  /** How long a request may stall (no byte sent or received) before it is abandoned and retried, ms. */
  timeoutMs: number;
  /** Files bigger than this go up in parts (lib-storage), bytes. */
  multipartThreshold: number;
  /** Attempts per request, the first included. */
  attempts?: number;
  /** Backoff unit, ms (tests shorten it). */
  backoffMs?: number;
}

export interface HeadResult {
  etag: string;
  size: number;
  /** Our `app-media-sha256` metadata, when the object carries it. */
  sha256: string | undefined;
  contentType: string | undefined;
  cacheControl: string | undefined;
  contentEncoding: string | undefined;
}

export interface PutInput {
  size: number;
  /** Hex digests of the bytes (checked by the store: Content-MD5 and x-amz-checksum-sha256). */
  md5: string;
  sha256: string;
  headers: ObjectHeaders;
  /** A fresh body for each attempt. */
  body: () => Readable | Buffer;
  /** New key: fail with a conflict if something is there (If-None-Match: *, where the store supports it). */
  ifNoneMatch?: boolean;
  /** Overwrite only if the object still has this ETag (If-Match). */
  ifMatch?: string;
}

/** A precondition failed: the object was not what the tool expected (someone else's, or changed). */
export class PreconditionFailed extends Error {
  override readonly name = 'PreconditionFailed';
}

export type RequestCounts = Record<'GET' | 'HEAD' | 'PUT' | 'DELETE' | 'LIST' | 'MULTIPART', number>;

const RETRYABLE_CODES = new Set([
  'SlowDown',
  'Throttling',
  'ThrottlingException',
  'ThrottledException',
  'RequestThrottled',
  'RequestLimitExceeded',
  'TooManyRequests',
  'TooManyRequestsException',
  'ProvisionedThroughputExceededException',
  'RequestTimeout',
  'RequestTimeoutException',
  'InternalError',
  'ServiceUnavailable',
  'TimeoutError',
  'BandwidthLimitExceeded',
  'PriorRequestNotComplete',
]);
const RETRYABLE_ERRNO = new Set([
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EAI_AGAIN',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ERR_STREAM_PREMATURE_CLOSE',
]);
const CREDENTIAL_CODES = new Set([
  'InvalidAccessKeyId',
  'SignatureDoesNotMatch',
  'ExpiredToken',
  'InvalidToken',
  'TokenRefreshRequired',
  'InvalidClientTokenId',
  'AuthorizationHeaderMalformed',
  'CredentialsProviderError',
]);

interface SdkError extends Error {
  Code?: string;
  code?: string;
  $metadata?: { httpStatusCode?: number };
  $response?: { statusCode?: number };
}

function statusOf(error: SdkError): number | undefined {
  return error.$metadata?.httpStatusCode ?? error.$response?.statusCode;
}

/** Whether another attempt may succeed: throttling, 5xx, timeouts, broken connections, a reply cut short. */
export function isTransient(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const sdk = error as SdkError;
  const status = statusOf(sdk);
  if (RETRYABLE_CODES.has(sdk.name) || (sdk.Code !== undefined && RETRYABLE_CODES.has(sdk.Code))) return true;
  if (sdk.code !== undefined && RETRYABLE_ERRNO.has(sdk.code)) return true;
  if (status !== undefined && (status >= 500 || status === 429)) return status !== 501;
  // A reply the SDK could not read to its end (a connection dropped mid-body, XML cut short).
  if (
    new RegExp(
      [
        'socket hang up',
        'aborted',
        'premature close',
        'ECONNRESET',
        'EPIPE',
        'Unexpected end',
        'unexpected close',
        'Deserialization error',
        'non-whitespace before first tag',
        'Unclosed',
      ].join('|'),
      'i',
    ).test(`${sdk.message}`)
  )
    return true;
  return status === undefined && (sdk.name === 'Error' || sdk.name === 'AbortError');
}

function codeOf(error: SdkError): string {
  return error.Code ?? error.name;
}

/** Short words for a failure, never a credential (the SDK's messages name none; its raw fields are not shown). */
function detail(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const sdk = error as SdkError;
  const status = statusOf(sdk);
  const code = sdk.code ?? codeOf(sdk);
  return `${code}${status !== undefined ? ` (HTTP ${status})` : ''}`;
}

export class Store {
  readonly requests: RequestCounts = { GET: 0, HEAD: 0, PUT: 0, DELETE: 0, LIST: 0, MULTIPART: 0 };
  /** Whether the store honours If-None-Match / If-Match on writes (turned off at the first 501). */
  private conditionals = true;
  private readonly attempts: number;
  private readonly backoffMs: number;

  private constructor(
    private readonly s3: S3Module,
    private readonly client: S3Client,
    private readonly agent: http.Agent,
    readonly settings: StoreSettings,
  ) {
    this.attempts = settings.attempts ?? 6;
    this.backoffMs = settings.backoffMs ?? 200;
  }

  static async open(settings: StoreSettings): Promise<Store> {
    // The SDK warns on every run under Node 20 about its own future releases; this package supports Node 20.
    process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] ??= 'true';
    const s3 = await import('@aws-sdk/client-s3');
    const secure = settings.endpoint === undefined || settings.endpoint.startsWith('https:');
    const agent = secure
      ? new https.Agent({ keepAlive: true, maxSockets: settings.concurrency + 2 })
      : new http.Agent({ keepAlive: true, maxSockets: settings.concurrency + 2 });
    // An endpoint of another store needs a region for the signature, and any name does.
    const region =
      settings.region ??
      process.env['AWS_REGION'] ??
      process.env['AWS_DEFAULT_REGION'] ??
      (settings.endpoint !== undefined ? 'us-east-1' : undefined);
    const client = new s3.S3Client({
      ...(settings.endpoint !== undefined ? { endpoint: settings.endpoint } : {}),
      ...(region !== undefined ? { region } : {}),
      forcePathStyle: settings.forcePathStyle ?? false,
      maxAttempts: 1,
      // We give the checksums ourselves (Content-MD5, x-amz-checksum-sha256); the SDK's default
      // CRC32 trailer (aws-chunked bodies) is not understood by many S3-compatible stores.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      requestHandler: secure
        ? {
            httpsAgent: agent as https.Agent,
            connectionTimeout: settings.timeoutMs,
            requestTimeout: settings.timeoutMs,
            throwOnRequestTimeout: true,
          }
        : {
            httpAgent: agent,
            connectionTimeout: settings.timeoutMs,
            requestTimeout: settings.timeoutMs,
            throwOnRequestTimeout: true,
          },
    });
    return new Store(s3, client, agent, settings);
  }

  close(): void {
    this.client.destroy();
    this.agent.destroy();
  }

  /** The key of a name relative to the prefix (the name is validated by the caller). */
  key(rel: string): string {
    return this.settings.prefix === '' ? rel : `${this.settings.prefix}/${rel}`;
  }

  /** How keys are shown: `s3://bucket/prefix/rel`. */
  url(rel = ''): string {
    const key = rel === '' ? (this.settings.prefix === '' ? '' : `${this.settings.prefix}/`) : this.key(rel);
    return `s3://${this.settings.bucket}/${key}`;
  }

  /** The record object's text and ETag, or undefined when there is none. */
  async getRecord(): Promise<{ text: string; etag: string } | undefined> {
    return this.retry('GET', RECORD_NAME, async () => {
      this.requests.GET++;
      try {
        const answer = await this.client.send(
          new this.s3.GetObjectCommand({ Bucket: this.settings.bucket, Key: this.key(RECORD_NAME) }),
        );
        const text = (await answer.Body?.transformToString('utf8')) ?? '';
        return { text, etag: answer.ETag ?? '' };
      } catch (error) {
        if ((error as SdkError).name === 'NoSuchKey') return undefined;
        throw error;
      }
    });
  }

  /** An object's bytes (small ones only: the manifest, for verify --published), or undefined when absent. */
  async getBytes(rel: string): Promise<Buffer | undefined> {
    return this.retry('GET', rel, async () => {
      this.requests.GET++;
      try {
        const answer = await this.client.send(
          new this.s3.GetObjectCommand({ Bucket: this.settings.bucket, Key: this.key(rel) }),
        );
        return Buffer.from((await answer.Body?.transformToByteArray()) ?? []);
      } catch (error) {
        if ((error as SdkError).name === 'NoSuchKey') return undefined;
        throw error;
      }
    });
  }

  async head(rel: string): Promise<HeadResult | undefined> {
    return this.retry('HEAD', rel, async () => {
      this.requests.HEAD++;
      try {
        const answer = await this.client.send(
          new this.s3.HeadObjectCommand({ Bucket: this.settings.bucket, Key: this.key(rel) }),
        );
        return {
          etag: answer.ETag ?? '',
          size: answer.ContentLength ?? 0,
          sha256: answer.Metadata?.[SHA_METADATA],
          contentType: answer.ContentType,
          cacheControl: answer.CacheControl,
          contentEncoding: answer.ContentEncoding,
        };
      } catch (error) {
        const status = statusOf(error as SdkError);
        if ((error as SdkError).name === 'NotFound' || (error as SdkError).name === 'NoSuchKey' || status === 404)
          return undefined;
        throw error;
      }
    });
  }

  /** One page of names under the prefix after `startAfter` (relative names), in key order. */
  async list(startAfter: string | undefined, maxKeys = 1000): Promise<{ rels: string[]; truncated: boolean }> {
    const prefix = this.settings.prefix === '' ? '' : `${this.settings.prefix}/`;
    return this.retry('LIST', startAfter ?? '', async () => {
      this.requests.LIST++;
      const answer = await this.client.send(
        new this.s3.ListObjectsV2Command({
          Bucket: this.settings.bucket,
          Prefix: prefix,
          MaxKeys: maxKeys,
          ...(startAfter !== undefined ? { StartAfter: this.key(startAfter) } : {}),
        }),
      );
      const rels = (answer.Contents ?? []).flatMap((object) =>
        object.Key?.startsWith(prefix) ? [object.Key.slice(prefix.length)] : [],
      );
      return { rels, truncated: answer.IsTruncated === true };
    });
  }

  /** Uploads one object; returns its ETag. A failed precondition throws PreconditionFailed. */
  async put(rel: string, input: PutInput): Promise<string> {
    if (input.size > this.settings.multipartThreshold) return this.putInParts(rel, input);
    return this.retry('PUT', rel, async () => {
      this.requests.PUT++;
      const conditional = this.conditionals ? conditionOf(input) : {};
      try {
        const answer = await this.client.send(
          new this.s3.PutObjectCommand({
            Bucket: this.settings.bucket,
            Key: this.key(rel),
            Body: input.body(),
            ContentLength: input.size,
            ContentMD5: Buffer.from(input.md5, 'hex').toString('base64'),
            ChecksumSHA256: Buffer.from(input.sha256, 'hex').toString('base64'),
            ...objectHeaders(input),
            ...conditional,
          }),
        );
        return answer.ETag ?? '';
      } catch (error) {
        if (this.noConditionals(error, conditional)) return this.put(rel, input);
        throw error;
      }
    });
  }

  /** A big file in parts (lib-storage), streamed from the file: never read whole into memory. */
  private async putInParts(rel: string, input: PutInput): Promise<string> {
    const { Upload } = await import('@aws-sdk/lib-storage');
    return this.retry('PUT', rel, async () => {
      this.requests.MULTIPART++;
      const upload = new Upload({
        client: this.client,
        queueSize: 2,
        partSize: 8 * 1024 * 1024,
        leavePartsOnError: false,
        params: {
          Bucket: this.settings.bucket,
          Key: this.key(rel),
          Body: input.body(),
          ...objectHeaders(input),
        },
      });
      const answer = await upload.done();
      return answer.ETag ?? '';
    });
  }

  /** Writes the record (If-Match its last ETag, or If-None-Match for the first). Returns the new ETag. */
  async putRecord(text: string, previousEtag: string | undefined): Promise<string> {
    const bytes = Buffer.from(text, 'utf8');
    const { createHash } = await import('node:crypto');
    const md5 = createHash('md5').update(bytes).digest('hex');
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    return this.put(RECORD_NAME, {
      size: bytes.length,
      md5,
      sha256,
      headers: { contentType: 'application/json; charset=utf-8', cacheControl: 'no-store' },
      body: () => bytes,
      ...(previousEtag === undefined ? { ifNoneMatch: true } : { ifMatch: previousEtag }),
    });
  }

  /** Deletes an object only while it still has `etag` (If-Match, where the store supports it). */
  async delete(rel: string, etag: string): Promise<void> {
    await this.retry('DELETE', rel, async () => {
      this.requests.DELETE++;
      const conditional = this.conditionals ? { IfMatch: etag } : {};
      try {
        await this.client.send(
          new this.s3.DeleteObjectCommand({ Bucket: this.settings.bucket, Key: this.key(rel), ...conditional }),
        );
      } catch (error) {
        if (this.noConditionals(error, conditional)) return this.delete(rel, etag);
        throw error;
      }
      return undefined;
    });
  }

  /** A store that answers 501 to a conditional write: go on without (the HEAD checks before each write stay). */
  private noConditionals(error: unknown, conditional: object): boolean {
    if (Object.keys(conditional).length === 0 || statusOf(error as SdkError) !== 501) return false;
    this.conditionals = false;
    return true;
  }

  /** Runs one request with retries; maps what cannot be retried to a coded error. */
  private async retry<T>(operation: string, rel: string, attempt: () => Promise<T>): Promise<T> {
    for (let tried = 1; ; tried++) {
      try {
        return await attempt();
      } catch (error) {
        if (error instanceof AppMediaError || error instanceof PreconditionFailed) throw error;
        const sdk = error as SdkError;
        if (codeOf(sdk) === 'PreconditionFailed' || statusOf(sdk) === 412)
          throw new PreconditionFailed(`${operation} ${this.url(rel)}: precondition failed`);
        const mapped = this.fatal(sdk, operation, rel);
        if (mapped) throw mapped;
        if (!isTransient(error) || tried >= this.attempts) {
          throw errors.publishFailed(operation, this.url(rel), detail(error), tried);
        }
        // Full jitter: a random wait up to the exponential bound, so many clients do not retry in step.
        const bound = Math.min(10_000, this.backoffMs * 2 ** (tried - 1));
        await sleep(Math.random() * bound);
      }
    }
  }

  /** Errors that no retry fixes and that the user must act on. */
  private fatal(error: SdkError, operation: string, rel: string): AppMediaError | undefined {
    const code = codeOf(error);
    if (CREDENTIAL_CODES.has(code) || CREDENTIAL_CODES.has(error.name)) {
      return errors.publishCredentials(
        error.name === 'CredentialsProviderError'
          ? 'no credentials found in the environment or the shared profile'
          : code,
      );
    }
    if (code === 'NoSuchBucket') return errors.publishNoBucket(this.settings.bucket);
    if (code === 'AccessDenied' || code === 'Forbidden' || statusOf(error) === 403)
      return errors.publishAccessDenied(operation, this.url(rel));
    return undefined;
  }
}

function conditionOf(input: PutInput): { IfNoneMatch?: string; IfMatch?: string } {
  if (input.ifMatch !== undefined) return { IfMatch: input.ifMatch };
  if (input.ifNoneMatch) return { IfNoneMatch: '*' };
  return {};
}

function objectHeaders(input: PutInput): {
  ContentType: string;
  CacheControl: string;
  ContentEncoding?: string;
  Metadata: Record<string, string>;
} {
  return {
    ContentType: input.headers.contentType,
    CacheControl: input.headers.cacheControl,
    ...(input.headers.contentEncoding ? { ContentEncoding: input.headers.contentEncoding } : {}),
    Metadata: { [SHA_METADATA]: input.sha256 },
  };
}
