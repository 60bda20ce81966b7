/**
 * A one-node OpenStack Swift (the "SAIO" shape) for media:publish's tests, opt-in: a
 * production object store whose S3 API is the proxy's s3api middleware. Everything
 * lives in a fresh temporary folder (configs, rings, the one device, logs) and
 * listens on 127.0.0.1 and free ports only: memcached, the account, container and
 * object servers, and a proxy whose pipeline has s3api and tempauth. Each child
 * runs in its own process group, so stop() leaves no process behind.
 *
 * Debian's packages provide it: apt-get install swift swift-proxy swift-object
 * swift-container swift-account memcached.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import { appendFileSync, closeSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort, testClient, type ObjectStore } from './object-stores.js';
import { tempDir } from './project.js';

const BINARIES = [
  'swift-proxy-server',
  'swift-account-server',
  'swift-container-server',
  'swift-object-server',
  'swift-ring-builder',
  'memcached',
];
const INSTALL = 'apt-get install swift swift-proxy swift-object swift-container swift-account memcached';

const ACCOUNT = 'media';
const USER = 'publisher';
/**
 * tempauth maps an S3 access key to a Swift user only as `account:user`, so Swift
 * cannot take the other servers' key (S3RVER); the secret is the same.
 */
export const SWIFT_CREDENTIALS = { AWS_ACCESS_KEY_ID: `${ACCOUNT}:${USER}`, AWS_SECRET_ACCESS_KEY: 'S3RVER' } as const;

/** How long a start may take before it is an error (5 to 8 s on a busy 2-core machine). */
const START_DEADLINE_MS = 60_000;

/** undefined when this machine can run Swift, else why not (and what to install). */
export function swiftAvailable(): string | undefined {
  for (const bin of BINARIES) {
    const found = spawnSync('sh', ['-c', `command -v ${bin}`], { encoding: 'utf8' });
    if (found.status !== 0 || found.stdout.trim() === '') return `${bin} is not installed (${INSTALL})`;
  }
  return undefined;
}

type Role = 'account' | 'container' | 'object';
const ROLES: Role[] = ['account', 'container', 'object'];

/** A started server: the name its log file and errors go by. */
interface Server {
  name: string;
  child: ChildProcess;
}

interface Layout {
  dir: string;
  devices: string;
  logs: string;
  user: string;
  ports: Record<Role | 'proxy' | 'memcached' | 'syslog', number>;
}

/** Starts the one-node Swift; the ObjectStore carries the credentials tempauth knows. */
export async function startSwift(): Promise<ObjectStore> {
  const layout = await makeLayout();
  writeConfigs(layout);
  const servers: Server[] = [];
  const syslog = await listenForLogs(layout);
  // The servers are in process groups of their own, so nothing takes them down with this process:
  // if it exits without stop() (a crash, an exception), kill them on the way out.
  const onExit = (): void =>
    servers.forEach(({ child }) => child.pid !== undefined && signalGroup(child.pid, 'SIGKILL'));
  process.once('exit', onExit);
  const stop = async (): Promise<void> => {
    process.off('exit', onExit);
    await Promise.all(servers.map(({ child }) => stopGroup(child)));
    await new Promise<void>((resolve) => syslog.close(() => resolve()));
  };
  try {
    await buildRings(layout);
    // The proxy's cache (tempauth's tokens, account and container info); TCP only (-U 0), 16 MiB.
    const memcached = ['-l', '127.0.0.1', '-p', String(layout.ports.memcached), '-U', '0', '-m', '16'];
    // memcached refuses to run as root unless told which user to be.
    servers.push(launch(layout, 'memcached', 'memcached', [...memcached, '-u', layout.user]));
    for (const role of ROLES) {
      servers.push(launch(layout, role, `swift-${role}-server`, [path.join(layout.dir, `${role}-server.conf`)]));
    }
    servers.push(launch(layout, 'proxy', 'swift-proxy-server', [path.join(layout.dir, 'proxy-server.conf')]));
    await waitUntilUp(layout, servers);
  } catch (error) {
    await stop();
    throw error;
  }
  const endpoint = `http://127.0.0.1:${layout.ports.proxy}`;
  return {
    name: 'swift',
    endpoint,
    port: layout.ports.proxy,
    credentials: SWIFT_CREDENTIALS,
    createBucket: (name) => createBucket(endpoint, name),
    stop,
  };
}

