/** The publish settings of a run: the resolved config's `collectRoot`, `keep` and `publish` with their defaults. */
import { AppMediaError } from '../core/errors.js';
import type { ResolvedConfig } from '../core/config/load.js';
import { publishDefaults } from '../core/options.js';
import type { StoreSettings } from './client.js';
import type { CacheControl } from './headers.js';

export interface PublishSettings {
  projectRoot: string;
  /** Absolute. */
  collectRoot: string;
  keep: number;
  store: StoreSettings;
  cacheControl: CacheControl;
}

export function publishSettings(config: ResolvedConfig): PublishSettings {
  const where = config.file;
  const prefix = config.fieldPrefix;
  if (!config.publish) {
    throw new AppMediaError(
      'APP_MEDIA_MISSING_FIELD',
      '"publish" is required for media:publish',
      'add "publish": { "bucket": "my-site-media", "prefix": "static" } (credentials come from the environment, ' +
        'never from the config)',
      { file: where, field: `${prefix}publish` },
    );
  }
  if (config.collectRoot === undefined) {
    throw new AppMediaError(
      'APP_MEDIA_MISSING_FIELD',
      '"collectRoot" is required for media:publish (it uploads what media:collect wrote there)',
      'add "collectRoot": "dist/media" and run media:collect first',
      { file: where, field: `${prefix}collectRoot` },
    );
  }
  const publish = config.publish;
  return {
    projectRoot: config.projectRoot,
    collectRoot: config.collectRoot,
    keep: config.keep,
    cacheControl: { ...publishDefaults.cacheControl, ...publish.cacheControl },
    store: {
      bucket: publish.bucket,
      prefix: publish.prefix,
      ...(publish.endpoint !== undefined ? { endpoint: publish.endpoint } : {}),
      ...(publish.region !== undefined ? { region: publish.region } : {}),
      ...(publish.forcePathStyle !== undefined ? { forcePathStyle: publish.forcePathStyle } : {}),
      concurrency: publish.concurrency ?? publishDefaults.concurrency,
      timeoutMs: publish.timeout ?? publishDefaults.timeout,
      multipartThreshold: publish.multipartThreshold ?? publishDefaults.multipartThreshold,
    },
  };
}
