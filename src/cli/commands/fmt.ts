// `pstc fmt [--check] <files...>`: rewrite .pst files in the canonical layout (src/lang/format.ts).
// A file is rewritten only when its text changes, through a temporary file in the same folder and
// a rename (src/weights/atomic.ts), so an interrupted run never leaves a half-written file; a
// symlink is written through and a read-only file is left alone (and said so).
import { existsSync } from 'node:fs';
import type { CommandRegistrar } from '../registrar.js';
import { UsageError } from '../errors.js';
import { renderDiagnostics } from '../../lang/diagnostics.js';
import { formatSource } from '../../lang/format.js';
import { readFromDisk } from '../../lang/read-disk.js';
import { ReadOnlyOutputError, writeFileAtomic } from '../../weights/atomic.js';

export const registerFmt: CommandRegistrar = (program, io, setExit) => {
  program
    .command('fmt')
    .description('format .pst files in place (--check: only list the files that would change)')
    .option('--check', 'write nothing; list files whose layout would change and exit 1 if any')
    .argument('<files...>', '.pst files to format')
    .action(async (files: string[], options: { check?: boolean }) => {
      const sources = files.map((file) => ({ file, text: readSource(file) }));
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
          try {
            writeFileAtomic(file, formatted); // through a symlink to its target; keeps the file's mode
          } catch (e) {
            if (!(e instanceof ReadOnlyOutputError)) throw e;
            io.err(`pstc fmt: ${file} is read-only; not rewritten (its layout would change)`);
            failed = true;
            continue;
          }
          io.out(`formatted ${file}`);
        }
      }
      if (failed) setExit(1);
    });
};

/** The text of a file to format, read as the checker reads it (no devices, FIFOs or huge files). */
function readSource(file: string): string {
  const read = readFromDisk(file);
  if (read === undefined) throw new UsageError(`cannot read ${file}: ${existsSync(file) ? 'permission denied' : 'no such file'}`);
  if (typeof read !== 'string') throw new UsageError(`cannot format ${file}: ${read.refused}`);
  return read;
}
