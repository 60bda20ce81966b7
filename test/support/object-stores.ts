/**
 * Real S3-compatible servers for media:publish's tests, on 127.0.0.1 and free ports
 * only: s3rver (an npm devDependency, objects on disk in a temporary folder, in this
 * process) and moto_server (Python, a second implementation of the protocol, in a
 * child process; absent → the suite says so and skips). In front of either, a
 * fault-injecting proxy of our own that counts every request the server receives
 * and can reset connections, answer 503 SlowDown or 403, stall, or cut a reply
 * mid-body.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { tempDir } from './project.js';

/** Test credentials: only ever in the environment of the client and the children. */
export const TEST_CREDENTIALS = {
  AWS_ACCESS_KEY_ID: 'S3RVER',
  AWS_SECRET_ACCESS_KEY: 'S3RVER',
  AWS_REGION: 'us-east-1',
} as const;

/** An access key and secret, as the environment names them. */
export interface Credentials {
  AWS_ACCESS_KEY_ID: string;
  AWS_SECRET_ACCESS_KEY: string;
}

export interface ObjectStore {
  name: 's3rver' | 'moto' | 'swift';
  /** The server's own endpoint (tests normally go through a FaultProxy). */
  endpoint: string;
  port: number;
  /** The key and secret this store takes instead of TEST_CREDENTIALS' (Swift's tempauth wants account:user). */
  credentials?: Credentials;
  /** Makes a fresh, empty bucket. */
  createBucket(name: string): Promise<void>;
  stop(): Promise<void>;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address() as net.AddressInfo;
      server.close(() => resolve(address.port));
    });
  });
}

/** The credentials useTestCredentials last set: the tests' own clients sign with these. */
let current: Credentials = TEST_CREDENTIALS;

/**
 * Sets the test credentials in this process's environment (the SDK's chain reads them): the
 * store's own when it has them (call it again with the next store, or with none to go back).
 */
export function useTestCredentials(store?: Pick<ObjectStore, 'credentials'>): void {
  current = store?.credentials ?? TEST_CREDENTIALS;
  Object.assign(process.env, TEST_CREDENTIALS, current, { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' });
  delete process.env['AWS_PROFILE'];
}

export async function startS3rver(): Promise<ObjectStore> {
  const { default: S3rver } = await import('s3rver');
  const directory = tempDir('s3rver');
  const server = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory });
  const { port } = (await server.run()) as { port: number };
  const endpoint = `http://127.0.0.1:${port}`;
  return {
    name: 's3rver',
    endpoint,
    port,
    createBucket: (name) => createBucket(endpoint, name),
    // Kept-alive connections (the tool's, the tests' clients, the proxies') would hold close() open.
    stop: async () => {
      const http = (server as unknown as { httpServer?: { closeAllConnections(): void } }).httpServer;
      const closing = server.close();
      http?.closeAllConnections();
      await Promise.race([closing, sleep(3000)]);
    },
  };
}

/** The moto_server command, or undefined when this machine has none. */
export function motoCommand(): string | undefined {
  const found = spawnSync('sh', ['-c', 'command -v moto_server'], { encoding: 'utf8' });
  const bin = found.stdout.trim();
  if (found.status !== 0 || bin === '') return undefined;
  // pyenv's shim exists even where no Python version has moto: ask it.
  return spawnSync(bin, ['--help'], { encoding: 'utf8', timeout: 20_000 }).status === 0 ? bin : undefined;
}

export async function startMoto(bin: string): Promise<ObjectStore> {
  const port = await freePort();
  const child: ChildProcess = spawn(bin, ['-H', '127.0.0.1', '-p', String(port)], { stdio: 'ignore', detached: false });
  const endpoint = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`moto_server exited with ${child.exitCode}`);
    const up = await new Promise<boolean>((resolve) => {
      const request = http.get(`${endpoint}/`, (response) => {
        response.resume();
        resolve(true);
      });
      request.on('error', () => resolve(false));
    });
    if (up) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error('moto_server did not answer within 30 s');
    }
    await sleep(100);
  }
  return {
    name: 'moto',
    endpoint,
    port,
    createBucket: (name) => createBucket(endpoint, name),
    stop: async () => {
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await Promise.race([exited, sleep(3000)]);
      if (child.exitCode === null) child.kill('SIGKILL');
    },
  };
}

