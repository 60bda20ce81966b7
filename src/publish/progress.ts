/**
 * A progress line for uploads, on a terminal only: objects and bytes sent out of
 * the total, rewritten in place on stderr once a run has taken a second, cleared
 * at the end. Nothing when stderr is not a terminal, with --json or --silent
 * (no logger), or in the API without a logger.
 */
import { formatBytes } from '../core/report.js';
import type { PublishProgress } from './apply.js';

export interface ProgressLine {
  onProgress: (progress: PublishProgress) => void;
  stop(): void;
}

export function uploadProgress(stream: NodeJS.WriteStream = process.stderr): ProgressLine | undefined {
  if (!stream.isTTY) return undefined;
  const started = Date.now();
  let drawn = 0;
  let shown = false;
  return {
    onProgress({ files, bytes, totalFiles, totalBytes }): void {
      const now = Date.now();
      if (now - started < 1000 || (now - drawn < 100 && files < totalFiles)) return;
      drawn = now;
      shown = true;
      const rate = bytes / ((now - started) / 1000);
      stream.write(
        `\r\u001b[Kmedia:publish: ${files}/${totalFiles} objects, ` +
          `${formatBytes(bytes)} of ${formatBytes(totalBytes)} (${formatBytes(rate)}/s)`,
      );
    },
    stop(): void {
      if (shown) stream.write('\r\u001b[K');
      shown = false;
    },
  };
}
