import type { AppMediaConfig } from '../types.js';

/**
 * Types a configuration written in code (a gulpfile.ts, or a module the
 * gulpfile imports): editors complete and check every field. Returns it as is.
 *
 *     registerMediaTasks(gulp, defineConfig({ mediaRoot: 'public/media', apps: ['./apps/blog'] }));
 */
export function defineConfig(config: AppMediaConfig): AppMediaConfig {
  return config;
}
