// `pstc fmt [--check] <files...>`: rewrite .pst files in the canonical layout (src/lang/format.ts).
// A file is rewritten only when its text changes, through a temporary file in the same folder and
// a rename, so an interrupted run never leaves a half-written file.
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { CommandRegistrar } from '../registrar.js';
import { UsageError } from '../errors.js';
import { renderDiagnostics } from '../../lang/diagnostics.js';
import { formatSource } from '../../lang/format.js';

export const registerFmt: CommandRegistrar = (program, io, setExit) => {
  program
    .command('fmt')
    .description('format .pst files in place (--check: only list the files that would change)')
    .option('--check', 'write nothing; list files whose layout would change and exit 1 if any')
    .argument('<files...>', '.pst files to format')
    .action(async (files: string[], options: { check?: boolean }) => {
      const sources = await Promise.all(files.map(async (file) => ({ file, text: await readSource(file) })));
      let failed = false;
      for (const { file, text } of sources) {
        const { formatted, diagnostics } = formatSource(text, file);
        if (formatted === undefined) {
          io.err(renderDiagnostics(diagnostics, { color: io.color, sources: new Map([[file, text]]) }));
          failed = true;
          continue;
        }
        if (formatted === text) continue;
        if (options.check) {
          io.out(file);
          failed = true;
        } else {
          await writeAtomically(file, formatted);
          io.out(`formatted ${file}`);
        }
      }
      if (failed) setExit(1);
    });
};

async function readSource(file: string): Promise<string> {
  try {
    return await fs.readFile(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a folder' : (e as Error).message;
    throw new UsageError(`cannot read ${file}: ${why}`);
  }
}

async function writeAtomically(file: string, text: string): Promise<void> {
  const temp = path.join(path.dirname(file), `.${path.basename(file)}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    const { mode } = await fs.stat(file);
    await fs.writeFile(temp, text, { encoding: 'utf8', mode });
    await fs.rename(temp, file);
  } catch (e) {
    await fs.rm(temp, { force: true });
    throw e;
  }
}