async function createBucket(endpoint: string, name: string): Promise<void> {
  const client = await testClient(endpoint);
  const { CreateBucketCommand } = await import('@aws-sdk/client-s3');
  try {
    await client.send(new CreateBucketCommand({ Bucket: name }));
  } finally {
    client.destroy();
  }
}

/** A plain SDK client for the tests' own reads and foreign writes (not the tool's code). */
export async function testClient(
  endpoint: string,
  credentials: Credentials = current,
): Promise<import('@aws-sdk/client-s3').S3Client> {
  const { S3Client } = await import('@aws-sdk/client-s3');
  return new S3Client({
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: credentials.AWS_ACCESS_KEY_ID, secretAccessKey: credentials.AWS_SECRET_ACCESS_KEY },
    forcePathStyle: true,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
}

export interface StoredObject {
  sha256: string;
  size: number;
  etag: string;
  contentType: string | undefined;
  cacheControl: string | undefined;
  contentEncoding: string | undefined;
  metadata: Record<string, string>;
}

/** One object's bytes (as a sha256 and a size) and the headers the tests check. */
async function storedObject(
  client: import('@aws-sdk/client-s3').S3Client,
  bucket: string,
  key: string,
): Promise<StoredObject> {
  const { GetObjectCommand } = await import('@aws-sdk/client-s3');
  const got = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  const bytes = Buffer.from((await got.Body?.transformToByteArray()) ?? []);
  return {
    sha256: createHash('sha256').update(bytes).digest('hex'),
    size: bytes.length,
    etag: got.ETag ?? '',
    contentType: got.ContentType,
    cacheControl: got.CacheControl,
    contentEncoding: got.ContentEncoding,
    metadata: got.Metadata ?? {},
  };
}

/**
 * Every object in the bucket (or under `prefix`) with the sha256 of its bytes: compare two to prove nothing changed.
 */
export async function bucketState(endpoint: string, bucket: string, prefix = ''): Promise<Map<string, StoredObject>> {
  const client = await testClient(endpoint);
  const { ListObjectsV2Command } = await import('@aws-sdk/client-s3');
  const out = new Map<string, StoredObject>();
  try {
    let token: string | undefined;
    do {
      const page = await client.send(
        new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ...(token ? { ContinuationToken: token } : {}) }),
      );
      for (const object of page.Contents ?? []) {
        const key = object.Key as string;
        out.set(key, await storedObject(client, bucket, key));
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  } finally {
    client.destroy();
  }
  return out;
}

/** The named objects (absent ones as undefined), read as bucketState reads them. */
export async function objectsAt(
  endpoint: string,
  bucket: string,
  keys: string[],
): Promise<Record<string, StoredObject | undefined>> {
  const client = await testClient(endpoint);
  const out: Record<string, StoredObject | undefined> = {};
  try {
    for (const key of keys) {
      try {
        out[key] = await storedObject(client, bucket, key);
      } catch (error) {
        if ((error as Error).name !== 'NoSuchKey') throw error;
        out[key] = undefined;
      }
    }
  } finally {
    client.destroy();
  }
  return out;
}

/** Puts objects as another tool would (no app-media metadata). */
export async function putForeign(
  endpoint: string,
  bucket: string,
  objects: Record<string, string | Buffer>,
  metadata: Record<string, string> = {},
): Promise<void> {
  const client = await testClient(endpoint);
  const { PutObjectCommand } = await import('@aws-sdk/client-s3');
  try {
    for (const [key, body] of Object.entries(objects)) {
      await client.send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: key,
          Body: Buffer.from(body),
          ContentType: 'text/plain',
          Metadata: metadata,
        }),
      );
    }
  } finally {
    client.destroy();
  }
}

// ---------------------------------------------------------------------------

export type FaultKind = 'reset' | 'slowdown' | 'server-error' | 'deny' | 'stall' | 'cut';

export interface Fault {
  kind: FaultKind;
  /** Which requests: method and key (relative to the bucket) tested by this. */
  when: (request: SeenRequest) => boolean;
  /** How many matching requests it hits (default 1). */
  times?: number;
  /** stall: ms before the request goes on. */
  ms?: number;
}

export interface SeenRequest {
  /** The HTTP status the client got (set when the answer was sent; undefined for a reset). */
  status?: number;
  method: string;
  /** The object key (URL-decoded, without the bucket); '' for bucket-level requests. */
  key: string;
  /** ListObjectsV2 and the like: the query string. */
  query: string;
  headers: http.IncomingHttpHeaders;
}

