/**
 * For long synchronous work done in steps (the probe's look at each app, apply's links):
 * call the returned function after each step. It gives the event loop a turn once
 * `everyMs` have passed since the last one, so other tasks of a gulp process are not
 * held up. Otherwise it returns nothing, and allocates nothing: a loop over ten
 * thousand files awaits only the turns it takes (`const turn = take(); if (turn) await turn;`).
 */
export function turnTaker(everyMs = 30): () => Promise<void> | undefined {
  let last = performance.now();
  const yieldOnce = async (): Promise<void> => {
    await new Promise<void>((resolve) => setImmediate(resolve));
    last = performance.now();
  };
  return () => (performance.now() - last <= everyMs ? undefined : yieldOnce());
}
