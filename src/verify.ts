/**
 * media:verify: one task, three places to check. mediaRoot (what media:link made), collectRoot
 * (`--collect`: what media:collect wrote) or the bucket (`--published`: what media:publish
 * uploaded); each pipeline checks its own. mediaRoot's check, the usual one, is loaded with this
 * module (an `import()` on every call costs a trip through the module loader's hooks); the other two
 * only when asked for.
 */
import { errors } from './core/errors.js';
import type { Report, RunOptions } from './core/types.js';
import { verifyMediaRoot } from './link/verify.js';

/** Read-only: is every app published as the config says, and nothing published that should not be? */
export async function verify(options: RunOptions = {}): Promise<Report> {
  if (options.collect && options.published) {
    throw errors.badFlag(
      '--published',
      '--collect and --published check different places: give one of them',
      'media:verify --collect checks the build in collectRoot, media:verify --published the objects in the bucket',
    );
  }
  if (options.collect) return (await import('./collect/verify.js')).verifyCollect(options);
  if (options.published) return (await import('./publish/verify.js')).verifyPublished(options);
  return verifyMediaRoot(options);
}
