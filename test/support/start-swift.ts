/**
 * `npm run start:swift`: starts the tests' one-node Swift, prints its endpoint, the
 * credentials it takes and how long it took to start, and runs until Ctrl-C (which
 * stops every server and removes its temporary folder).
 */
import { removeTempDirs } from './project.js';
import { startSwift, swiftAvailable } from './swift.js';

const missing = swiftAvailable();
if (missing) {
  console.error(missing);
  process.exit(1);
}
// However this process ends (Ctrl-C, a crash), its temporary folder goes with it.
process.once('exit', removeTempDirs);
const started = performance.now();
const store = await startSwift();
const seconds = ((performance.now() - started) / 1000).toFixed(1);
console.log(`swift (s3api) at ${store.endpoint}, up in ${seconds} s`);
console.log(
  `AWS_ACCESS_KEY_ID=${store.credentials?.AWS_ACCESS_KEY_ID} AWS_SECRET_ACCESS_KEY=` +
    `${store.credentials?.AWS_SECRET_ACCESS_KEY} (test credentials of a throwaway server); Ctrl-C stops it`,
);

let stopping = false;
const stop = async (): Promise<void> => {
  if (stopping) return;
  stopping = true;
  await store.stop();
  process.exit(0);
};
process.on('SIGINT', () => void stop());
process.on('SIGTERM', () => void stop());
// The servers are children in their own process groups: keep this process alive while they run.
setInterval(() => undefined, 1 << 30);
