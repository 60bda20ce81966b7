/**
 * The bench's object store, in a process of its own (the timed commands run with
 * spawnSync, which would stall a server in the bench's own process): s3rver on
 * 127.0.0.1 with its objects on disk in `argv[2]`, behind the tests' counting proxy,
 * and a control port that answers the proxy's request counts (GET /counts) and
 * clears them (POST /clear). Prints `{ "endpoint", "control", "port" }` when ready.
 */
import http from 'node:http';
import type net from 'node:net';
import { FaultProxy, startS3rver } from '../test/support/object-stores.js';

const directory = process.argv[2];
if (!directory) throw new Error('usage: object-store.ts <folder>');
process.env['TMPDIR'] = directory;
const store = await startS3rver();
const proxy = await new FaultProxy(store.port, '').start();
const control = http.createServer((request, response) => {
  if (request.method === 'POST') proxy.clear();
  response.setHeader('Content-Type', 'application/json');
  response.end(JSON.stringify(proxy.counts()));
});
await new Promise<void>((resolve) => control.listen(0, '127.0.0.1', resolve));
process.stdout.write(
  JSON.stringify({
    endpoint: proxy.endpoint,
    port: store.port,
    control: `http://127.0.0.1:${(control.address() as net.AddressInfo).port}`,
  }) + '\n',
);
process.on('SIGTERM', () => {
  void store.stop().finally(() => process.exit(0));
});
