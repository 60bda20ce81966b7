/**
 * What each task runs, for the front-ends (the `app-media` command in src/cli/, the gulp tasks
 * in src/gulp/). Each is loaded only when its task runs: a command run on every install should
 * start fast, and the AWS SDK is publish's alone (the command's bundle leaves dist/publish/ out
 * and loads it here).
 */
import type { Report, RunOptions, TaskName } from './core/types.js';

export type TaskRunner = (options: RunOptions) => Promise<Report>;

export const taskRunners: Record<TaskName, () => Promise<TaskRunner>> = {
  link: async () => (await import('./link/link.js')).link,
  clean: async () => (await import('./link/clean.js')).clean,
  verify: async () => (await import('./verify.js')).verify,
  find: async () => (await import('./link/find.js')).find,
  watch: async () => (await import('./link/watch.js')).watch,
  collect: async () => (await import('./collect/collect.js')).collect,
  publish: async () => (await import('./publish/index.js')).publish,
};
