export { clean, link, verify } from './api.js';
export { AppMediaError, isAppMediaError, type AppMediaErrorCode } from './errors.js';
export { mediaTasks, registerMediaTasks, TaskFailure, type GulpLike, type MediaTask, type MediaTasks, type RegisterOptions } from './gulp/tasks.js';
export type {
  AppEntry, AppEntryObject, AppMediaConfig, AppReport, AppStatus, CleanStatus, EntryMode, LinkStatus, Logger, Mode, Report, RunOptions, TaskName, VerifyStatus,
} from './types.js';
