// pstc's version: what `--version` prints and what keys caches made by this build. Its one owner
// is package.json (what npm publishes and `npm version` edits); this module reads it from the
// package root, which is two folders above this file in the sources (src/cli/) and three in the
// build (dist/src/cli/). The CLI runs in Node only, so reading a file here costs the browser
// bundle nothing (web/ does not import this module).
import { readFileSync } from 'node:fs';

function packageVersion(): string {
  for (const up of ['../../package.json', '../../../package.json']) {
    let text: string;
    try {
      text = readFileSync(new URL(up, import.meta.url), 'utf8');
    } catch {
      continue;
    }
    const pkg = JSON.parse(text) as { name?: unknown; version?: unknown };
    if (pkg.name === 'pstc' && typeof pkg.version === 'string') return pkg.version;
  }
  throw new Error(`internal error: pstc's package.json is not at the package root above ${import.meta.url}`);
}

export const PSTC_VERSION = packageVersion();
