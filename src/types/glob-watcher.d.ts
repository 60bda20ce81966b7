// glob-watcher (what gulp.watch runs on) ships no types; the part we use.
declare module 'glob-watcher' {
  import type { EventEmitter } from 'node:events';
  interface Options {
    delay?: number;
    queue?: boolean;
    ignoreInitial?: boolean;
    events?: string[];
    followSymlinks?: boolean;
    depth?: number;
  }
  interface Watcher extends EventEmitter {
    close(): Promise<void>;
  }
  function watch(globs: string | string[], options: Options, task: () => Promise<unknown>): Watcher;
  export default watch;
}
