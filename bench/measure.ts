/** Small helpers: statistics, a concurrency pool, scratch folders. */
import { rmSync } from 'node:fs';
import { spawnSync } from 'node:child_process';

export interface Sample {
  ms: number;
  /** Peak resident set size in KiB (whole-process runs only). */
  rssKiB?: number;
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

export function min(values: readonly number[]): number {
  return values.length === 0 ? Number.NaN : Math.min(...values);
}

export function max(values: readonly number[]): number {
  return values.length === 0 ? Number.NaN : Math.max(...values);
}

/** Runs `fn` on every item with at most `limit` running at once. */
export async function pool<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const item = items[next++] as T;
      await fn(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

export function remove(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/**
 * Flushes dirty pages before a timed run that writes a lot, so one copy's
 * write-back is not billed to the next one.
 */
export function flushDisk(): void {
  spawnSync('sync', { stdio: 'ignore' });
}
