/**
 * The probe's cached real paths (src/core/fs/real-paths.ts) against the system's
 * realpath, on a real tree with links at every depth.
 */
import { expect } from 'chai';
import { mkdirSync, realpathSync, symlinkSync } from 'node:fs';
import path from 'node:path';
import { realPaths } from '../src/core/fs/real-paths.js';
import { removeTempDirs, tempDir } from './support/project.js';

after(removeTempDirs);

describe('real paths of many folders under shared parents', () => {
  it(
    "gives realpathSync.native's answer (and error) for plain folders, links at any depth, " +
      'dangling links and missing paths',
    () => {
      const base = tempDir('real');
      for (const dir of [
        'real/project/apps/blog/app_media/blog',
        'real/project/apps/shop/app_media',
        'elsewhere/shop-media',
        'elsewhere/pkg/app_media/pkg',
      ]) {
        mkdirSync(path.join(base, dir), { recursive: true });
      }
      symlinkSync('real/project', path.join(base, 'project-link')); // the project itself through a link
      // a media folder that is a link
      symlinkSync('../../../../../elsewhere/shop-media', path.join(base, 'real/project/apps/shop/app_media/shop'));
      symlinkSync('../../../elsewhere/pkg', path.join(base, 'real/project/apps/pkg')); // an app folder that is a link
      symlinkSync('nowhere', path.join(base, 'real/project/apps/dangling'));
      const project = path.join(base, 'project-link');
      const targets = [
        project,
        path.join(project, 'apps/blog/app_media/blog'),
        path.join(project, 'apps/shop/app_media/shop'),
        path.join(project, 'apps/pkg/app_media/pkg'),
        path.join(project, 'apps/dangling/app_media/x'),
        path.join(project, 'apps/missing/app_media/missing'),
        path.join(base, 'real/project/apps/blog/app_media/blog'),
        path.join(base, 'elsewhere'),
        '/',
      ];
      const answer = (get: () => string): string => {
        try {
          return get();
        } catch (error) {
          return `error ${(error as NodeJS.ErrnoException).code}`;
        }
      };
      // Fresh, and seeded with the project's real path as the probe does; each path twice (the cache).
      for (const realOf of [realPaths(), realPaths([[project, realpathSync.native(project)]])]) {
        for (const target of [...targets, ...targets]) {
          expect(
            answer(() => realOf(target)),
            target,
          ).to.equal(answer(() => realpathSync.native(target)));
        }
      }
      expect(realPaths()(path.join(project, 'apps/shop/app_media/shop'))).to.equal(
        realpathSync.native(path.join(base, 'elsewhere/shop-media')),
      );
    },
  );
});
