// Where the decode worker's script is. Built (dist/), it is the compiled decode-worker.js beside
// this module. Run from the TypeScript sources (the tests, through vitest) there is no .js to start
// a thread from, so the worker and what it imports are bundled once per process with esbuild (a dev
// dependency, present wherever the sources are run) into dist/dev-workers/, where Node resolves the
// packages it leaves out (sharp, the FFmpeg installer) from the project's node_modules.
import { createHash } from 'node:crypto';
import { mkdirSync, renameSync, writeFileSync, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

let script: Promise<URL> | undefined;

export function decodeWorkerScript(): Promise<URL> {
  script ??= locate();
  return script;
}

async function locate(): Promise<URL> {
  const here = import.meta.url;
  if (!here.endsWith('.ts')) return new URL('./decode-worker.js', here);
  const entry = fileURLToPath(new URL('./decode-worker.ts', here));
  const root = join(dirname(entry), '..', '..');
  const esbuild = await import('esbuild');
  const result = await esbuild.build({
    entryPoints: [entry],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    write: false,
    logLevel: 'silent',
  });
  const code = result.outputFiles[0]!.contents;
  // Named by content: processes that bundle the same sources share one file, written atomically.
  const name = `decode-worker-${createHash('sha256').update(code).digest('hex').slice(0, 16)}.mjs`;
  const dir = join(root, 'dist', 'dev-workers');
  const file = join(dir, name);
  if (!existsSync(file)) {
    mkdirSync(dir, { recursive: true });
    const temporary = `${file}.${process.pid}.tmp`;
    writeFileSync(temporary, code);
    renameSync(temporary, file);
  }
  return pathToFileURL(file);
}