async function makeLayout(): Promise<Layout> {
  const dir = tempDir('swift');
  const devices = path.join(dir, 'srv');
  const logs = path.join(dir, 'log');
  mkdirSync(path.join(devices, 'd1'), { recursive: true });
  mkdirSync(logs);
  const ports = {
    account: await freePort(),
    container: await freePort(),
    object: await freePort(),
    proxy: await freePort(),
    memcached: await freePort(),
    syslog: await freePort(),
  };
  return { dir, devices, logs, user: os.userInfo().username, ports };
}

function writeConfigs(layout: Layout): void {
  const { dir, devices, user, ports } = layout;
  // Swift reads its hash settings and storage policies from swift_dir/swift.conf.
  writeFileSync(
    path.join(dir, 'swift.conf'),
    [
      '[swift-hash]',
      'swift_hash_path_prefix = app-media-tests',
      'swift_hash_path_suffix = app-media-tests',
      '[storage-policy:0]',
      'name = gold',
      'default = yes',
      '',
    ].join('\n'),
  );
  // Logs go to our own UDP listener (the syslog handler Swift always adds), never to the system's syslog.
  const common = (name: string, port: number) => [
    '[DEFAULT]',
    `swift_dir = ${dir}`,
    `devices = ${devices}`,
    'mount_check = false',
    'bind_ip = 127.0.0.1',
    `bind_port = ${port}`,
    'workers = 0',
    `user = ${user}`,
    `log_name = ${name}`,
    'log_udp_host = 127.0.0.1',
    `log_udp_port = ${ports.syslog}`,
    'log_level = INFO',
    '',
  ];
  for (const role of ROLES) {
    writeFileSync(
      path.join(dir, `${role}-server.conf`),
      [
        ...common(`${role}-server`, ports[role]),
        '[pipeline:main]',
        `pipeline = healthcheck ${role}-server`,
        '[filter:healthcheck]',
        'use = egg:swift#healthcheck',
        `[app:${role}-server]`,
        `use = egg:swift#${role}`,
        '',
      ].join('\n'),
    );
  }
  writeFileSync(
    path.join(dir, 'proxy-server.conf'),
    [
      ...common('proxy-server', ports.proxy),
      '[pipeline:main]',
      // s3api before tempauth; slo for multipart uploads, copy for CopyObject (s3api's order).
      'pipeline = catch_errors gatekeeper healthcheck proxy-logging cache listing_formats ' +
        's3api tempauth copy slo dlo versioned_writes proxy-logging proxy-server',
      '[app:proxy-server]',
      'use = egg:swift#proxy',
      'account_autocreate = true',
      '[filter:s3api]',
      'use = egg:swift#s3api',
      'location = us-east-1',
      '[filter:tempauth]',
      'use = egg:swift#tempauth',
      // user_<account>_<user> = <key>: the S3 access key is account:user, the secret this user's key.
      `user_${ACCOUNT}_${USER} = ${SWIFT_CREDENTIALS.AWS_SECRET_ACCESS_KEY} .admin`,
      '[filter:cache]',
      'use = egg:swift#memcache',
      `memcache_servers = 127.0.0.1:${ports.memcached}`,
      ...[
        'catch_errors',
        'gatekeeper',
        'healthcheck',
        'proxy-logging',
        'listing_formats',
        'copy',
        'slo',
        'dlo',
        'versioned_writes',
      ].flatMap((name) => [`[filter:${name}]`, `use = egg:swift#${name.replace('-', '_')}`]),
      '',
    ].join('\n'),
  );
}

/**
 * One ring per role: part power 6, one replica, the one device. Built in one Python
 * process with the RingBuilder class that swift-ring-builder drives: nine
 * swift-ring-builder runs (create, add, rebalance per ring) took 6.8 s here, mostly
 * Python starting nine times.
 */
async function buildRings(layout: Layout): Promise<void> {
  const script = [
    'import sys',
    'from swift.common.ring import RingBuilder',
    'for role, port in zip(sys.argv[1::2], sys.argv[2::2]):',
    '    builder = RingBuilder(6, 1, 1)',
    "    builder.add_dev({'region': 1, 'zone': 1, 'ip': '127.0.0.1', 'port': int(port), 'device': 'd1', 'weight': 1})",
    '    builder.rebalance()',
    "    builder.save(role + '.builder')",
    "    builder.get_ring().save(role + '.ring.gz')",
    "    print(role, 'ring: 1 device at', port)",
  ].join('\n');
  const args = ROLES.flatMap((role) => [role, String(layout.ports[role])]);
  await run(layout, swiftPython(), ['-c', script, ...args]);
}

