/**
 * Runs the enclosing mocha suite with one kind of held folder (src/core/fs/folder.ts), the other systems' code
 * included.
 */
import { folderKind, type FolderKind } from '../../src/core/fs/folder.js';

export const FOLDER_KINDS: readonly FolderKind[] = ['descriptor', 'path'];

/** In a `describe`: this suite's runs use folders held by `kind`; the kind in use before is put back after. */
export function useFolderKind(kind: FolderKind): void {
  let was: FolderKind;
  before(() => {
    was = folderKind();
    folderKind(kind);
  });
  after(() => {
    folderKind(was);
  });
}
