/**
 * core/util/memory.ts: the full collection media:publish asks for every few hundred uploads (its effect on peak
 * memory is measured by `npm run bench`, huge-files).
 */
import { expect } from 'chai';
import { setImmediate as nextTurn } from 'node:timers/promises';
import vm from 'node:vm';
import { collectGarbage } from '../src/core/util/memory.js';

/** A big array (V8 keeps it in its large-object space, which only a full collection frees), held only weakly. */
function unreachable(): WeakRef<number[]> {
  return new WeakRef(Array.from({ length: 2_000_000 }, (_, index) => index));
}

describe('collectGarbage', () => {
  it('frees what nothing holds any more, at once', async () => {
    const ref = unreachable();
    await nextTurn(); // a WeakRef keeps its target until the end of the turn that made it
    expect(ref.deref(), 'still there before the collection').to.not.equal(undefined);
    await nextTurn(); // deref() too keeps it for the rest of its turn
    collectGarbage();
    expect(ref.deref()).to.equal(undefined);
  });

  it('leaves no gc() behind for the code around it: a context made after it has none', () => {
    collectGarbage();
    expect(vm.runInNewContext('typeof gc')).to.equal('undefined');
    expect((globalThis as { gc?: unknown }).gc).to.equal(undefined);
  });
});
