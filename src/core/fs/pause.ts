/**
 * Moments of a writing run where the tests act as a process racing it (swapping a folder for a
 * link, replacing a file): each call below mediaRoot that writes or deletes first passes one.
 * Nothing is set outside the tests; the package does not export this.
 */
export type PausePoint =
  /**
   * Before a file of a copy is written (createCopy, sync): `detail` is `<entry>/<rel>`; collect: its path in
   * collectRoot.
   */
  | 'write'
  /** Before a file of a copy is deleted: `<entry>/<rel>`; collect (a file of an old build): its path in collectRoot. */
  | 'delete'
  /** collect: before a source file is opened to be read (hashed, rendered, compressed or copied): `<app>/<rel>`. */
  | 'read'
  /** Before a new copy, complete in its private folder, is put in place: `<entry>`. */
  | 'place'
  /** Before a link is made (the plan proved its path free): `<entry>`. */
  | 'link'
  /** Before the tool's own link is removed: `<entry>`. */
  | 'unlink'
  /** Before the sweep removes a name a killed run left: the name. */
  | 'sweep'
  /** A run's private folder just made at the top of mediaRoot, before it is opened and checked: its name. */
  | 'private';

let hook: ((point: PausePoint, detail: string) => void) | undefined;

/** Tests only: `fn` runs, synchronously, at every pause point until it is unset. */
export function onPause(fn: ((point: PausePoint, detail: string) => void) | undefined): void {
  hook = fn;
}

export function pause(point: PausePoint, detail: string): void {
  if (hook) hook(point, detail);
}
