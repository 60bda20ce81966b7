/**
 * The work that takes CPU, spread over the cores: hashing source files
 * (SHA-256 for the name and the records, SHA-384 for the SRI integrity, in one
 * read) and compressing (brotli and gzip with node:zlib). A pool of
 * node:worker_threads workers, one per core; tasks go to them in batches, so
 * ten thousand small files cost a few hundred messages, not ten thousand.
 * Small jobs are done on the main thread: starting the workers costs more.
 *
 * The worker's code is given as a string (eval): it needs only node's own
 * modules, and so runs the same from dist/, from the bundled command and
 * from the sources under a TypeScript loader.
 */
import { createHash } from 'node:crypto';
import { closeSync, fstatSync, openSync, readSync, type Stats } from 'node:fs';
import os from 'node:os';
import { Worker } from 'node:worker_threads';
import zlib from 'node:zlib';
import { CREATE, FILE_MODE, openRegular, writeAll } from './disk.js';

export interface Hashes {
  size: number;
  sha256: string;
  /** `sha384-<base64>`, as the integrity attribute wants it. */
  integrity: string;
}

export interface FileHashes extends Hashes {
  /** The file's identity when it was read: a later copy checks it is still the same file. */
  ino: number;
  mtimeMs: number;
  ctimeMs: number;
  /** With a copy asked for (`Opener.open`'s `out`): the bytes written to it, all of them, and the copy closed. */
  copied?: number;
}

export interface Levels {
  /** brotli quality 0-11, or null for no .br. */
  brotli: number | null;
  /** gzip level 1-9, or null for no .gz. */
  gzip: number | null;
}

export interface Compressed {
  data: Buffer;
  sha256: string;
}

export interface CompressResult {
  /** Present only when smaller than the file. */
  br?: Compressed;
  gzip?: Compressed;
}

/**
 * A file that cannot be hashed: a system error code, or ENOTREG (a link, a FIFO...); `copying` when the error was
 * in making or writing its copy in the staging folder, not in reading it.
 */
export class HashFailure extends Error {
  constructor(
    readonly file: string,
    readonly code: string,
    readonly kind?: string,
    readonly copying = false,
  ) {
    super(kind ? `${file} is ${kind}` : `${code} ${file}`);
  }
}

const CHUNK = 1024 * 1024;

/** Hashes a file on this thread (no link followed, a regular file only). */
export function hashFileHere(file: string, buffer: Buffer = Buffer.allocUnsafe(CHUNK)): FileHashes {
  const { fd, stat } = openRegular(file);
  try {
    return hashOpenHere(fd, buffer, stat);
  } finally {
    closeSync(fd);
  }
}

/**
 * Hashes a file opened by the caller (a source, opened as sources.ts allows), on this thread, from its start; with
 * `out` (where a new file is to be made, as the workers do), the bytes hashed are written to it as they are read.
 */
export function hashOpenHere(
  fd: number,
  buffer: Buffer = Buffer.allocUnsafe(CHUNK),
  stat: Stats = fstatSync(fd),
  out?: string,
): FileHashes {
  const sha256 = createHash('sha256');
  const sha384 = createHash('sha384');
  let size = 0;
  // An error making or writing the copy says so, as the workers' answer does.
  const copying = <T>(act: () => T): T => {
    try {
      return act();
    } catch (error) {
      throw new HashFailure(out ?? '', (error as NodeJS.ErrnoException).code ?? 'EIO', undefined, true);
    }
  };
  const copy = out === undefined ? undefined : copying(() => openSync(out, CREATE, FILE_MODE));
  try {
    for (;;) {
      const read = readSync(fd, buffer, 0, buffer.length, size);
      if (read === 0) break;
      const chunk = buffer.subarray(0, read);
      sha256.update(chunk);
      sha384.update(chunk);
      if (copy !== undefined) copying(() => writeAll(copy, chunk));
      size += read;
    }
  } finally {
    if (copy !== undefined) copying(() => closeSync(copy));
  }
  return {
    size,
    sha256: sha256.digest('hex'),
    integrity: `sha384-${sha384.digest('base64')}`,
    ino: stat.ino,
    mtimeMs: stat.mtimeMs,
    ctimeMs: stat.ctimeMs,
    ...(copy !== undefined ? { copied: size } : {}),
  };
}

