// The repository's own gulpfile: it wires the tasks to the bundled example
// project, so `npx gulp media:link` from a fresh clone links example/.
import { fileURLToPath } from 'node:url';
import gulp from 'gulp';
import { registerMediaTasks } from 'gulp-app-media';

registerMediaTasks(gulp, { cwd: fileURLToPath(new URL('./example/', import.meta.url)) });
