// `pstc serve [--port N] [--dir web/dist]`: serve the browser playground (built by
// `npm run build:web`) over HTTP on this machine. A page's Web Worker and service worker need an
// http origin (Chromium refuses workers from file://), so a static server is all it takes; any
// other static server on web/dist/ works the same.
import { constants as fsConstants, existsSync, promises as fs, realpathSync, statSync } from 'node:fs';
import { isIP } from 'node:net';
import { hostname } from 'node:os';
import { createServer, type Server } from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CommandRegistrar } from '../registrar.js';
import { UsageError } from '../errors.js';
import { nonNegativeInt } from '../options.js';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.map': 'application/json',
  '.svg': 'image/svg+xml',
  '.pst': 'text/plain; charset=utf-8',
};

/** The package's web/dist/, found from this module (dist/src/cli/commands/ or src/cli/commands/). */
export function defaultPageDir(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!existsSync(path.join(dir, 'package.json')) && path.dirname(dir) !== dir) dir = path.dirname(dir);
  return path.join(dir, 'web', 'dist');
}

/** The largest file served (the built page's bundle is a few MiB). */
const MAX_SERVED_BYTES = 64 * 1024 * 1024;

/**
 * Which Host headers this server answers: an IP address (a DNS rebinding attack needs a name, so a
 * literal address is safe) that it listens on — any when it listens on every interface —,
 * `localhost` when it listens on a loopback or every interface, and the name it was given.
 */
export function hostChecker(bound: string): (header: string | undefined) => boolean {
  const wildcard = bound === '0.0.0.0' || bound === '::';
  const own = new Set([bound.toLowerCase(), ...(wildcard ? [hostname().toLowerCase()] : [])]);
  return (header) => {
    if (!header) return false;
    const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:]+))(?::\d{1,5})?$/.exec(header.trim());
    const name = (m?.[1] ?? m?.[2] ?? '').toLowerCase();
    if (!name) return false;
    if (isIP(name)) return wildcard || name === bound.toLowerCase() || (isLoopback(bound) && isLoopback(name));
    if (name === 'localhost') return wildcard || isLoopback(bound);
    return own.has(name);
  };
}

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/**
 * A static file server for `dir`: GET and HEAD only; only regular files whose real path (symlinks
 * resolved) lies inside it, of at most MAX_SERVED_BYTES (a FIFO or device there is refused, never
 * opened: it could block the server); and only requests whose Host header names this server
 * (`hostAllowed`), so that a page on another site cannot reach it through a DNS name rebound to 127.0.0.1.
 */
export function pageServer(dir: string, hostAllowed?: (header: string | undefined) => boolean): Server {
  const root = realpathSync(path.resolve(dir));
  const inside = (file: string) => file === root || file.startsWith(root + path.sep);
  return createServer((req, res) => {
    void (async () => {
      if (hostAllowed && !hostAllowed(req.headers.host)) {
        res.writeHead(421, { 'content-type': 'text/plain' }).end('this server answers only to its own address');
        return;
      }
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, { allow: 'GET, HEAD' }).end();
        return;
      }
      const url = new URL(req.url ?? '/', 'http://localhost');
      let rel: string;
      try {
        rel = decodeURIComponent(url.pathname);
      } catch {
        res.writeHead(400).end('bad path');
        return;
      }
      if (rel.endsWith('/')) rel += 'index.html';
      const file = path.resolve(root, `.${rel}`);
      if (!inside(file) || rel.includes('\0')) {
        res.writeHead(403).end('outside the page');
        return;
      }
      let handle: fs.FileHandle | undefined;
      try {
        // Symlinks are followed only to files inside the page.
        if (!inside(await fs.realpath(file))) {
          res.writeHead(403).end('outside the page');
          return;
        }
        // O_NONBLOCK: a FIFO opens at once (and is then refused) rather than waiting for a writer.
        handle = await fs.open(file, fsConstants.O_RDONLY | (fsConstants.O_NONBLOCK ?? 0));
        const stat = await handle.stat();
        if (!stat.isFile() || stat.size > MAX_SERVED_BYTES) {
          res.writeHead(403, { 'content-type': 'text/plain' }).end('not a file that is served');
          return;
        }
        const body = await handle.readFile();
        res.writeHead(200, { 'content-type': TYPES[path.extname(file)] ?? 'application/octet-stream', 'cache-control': 'no-cache' });
        res.end(req.method === 'HEAD' ? undefined : body);
      } catch {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
      } finally {
        await handle?.close();
      }
    })();
  });
}

/** `--host`: a name or an address; empty (every interface, silently) is refused. */
function checkHost(host: string): string {
  if (host === '' || host.length > 253 || !(isIP(host) || /^[A-Za-z0-9]([A-Za-z0-9-]{0,62})(\.[A-Za-z0-9]([A-Za-z0-9-]{0,62}))*$/.test(host))) {
    throw new UsageError(`--host: \`${host.slice(0, 60).replace(/[\x00-\x1f]/g, '?')}\` is not a host name or address; give 127.0.0.1 (this machine only), or 0.0.0.0 to listen on every interface`);
  }
  return host;
}

export const registerServe: CommandRegistrar = (program, io) => {
  program
    .command('serve')
    .description('serve the browser playground (build it first: npm run build:web) on http://HOST:PORT/')
    .option('--port <n>', 'port (0: any free one)', nonNegativeInt('--port', 65535), 8080)
    .option('--host <host>', 'address to listen on (127.0.0.1: this machine only; another address is reachable from the network, said with a warning)', '127.0.0.1')
    .option('--dir <folder>', 'the built page (default: web/dist of this package)')
    .action(async (opts: { port: number; host: string; dir?: string }) => {
      const dir = opts.dir ?? defaultPageDir();
      if (!existsSync(path.join(dir, 'index.html')) || !statSync(dir).isDirectory()) {
        throw new UsageError(`--dir: no built page in \`${dir}\`; build it with \`npm run build:web\``);
      }
      const host = checkHost(opts.host);
      const server = pageServer(dir, hostChecker(host));
      await new Promise<void>((resolve, reject) => {
        server.once('error', (e: NodeJS.ErrnoException) =>
          reject(
            e.code === 'EADDRINUSE'
              ? new UsageError(`--port: ${opts.port} is in use; pick another (or 0 for any free one)`)
              : e.code === 'EACCES'
                ? new UsageError(`--port: ${opts.port} needs privileges here; pick a port above 1023 (or 0 for any free one)`)
                : ['EADDRNOTAVAIL', 'ENOTFOUND', 'EAI_AGAIN', 'EINVAL'].includes(e.code ?? '')
                  ? new UsageError(`--host: cannot listen on \`${host}\` (${e.code}): not an address of this machine`)
                  : e,
          ),
        );
        server.listen(opts.port, host, resolve);
      });
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : opts.port;
      if (!isLoopback(host)) io.err(`pstc: warning: --host ${host} makes the playground reachable from other machines on the network; use 127.0.0.1 to keep it on this one`);
      io.out(`serving ${dir} at http://${opts.host}:${port}/ (Ctrl-C stops)`);
      // Serve until the process is stopped.
      await new Promise<void>((resolve) => server.once('close', resolve));
    });
};
