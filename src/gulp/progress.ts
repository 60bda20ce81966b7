/**
 * A progress line for long copies, on a terminal only: files, bytes and rate,
 * rewritten in place on stderr, shown once a run has taken a second, and
 * cleared at the end. Nothing in --json, piped or --silent output.
 * (A dozen lines of our own rather than a progress-bar dependency.)
 */
import type { EventEmitter } from 'node:events';
import gulplog from 'gulplog';
import { formatBytes } from '../core/report.js';

export interface Progress {
  onProgress: (progress: { files: number; bytes: number }) => void;
  stop(): void;
}

export function progressLine(label: string, stream: NodeJS.WriteStream = process.stderr): Progress | undefined {
  const silent = (gulplog as unknown as EventEmitter).listenerCount('info') === 0;
  if (!stream.isTTY || silent) return undefined;
  const started = Date.now();
  let drawn = 0;
  let shown = false;
  return {
    onProgress({ files, bytes }): void {
      const now = Date.now();
      if (now - started < 1000 || now - drawn < 100) return;
      drawn = now;
      shown = true;
      const rate = bytes / ((now - started) / 1000);
      stream.write(
        `\r\u001b[K${label}: ${files} file${files === 1 ? '' : 's'}, ${formatBytes(bytes)} (${formatBytes(rate)}/s)`,
      );
    },
    stop(): void {
      if (shown) stream.write('\r\u001b[K');
    },
  };
}
