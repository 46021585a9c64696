// `pstc serve [--port N] [--dir web/dist]`: serve the browser playground (built by
// `npm run build:web`) over HTTP on this machine. A page's Web Worker and service worker need an
// http origin (Chromium refuses workers from file://), so a static server is all it takes; any
// other static server on web/dist/ works the same.
import { existsSync, promises as fs, statSync } from 'node:fs';
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

/** A static file server for `dir`; only files inside it, GET and HEAD only. */
export function pageServer(dir: string): Server {
  const root = path.resolve(dir);
  return createServer((req, res) => {
    void (async () => {
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
      if (file !== root && !file.startsWith(root + path.sep)) {
        res.writeHead(403).end('outside the page');
        return;
      }
      try {
        const body = await fs.readFile(file);
        res.writeHead(200, { 'content-type': TYPES[path.extname(file)] ?? 'application/octet-stream', 'cache-control': 'no-cache' });
        res.end(req.method === 'HEAD' ? undefined : body);
      } catch {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
      }
    })();
  });
}

export const registerServe: CommandRegistrar = (program, io) => {
  program
    .command('serve')
    .description('serve the browser playground (build it first: npm run build:web) on http://HOST:PORT/')
    .option('--port <n>', 'port (0: any free one)', nonNegativeInt('--port'), 8080)
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--dir <folder>', 'the built page (default: web/dist of this package)')
    .action(async (opts: { port: number; host: string; dir?: string }) => {
      const dir = opts.dir ?? defaultPageDir();
      if (!existsSync(path.join(dir, 'index.html')) || !statSync(dir).isDirectory()) {
        throw new UsageError(`--dir: no built page in \`${dir}\`; build it with \`npm run build:web\``);
      }
      const server = pageServer(dir);
      await new Promise<void>((resolve, reject) => {
        server.once('error', (e: NodeJS.ErrnoException) =>
          reject(e.code === 'EADDRINUSE' ? new UsageError(`--port: ${opts.port} is in use; pick another (or 0 for any free one)`) : e),
        );
        server.listen(opts.port, opts.host, resolve);
      });
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : opts.port;
      io.out(`serving ${dir} at http://${opts.host}:${port}/ (Ctrl-C stops)`);
      // Serve until the process is stopped.
      await new Promise<void>((resolve) => server.once('close', resolve));
    });
};
