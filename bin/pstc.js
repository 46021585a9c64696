#!/usr/bin/env node
// The pstc command. Runs the compiled CLI in dist/ (built by `npm run build` or scripts/setup.sh).
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { dirname, join } from 'node:path';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const entry = join(root, 'dist', 'src', 'cli', 'main.js');
if (!existsSync(entry)) {
  console.error('pstc: the compiled CLI is missing (dist/). Run `bash scripts/setup.sh` or `npm run build` first.');
  process.exit(2);
}
process.env.XDG_RUNTIME_DIR ??= '/tmp';
const { main } = await import(pathToFileURL(entry).href);
process.exitCode = await main(process.argv.slice(2));
