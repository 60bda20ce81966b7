/**
 * For long synchronous work done in steps (the probe's look at each app, apply's links):
 * call the returned function after each step. It gives the event loop a turn once
 * `everyMs` have passed since the last one, so other tasks of a gulp process are not
 * held up, and otherwise returns at once.
 */
export function turnTaker(everyMs = 30): () => Promise<void> {
  let last = performance.now();
  return async () => {
    if (performance.now() - last <= everyMs) return;
    await new Promise<void>((resolve) => setImmediate(resolve));
    last = performance.now();
  };
}
