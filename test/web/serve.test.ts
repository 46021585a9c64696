// `pstc serve`: the playground's static server serves the built page's files and nothing outside
// it; a folder without a built page is a one-line usage error naming --dir.
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { pageServer } from '../../src/cli/commands/serve.js';
import { memoryIO } from '../../src/cli/io.js';
import { main } from '../../src/cli/main.js';

const dir = mkdtempSync(path.join(tmpdir(), 'pstc-serve-'));
const site = path.join(dir, 'site');
mkdirSync(site);
writeFileSync(path.join(site, 'index.html'), '<!doctype html><title>t</title>');
writeFileSync(path.join(site, 'main.js'), 'console.log(1)');
writeFileSync(path.join(dir, 'secret.txt'), 'outside');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test('serves the page with content types, 404 for a missing file, nothing outside the folder', async () => {
  const server = pageServer(site);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  try {
    const index = await fetch(`${base}/`);
    expect(index.status).toBe(200);
    expect(index.headers.get('content-type')).toContain('text/html');
    expect((await fetch(`${base}/main.js`)).headers.get('content-type')).toContain('text/javascript');
    expect((await fetch(`${base}/nothing.js`)).status).toBe(404);
    expect((await fetch(`${base}/..%2fsecret.txt`)).status).toBe(403); // an encoded slash: decoded, it would climb out
    expect(await (await fetch(`${base}/%2e%2e/secret.txt`)).text()).not.toContain('outside');
    expect((await fetch(`${base}/`, { method: 'POST' })).status).toBe(405);
  } finally {
    server.close();
  }
});

test('a folder with no built page: exit 2, one line naming --dir and how to build', async () => {
  const io = memoryIO();
  expect(await main(['serve', '--dir', dir], io)).toBe(2);
  expect(io.stderr).toMatch(/^pstc: --dir: no built page in .*; build it with `npm run build:web`\n$/);
});
