/**
 * A full garbage collection, asked for by a long run that makes a great many short-lived objects.
 *
 * media:publish keeps little (the plan, the records: about 25 MiB for 10,000 files), but each upload makes the SDK's
 * request objects, and those that outlive a couple of young-generation collections (an upload takes a while) die in
 * the old generation. V8 lets the old generation grow to a few times what is live before it collects it, so peak
 * memory grew with the number of files (10,000 files of 1 MiB: about 185 MiB, of which 110 MiB heap with some 30 MiB
 * live). Collecting every few hundred uploads keeps it near what is live. Each collection stops the process for a
 * time that grows with the heap: tens of milliseconds for publish's own heap, more inside a process that holds much.
 *
 * Node has no API for it without `--expose-gc`: the flag is set for a moment, a new context's `gc` is taken, and the
 * flag is set back, so the user's code sees no `gc` it did not ask for (the way jest's leak detector does it). Where
 * that fails, nothing is collected early, which costs memory, not correctness.
 */
import v8 from 'node:v8';
import vm from 'node:vm';

let collect: (() => void) | null | undefined;

export function collectGarbage(): void {
  if (collect === undefined) collect = takeCollector();
  collect?.();
}

function takeCollector(): (() => void) | null {
  const exposed = typeof (globalThis as { gc?: unknown }).gc === 'function';
  try {
    if (!exposed) v8.setFlagsFromString('--expose-gc');
    const found: unknown = vm.runInNewContext('typeof gc === "function" ? gc : undefined');
    return typeof found === 'function' ? (found as () => void) : null;
  } catch {
    return null;
  } finally {
    if (!exposed) v8.setFlagsFromString('--no-expose-gc');
  }
}
