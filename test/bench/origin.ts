// The origin every proxy forwards to: nginx from the distribution's packages when installed (a
// real HTTP server as a shop runs, started here with a generated config in a temporary directory,
// one worker, no master process, serving the fixed bodies from files with Content-Length), else
// the node:http fallback in servers/upstream.ts.
import { accessSync, constants, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ORIGIN_BODIES } from './origin-bodies.js';
import { freePort, onPath, startForeignServer, startServer, type Server } from './processes.js';

export interface Origin {
  readonly server: Server;
  /** For the report: which origin ran, and how. */
  readonly description: string;
}

/** Where Debian's nginx packages put it (sbin is often not on a user's PATH). */
const DEBIAN_NGINX = '/usr/sbin/nginx';

/** BENCH_ORIGIN=node forces the node:http origin. */
function findNginx(): string | undefined {
  if (process.env.BENCH_ORIGIN === 'node') return undefined;
  const found = onPath('nginx');
  if (found !== undefined) return found;
  try {
    accessSync(DEBIAN_NGINX, constants.X_OK);
    return DEBIAN_NGINX;
  } catch {
    return undefined;
  }
}

export async function startOrigin(cpu: string | undefined): Promise<Origin> {
  const nginx = findNginx();
  if (nginx !== undefined) {
    const started = await startNginx(nginx, cpu).catch((error: Error) => error);
    if (!(started instanceof Error)) return started;
    process.stderr.write(`nginx did not start (${started.message}); using the node:http origin\n`);
  }
  const why =
    process.env.BENCH_ORIGIN === 'node'
      ? 'BENCH_ORIGIN=node'
      : nginx === undefined
        ? 'nginx not installed'
        : 'nginx did not start';
  const server = await startServer('origin (node:http)', 'servers/upstream.ts', { cpu });
  return {
    server,
    description: `node:http origin (${why}), fixed bodies with Content-Length`,
  };
}

function nginxConfig(dir: string, port: number): string {
  const files = ORIGIN_BODIES.map(({ path: at }) => fileName(at));
  const [first] = files;
  return [
    'daemon off;',
    'master_process off;',
    'worker_processes 1;',
    `pid ${dir}/nginx.pid;`,
    `error_log ${dir}/error.log error;`,
    'events { worker_connections 8192; }',
    'http {',
    '  access_log off;',
    '  default_type application/octet-stream;',
    '  keepalive_requests 100000000;',
    '  keepalive_timeout 75s;',
    '  tcp_nodelay on;',
    '  sendfile on;',
    `  client_body_temp_path ${dir}/tmp/body;`,
    `  proxy_temp_path ${dir}/tmp/proxy;`,
    `  fastcgi_temp_path ${dir}/tmp/fastcgi;`,
    `  uwsgi_temp_path ${dir}/tmp/uwsgi;`,
    `  scgi_temp_path ${dir}/tmp/scgi;`,
    '  server {',
    `    listen 127.0.0.1:${port} backlog=4096;`,
    `    root ${dir}/www;`,
    ...ORIGIN_BODIES.filter(({ path: at }) => at !== '/').map(
      ({ path: at }) => `    location = ${at} { try_files /${fileName(at)} =404; }`,
    ),
    `    location / { try_files /${first} =404; }`,
    '  }',
    '}',
    '',
  ].join('\n');
}

function fileName(at: string): string {
  return at === '/' ? 'small' : at.slice(1);
}

async function startNginx(nginx: string, cpu: string | undefined): Promise<Origin> {
  const dir = mkdtempSync(path.join(tmpdir(), 'cgw-bench-nginx-'));
  const removeDir = () => rmSync(dir, { recursive: true, force: true });
  process.once('exit', removeDir);
  mkdirSync(path.join(dir, 'www'));
  mkdirSync(path.join(dir, 'tmp'));
  for (const { path: at, bytes } of ORIGIN_BODIES) {
    writeFileSync(path.join(dir, 'www', fileName(at)), Buffer.alloc(bytes, 0x61));
  }
  // nginx cannot listen on port 0 and say which port it got: a free port is picked, and taken
  // again if another process grabbed it in between.
  let lastError: Error | undefined;
  for (let attempt = 0; attempt < 3; attempt += 1) {
    const port = await freePort();
    writeFileSync(path.join(dir, 'nginx.conf'), nginxConfig(dir, port));
    try {
      const server = await startForeignServer(
        'origin (nginx)',
        nginx,
        ['-p', dir, '-e', path.join(dir, 'error.log'), '-c', path.join(dir, 'nginx.conf')],
        cpu,
        port,
      );
      const stop = server.stop;
      return {
        server: {
          ...server,
          stop: async () => {
            await stop();
            removeDir();
          },
        },
        description: `nginx (${nginx}, one worker, no master process), fixed bodies from files with Content-Length`,
      };
    } catch (error) {
      lastError = error as Error;
    }
  }
  throw lastError ?? new Error('nginx did not start');
}
