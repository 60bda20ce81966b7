/** How the tool names a path in what it prints. */
import path from 'node:path';

/** A path as the user should read it: relative to the project root when inside it. */
export function toDisplay(projectRoot: string, file: string): string {
  const rel = path.relative(projectRoot, file);
  if (rel === '') return '.';
  return path.isAbsolute(rel) ? file : rel.split(path.sep).join('/');
}