/** The Python that runs Swift (swift-ring-builder's own, from its first line: Debian's /usr/bin/python3). */
function swiftPython(): string {
  const bin = spawnSync('sh', ['-c', 'command -v swift-ring-builder'], { encoding: 'utf8' }).stdout.trim();
  const shebang = /^#!\s*(\S+)/.exec(readFileSync(bin, 'utf8').split('\n', 1)[0] ?? '');
  return shebang?.[1] ?? 'python3';
}

/** Runs a command to its end; its output goes to rings.log, named in the error if it fails. */
function run(layout: Layout, bin: string, args: string[]): Promise<void> {
  const log = path.join(layout.logs, 'rings.log');
  const fd = openSync(log, 'a');
  const child = spawn(bin, args, { stdio: ['ignore', fd, fd], cwd: layout.dir });
  closeSync(fd);
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`building the rings failed: see ${log}`))));
  });
}

/** A server in its own process group, stdout and stderr to <name>.log (tracebacks at start land there). */
function launch(layout: Layout, name: string, bin: string, args: string[]): Server {
  const fd = openSync(path.join(layout.logs, `${name}.log`), 'a');
  const child = spawn(bin, args, { stdio: ['ignore', fd, fd], detached: true, cwd: layout.dir });
  closeSync(fd);
  // A binary that cannot be started shows as an exit code in waitUntilUp.
  child.on('error', () => undefined);
  return { name, child };
}

/** Collects what the servers send to "syslog" into swift.log. */
async function listenForLogs(layout: Layout): Promise<dgram.Socket> {
  const file = path.join(layout.logs, 'swift.log');
  const socket = dgram.createSocket('udp4');
  socket.on('message', (message) => appendFileSync(file, `${message.toString('utf8').replace(/^<\d+>|\0$/g, '')}\n`));
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(layout.ports.syslog, '127.0.0.1', () => resolve());
  });
  socket.unref();
  return socket;
}

/** Until the servers answer their healthchecks and memcached takes a connection, one exits, or the deadline. */
async function waitUntilUp(layout: Layout, servers: Server[]): Promise<void> {
  const deadline = Date.now() + START_DEADLINE_MS;
  const waiting = new Set<Role | 'proxy' | 'memcached'>([...ROLES, 'proxy', 'memcached']);
  while (waiting.size > 0) {
    const dead = servers.find(({ child }) => child.exitCode !== null || child.signalCode !== null);
    if (dead) throw new Error(`swift: ${dead.name} exited at start: see ${path.join(layout.logs, `${dead.name}.log`)}`);
    for (const server of [...waiting]) {
      const up = server === 'memcached' ? await listening(layout.ports[server]) : await healthy(layout.ports[server]);
      if (up) waiting.delete(server);
    }
    if (waiting.size === 0) break;
    if (Date.now() > deadline) {
      const names = [...waiting].map((name) => path.join(layout.logs, `${name}.log`));
      throw new Error(
        `swift did not answer within ${START_DEADLINE_MS / 1000} s (${[...waiting].join(', ')}): ` +
          `see ${names.join(', ')} and ${path.join(layout.logs, 'swift.log')}`,
      );
    }
    await sleep(100);
  }
}

function healthy(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const request = http.get({ host: '127.0.0.1', port, path: '/healthcheck', agent: false }, (response) => {
      response.resume();
      resolve(response.statusCode === 200);
    });
    request.setTimeout(2000, () => request.destroy());
    request.on('error', () => resolve(false));
  });
}

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port }, () => {
      socket.destroy();
      resolve(true);
    });
    socket.on('error', () => resolve(false));
  });
}

/** SIGTERM to the child's whole group, SIGKILL after 3 s; resolves once the leader has exited. */
async function stopGroup(child: ChildProcess): Promise<void> {
  if (child.pid === undefined) return;
  const exited =
    child.exitCode !== null || child.signalCode !== null
      ? Promise.resolve()
      : new Promise<void>((resolve) => child.once('exit', () => resolve()));
  signalGroup(child.pid, 'SIGTERM');
  if ((await Promise.race([exited.then(() => true), sleep(3000).then(() => false)])) === false) {
    signalGroup(child.pid, 'SIGKILL');
    await exited;
  }
  // Anything the leader forked and left in its group goes too.
  signalGroup(child.pid, 'SIGKILL');
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // The group is already gone.
  }
}

async function createBucket(endpoint: string, name: string): Promise<void> {
  const client = await testClient(endpoint, SWIFT_CREDENTIALS);
  const { CreateBucketCommand } = await import('@aws-sdk/client-s3');
  try {
    await client.send(new CreateBucketCommand({ Bucket: name }));
  } finally {
    client.destroy();
  }
}
