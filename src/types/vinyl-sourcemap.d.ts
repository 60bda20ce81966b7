// vinyl-sourcemap (the helper vinyl-fs uses for `sourcemaps: true`) ships no types.
declare module 'vinyl-sourcemap' {
  import type Vinyl from 'vinyl';
  export function add(file: Vinyl, callback: (error: Error | null, file?: Vinyl) => void): void;
}