/**
 * An HTTP proxy in front of a server: forwards every request as it is (the signature
 * covers the Host header, which is passed on unchanged), counts what it forwards, and
 * injects the faults it is given.
 */
export class FaultProxy {
  readonly seen: SeenRequest[] = [];
  private faults: Array<Fault & { left: number }> = [];
  private server: http.Server | undefined;
  private readonly agent = new http.Agent({ keepAlive: true });
  port = 0;

  constructor(
    private readonly upstreamPort: number,
    private readonly bucket: string,
  ) {}

  get endpoint(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<this> {
    this.server = http.createServer((request, response) => this.handle(request, response));
    this.server.keepAliveTimeout = 5000;
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as net.AddressInfo).port;
    return this;
  }

  async stop(): Promise<void> {
    this.agent.destroy();
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()) ?? resolve());
  }

  inject(...faults: Fault[]): void {
    this.faults.push(...faults.map((fault) => ({ ...fault, left: fault.times ?? 1 })));
  }

  /** Faults still armed (not yet hit). */
  armed(): number {
    return this.faults.reduce((sum, fault) => sum + fault.left, 0);
  }

  clear(): void {
    this.faults = [];
    this.seen.length = 0;
  }

  /** Requests seen since the last clear, by method (ListObjectsV2 counted as LIST). */
  counts(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const request of this.seen) {
      const kind = request.method === 'GET' && request.key === '' ? 'LIST' : request.method;
      out[kind] = (out[kind] ?? 0) + 1;
    }
    return out;
  }

  private handle(request: http.IncomingMessage, response: http.ServerResponse): void {
    const url = new URL(request.url ?? '/', 'http://proxy');
    const parts = url.pathname.split('/').slice(1);
    // Path-style: /<bucket>/<key>. A proxy made for no bucket in particular ('') takes any.
    const key =
      parts[0] === this.bucket || (this.bucket === '' && parts[0] !== '')
        ? decodeURIComponent(parts.slice(1).join('/'))
        : '';
    const seen: SeenRequest = { method: request.method ?? 'GET', key, query: url.search, headers: request.headers };
    this.seen.push(seen);
    const fault = this.faults.find((candidate) => candidate.left > 0 && candidate.when(seen));
    if (fault) fault.left--;
    const kind = fault?.kind;
    if (kind === 'reset') {
      request.socket.resetAndDestroy();
      return;
    }
    if (kind === 'slowdown' || kind === 'server-error' || kind === 'deny') {
      request.resume();
      request.on('end', () => {
        const [status, code, message] =
          kind === 'slowdown'
            ? [503, 'SlowDown', 'Please reduce your request rate.']
            : kind === 'deny'
              ? [403, 'AccessDenied', 'Access Denied']
              : [500, 'InternalError', 'We encountered an internal error. Please try again.'];
        const body =
          `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}` +
          `</Message><RequestId>fault</RequestId></Error>`;
        response.writeHead(status, { 'Content-Type': 'application/xml', 'Content-Length': Buffer.byteLength(body) });
        response.end(seen.method === 'HEAD' ? undefined : body);
      });
      return;
    }
    const forward = (): void => {
      const upstream = http.request(
        {
          host: '127.0.0.1',
          port: this.upstreamPort,
          method: request.method,
          path: request.url,
          headers: request.headers,
          agent: this.agent,
        },
        (answer) => {
          if (kind === 'cut') {
            // Headers and part of the body, then the connection drops.
            response.writeHead(answer.statusCode ?? 502, answer.headers);
            answer.once('data', (chunk: Buffer) => {
              response.write(chunk.subarray(0, Math.max(1, Math.floor(chunk.length / 2))));
              setImmediate(() => {
                answer.destroy();
                request.socket.destroy();
              });
            });
            answer.once('end', () => request.socket.destroy());
            return;
          }
          response.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(response);
          response.on('finish', () => {
            if (answer.statusCode !== undefined) seen.status = answer.statusCode;
          });
        },
      );
      upstream.on('error', () => request.socket.destroy());
      request.pipe(upstream);
    };
    if (kind === 'stall') {
      setTimeout(forward, fault?.ms ?? 1000);
    } else {
      forward();
    }
  }
}

/** Where the publish tests' temporary collect outputs go. */
export function collectRootIn(root: string): string {
  return path.join(root, 'build', 'media');
}