export function hashBytes(data: Buffer): Hashes {
  return {
    size: data.length,
    sha256: createHash('sha256').update(data).digest('hex'),
    integrity: `sha384-${createHash('sha384').update(data).digest('base64')}`,
  };
}

/** A buffer of its own size (zlib's result may be a view of a bigger one, which holding it would keep). */
function exact(data: Buffer): Buffer {
  if (data.byteOffset === 0 && data.buffer.byteLength === data.length) return data;
  const copy = Buffer.allocUnsafeSlow(data.length);
  data.copy(copy);
  return copy;
}

/** brotli's window for `size` bytes: the least that holds them (10 to 24 bits); the worker has the same rule. */
function windowBits(size: number): number {
  return Math.max(10, Math.min(24, Math.ceil(Math.log2(Math.max(2, size)))));
}

/** Compresses on this thread; a variant is kept only when smaller than the data. */
export function compressHere(data: Buffer, levels: Levels): CompressResult {
  const out: CompressResult = {};
  if (levels.brotli !== null) {
    const br = zlib.brotliCompressSync(data, {
      params: {
        [zlib.constants.BROTLI_PARAM_QUALITY]: levels.brotli,
        [zlib.constants.BROTLI_PARAM_SIZE_HINT]: data.length,
        [zlib.constants.BROTLI_PARAM_MODE]: zlib.constants.BROTLI_MODE_TEXT,
        // A window no bigger than the file: the same output, far less memory for small files.
        [zlib.constants.BROTLI_PARAM_LGWIN]: windowBits(data.length),
      },
    });
    if (br.length < data.length) out.br = { data: exact(br), sha256: createHash('sha256').update(br).digest('hex') };
  }
  if (levels.gzip !== null) {
    const gz = zlib.gzipSync(data, { level: levels.gzip });
    if (gz.length < data.length) out.gzip = { data: exact(gz), sha256: createHash('sha256').update(gz).digest('hex') };
  }
  return out;
}

/** The worker: the two functions above, in plain JavaScript, answering batches. */
const WORKER_SOURCE = `
'use strict';
const { parentPort } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const fs = require('node:fs');
const zlib = require('node:zlib');
const FLAGS = fs.constants.O_RDONLY | (fs.constants.O_NOFOLLOW || 0) | (fs.constants.O_NONBLOCK || 0);
const CREATE = fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | (fs.constants.O_NOFOLLOW || 0);
const buffer = Buffer.allocUnsafe(${CHUNK});
function kindOf(stat) {
  if (stat.isDirectory()) return 'a folder';
  if (stat.isFIFO()) return 'a FIFO';
  if (stat.isSocket()) return 'a socket';
  if (stat.isCharacterDevice() || stat.isBlockDevice()) return 'a device';
  return 'not a regular file';
}
function hash(file) {
  let fd;
  try {
    fd = fs.openSync(file, FLAGS);
  } catch (error) {
    const code = error.code;
    if (code === 'ELOOP' || code === 'EMLINK' || code === 'EFTYPE') \
return { error: 'ENOTREG', kind: 'a symbolic link' };
    return { error: code || 'EIO' };
  }
  try {
    return hashOpen(fd);
  } finally {
    fs.closeSync(fd);
  }
}
// A file the main thread opened (and checked): read by position, never closed here. With out (the path of a new
// name in the run's private staging folder, held open by the main thread), a new file is made there (O_EXCL, never
// through a link) and each chunk hashed is written to it; it is closed before the answer.
function hashOpen(fd, out) {
  let copy;
  let copying = false;
  try {
    const stat = fs.fstatSync(fd);
    if (!stat.isFile()) return { error: 'ENOTREG', kind: kindOf(stat) };
    if (out !== undefined) {
      copying = true;
      copy = fs.openSync(out, CREATE, ${FILE_MODE});
      copying = false;
    }
    const sha256 = createHash('sha256');
    const sha384 = createHash('sha384');
    let size = 0;
    for (;;) {
      const read = fs.readSync(fd, buffer, 0, buffer.length, size);
      if (read === 0) break;
      const chunk = buffer.subarray(0, read);
      sha256.update(chunk);
      sha384.update(chunk);
      if (copy !== undefined) {
        copying = true;
        for (let done = 0; done < read; ) done += fs.writeSync(copy, chunk, done, read - done);
        copying = false;
      }
      size += read;
    }
    let copied;
    if (copy !== undefined) {
      copying = true;
      const made = copy;
      copy = undefined;
      fs.closeSync(made);
      copied = size;
    }
    return { size, sha256: sha256.digest('hex'), integrity: 'sha384-' + sha384.digest('base64'), \
ino: stat.ino, mtimeMs: stat.mtimeMs, ctimeMs: stat.ctimeMs, copied };
  } catch (error) {
    return { error: error.code || 'EIO', copying };
  } finally {
    if (copy !== undefined) try { fs.closeSync(copy); } catch {}
  }
}
function compress(data, brotli, gzip) {
  const out = {};
  if (brotli !== null) {
    const br = zlib.brotliCompressSync(data, { params: {
      [zlib.constants.BROTLI_PARAM_QUALITY]: brotli,
      [zlib.constants.BROTLI_PARAM_SIZE_HINT]: data.length,
      [zlib.constants.BROTLI_PARAM_MODE]: zlib.constants.BROTLI_MODE_TEXT,
      [zlib.constants.BROTLI_PARAM_LGWIN]: Math.max(10, Math.min(24, Math.ceil(Math.log2(Math.max(2, data.length))))),
    } });
    // A copy of its own size: zlib's result may be a view of a bigger buffer, and a message copies all of that.
    if (br.length < data.length) out.br = \
{ data: new Uint8Array(br), sha256: createHash('sha256').update(br).digest('hex') };
  }
  if (gzip !== null) {
    const gz = zlib.gzipSync(data, { level: gzip });
    if (gz.length < data.length) out.gzip = \
{ data: new Uint8Array(gz), sha256: createHash('sha256').update(gz).digest('hex') };
  }
  return out;
}
parentPort.on('message', (batch) => {
  const results = batch.tasks.map((task) => {
    if (task.op === 'hash') return hash(task.file);
    if (task.op === 'hashOpen') return hashOpen(task.fd, task.out);
    const data = Buffer.from(task.data.buffer, task.data.byteOffset, task.data.byteLength);
    return compress(data, task.brotli, task.gzip);
  });
  parentPort.postMessage({ id: batch.id, results });
});
`;

