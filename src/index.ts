export { link } from './link/link.js';
export { clean } from './link/clean.js';
export { verify } from './verify.js';
export { find } from './link/find.js';
export { watch } from './link/watch.js';
export { collect } from './collect/collect.js';
export { createMediaUrl, type MediaAsset, type MediaUrl, type MediaUrlOptions } from './collect/media-url.js';
export {
  compress,
  fingerprint,
  manifest,
  rewriteReferences,
  type AppMediaFileInfo,
  type CompressOptions,
  type FingerprintOptions,
  type ManifestOptions,
  type RewriteOptions,
} from './collect/transforms.js';
export { publish } from './publish/index.js';
export { defineConfig } from './core/config/define.js';
export { configSchema } from './core/config/schema.js';
export { mediaSrc, type MediaSrcOptions } from './gulp/media-src.js';
export { AppMediaError, isAppMediaError, type AppMediaErrorCode } from './core/errors.js';
export {
  mediaTasks,
  registerMediaTasks,
  TaskFailure,
  type GulpLike,
  type MediaTask,
  type MediaTasks,
  type RegisterOptions,
} from './gulp/tasks.js';
export type {
  AppEntry,
  AppEntryObject,
  AppMediaConfig,
  AppReport,
  AppStatus,
  CleanStatus,
  CollectStatus,
  FindStatus,
  EntryMode,
  LinkStatus,
  Logger,
  Mode,
  Report,
  RunOptions,
  TaskName,
  VerifyStatus,
  PublishConfig,
  PublishStatus,
  PublishSummary,
  PublishedVerifyStatus,
} from './core/types.js';