/**
 * A file the main thread opens when its task is sent (so no more are open than tasks in flight), and closes once
 * answered.
 */
export interface Opener {
  /**
   * `out`: where a new file is made (O_EXCL, never through a link) that the bytes read are also written to, by the
   * worker that reads them (a copy made in the same read as the hash); the answer's `copied` says it was written whole.
   */
  open(): { fd: number; out?: string; close(): void };
  /** The file as messages name it. */
  label: string;
}

type Task =
  | { op: 'hash'; file: string; weight: number; resolve: (value: FileHashes) => void; reject: (error: Error) => void }
  | {
      op: 'hashOpen';
      opener: Opener;
      opened?: { fd: number; out?: string; close(): void };
      weight: number;
      resolve: (value: FileHashes) => void;
      reject: (error: Error) => void;
    }
  | {
      op: 'compress';
      data: Buffer;
      levels: Levels;
      weight: number;
      resolve: (value: CompressResult) => void;
      reject: (error: Error) => void;
    };

/** Tasks per message, and bytes of work per message: enough to amortize a message, small enough to share. */
const BATCH_TASKS = 64;
const BATCH_BYTES = 4 * 1024 * 1024;

interface Slot {
  worker: Worker;
  busy: Task[] | undefined;
}

/**
 * A pool of workers, made on first use. `size` defaults to the number of cores the process
 * may use (both, on a 2-core machine).
 */
export class WorkPool {
  private slots: Slot[] | undefined;
  private readonly queue: Task[] = [];
  private batchId = 0;
  private failure: Error | undefined;

  constructor(private readonly size = Math.max(1, Math.min(8, os.availableParallelism()))) {}

  hashFile(file: string, sizeHint: number): Promise<FileHashes> {
    return new Promise((resolve, reject) =>
      this.push({ op: 'hash', file, weight: Math.max(sizeHint, 4096), resolve, reject }),
    );
  }

  /** Hashes a file the main thread opens (`opener`, called when the task is sent; a throw rejects it). */
  hashOpened(opener: Opener, sizeHint: number): Promise<FileHashes> {
    return new Promise((resolve, reject) =>
      this.push({ op: 'hashOpen', opener, weight: Math.max(sizeHint, 4096), resolve, reject }),
    );
  }

  compress(data: Buffer, levels: Levels): Promise<CompressResult> {
    // brotli at high qualities costs far more per byte than a hash: weigh it so.
    const weight = data.length * (levels.brotli !== null && levels.brotli >= 9 ? 64 : 8);
    return new Promise((resolve, reject) => this.push({ op: 'compress', data, levels, weight, resolve, reject }));
  }

  async close(): Promise<void> {
    const slots = this.slots;
    this.slots = undefined;
    if (slots) await Promise.all(slots.map((slot) => slot.worker.terminate()));
  }

  private push(task: Task): void {
    if (this.failure) {
      task.reject(this.failure);
      return;
    }
    this.queue.push(task);
    this.slots ??= Array.from({ length: this.size }, () => this.start());
    for (const slot of this.slots) if (!slot.busy) this.dispatch(slot);
  }

  private start(): Slot {
    // Small heaps: a worker holds one batch at a time (a V8 isolate's default young generation alone is up to 32 MiB).
    const worker = new Worker(WORKER_SOURCE, {
      eval: true,
      resourceLimits: { maxYoungGenerationSizeMb: 4, maxOldGenerationSizeMb: 256 },
    });
    worker.unref();
    const slot: Slot = { worker, busy: undefined };
    worker.on('message', (reply: { id: number; results: unknown[] }) => {
      const tasks = slot.busy ?? [];
      slot.busy = undefined;
      tasks.forEach((task, index) => settle(task, reply.results[index]));
      this.dispatch(slot);
      // Let the process end while nothing is asked of the pool.
      if (!slot.busy) worker.unref();
    });
    worker.on('error', (error) => this.fail(error));
    worker.on('exit', (code) => {
      if (code !== 0 && slot.busy) this.fail(new Error(`a collect worker stopped with code ${code}`));
    });
    return slot;
  }

  private fail(error: Error): void {
    this.failure = error;
    for (const task of this.queue.splice(0)) task.reject(error);
    for (const slot of this.slots ?? []) {
      for (const task of slot.busy ?? []) {
        closeOpened(task);
        task.reject(error);
      }
      slot.busy = undefined;
    }
  }

  private dispatch(slot: Slot): void {
    const tasks: Task[] = [];
    let weight = 0;
    while (
      this.queue.length > 0 &&
      tasks.length < BATCH_TASKS &&
      (tasks.length === 0 || weight + (this.queue[0] as Task).weight <= BATCH_BYTES * 4)
    ) {
      const task = this.queue.shift() as Task;
      if (task.op === 'hashOpen') {
        try {
          task.opened = task.opener.open();
        } catch (error) {
          task.reject(error as Error);
          continue;
        }
      }
      tasks.push(task);
      weight += task.weight;
      if (weight >= BATCH_BYTES) break;
    }
    if (tasks.length === 0) return;
    slot.busy = tasks;
    slot.worker.ref();
    slot.worker.postMessage({
      id: ++this.batchId,
      tasks: tasks.map((task) =>
        task.op === 'hash'
          ? { op: 'hash', file: task.file }
          : task.op === 'hashOpen'
            ? { op: 'hashOpen', fd: task.opened?.fd, out: task.opened?.out }
            : { op: 'compress', data: task.data, brotli: task.levels.brotli, gzip: task.levels.gzip },
      ),
    });
  }
}

function toBuffer(value: Uint8Array): Buffer {
  return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
}

/** The file a task had open, closed (its answer is in, or will never come). */
function closeOpened(task: Task): void {
  if (task.op !== 'hashOpen' || !task.opened) return;
  const opened = task.opened;
  delete task.opened;
  opened.close();
}

function settle(task: Task, result: unknown): void {
  const value = result as Record<string, unknown>;
  if (task.op === 'hash' || task.op === 'hashOpen') {
    closeOpened(task);
    if (typeof value['error'] === 'string') {
      task.reject(
        new HashFailure(
          task.op === 'hash' ? task.file : task.opener.label,
          value['error'],
          value['kind'] as string | undefined,
          value['copying'] === true,
        ),
      );
      return;
    }
    task.resolve(value as unknown as FileHashes);
    return;
  }
  const out: CompressResult = {};
  for (const key of ['br', 'gzip'] as const) {
    const part = value[key] as { data: Uint8Array; sha256: string } | undefined;
    if (part) out[key] = { data: toBuffer(part.data), sha256: part.sha256 };
  }
  task.resolve(out);
}
