// Loading: read each .pst file once, parse it, follow its imports (relative to the importing
// file), and report missing files (PST201) and import cycles (PST202) at the import's span.
// No Node module here (the page's compiler runs in a browser): files come through a ReadFile, the
// disk reader is src/lang/read-disk.ts, and paths are POSIX-style (src/lang/paths.ts).
import type { Program } from './ast.js';
import type { Diagnostic } from './diagnostics.js';
import type { Span } from './span.js';
import { parseProgram } from './parse.js';
import { dirname, isAbsolute, join, normalise } from './paths.js';

/** A file's text, or undefined when it cannot be read (reported as PST201). On disk: read-disk.ts. */
export type ReadFile = (file: string) => string | undefined;

export interface ImportEdge {
  /** The imported file's key (normalised path). */
  target: string;
  span: Span;
}

export interface LoadedFile {
  file: string;
  program: Program;
  /** Imports that loaded, in source order; cyclic and missing ones are left out (already reported). */
  imports: ImportEdge[];
}

export interface LoadResult {
  /** By normalised path, in load order (depth first, imports before their importers' later imports). */
  files: Map<string, LoadedFile>;
  /** The given files that loaded, normalised, without repeats. */
  roots: string[];
  sources: Map<string, string>;
  diagnostics: Diagnostic[];
}

export function normaliseFile(file: string): string {
  return normalise(file);
}

/** Where `import "x"` in `importer` points: relative to the importer's folder unless absolute. */
export function resolveImport(importer: string, target: string): string {
  return normaliseFile(isAbsolute(target) ? target : join(dirname(importer), target));
}

export function loadFiles(files: readonly string[], readFile: ReadFile): LoadResult {
  const result: LoadResult = { files: new Map(), roots: [], sources: new Map(), diagnostics: [] };
  // Files whose imports are being followed: an import of one of them closes a cycle.
  const stack: string[] = [];

  const visit = (file: string, importSpan?: Span): LoadedFile | undefined => {
    if (stack.includes(file)) {
      const cycle = [...stack.slice(stack.indexOf(file)), file].join(' → ');
      result.diagnostics.push({
        code: 'PST202',
        severity: 'error',
        message: `import cycle: ${cycle}`,
        span: importSpan,
        hint: 'move the declarations both files need into a third file that both import',
      });
      return undefined;
    }
    const known = result.files.get(file);
    if (known) return known;
    const text = readFile(file);
    if (text === undefined) {
      result.diagnostics.push({
        code: 'PST201',
        severity: 'error',
        message: `cannot read \`${file}\``,
        ...(importSpan ? { span: importSpan } : { flag: file }),
        hint: importSpan ? 'import paths are relative to the importing file' : undefined,
      });
      return undefined;
    }
    const parsed = parseProgram(text, file);
    const loaded: LoadedFile = { file, program: parsed.program, imports: [] };
    result.files.set(file, loaded);
    result.sources.set(file, text);
    result.diagnostics.push(...parsed.diagnostics);
    stack.push(file);
    for (const decl of parsed.program.decls) {
      if (decl.kind !== 'import') continue;
      const target = resolveImport(file, decl.path.value);
      if (visit(target, decl.path.span)) loaded.imports.push({ target, span: decl.path.span });
    }
    stack.pop();
    return loaded;
  };

  for (const given of files) {
    const file = normaliseFile(given);
    if (visit(file) && !result.roots.includes(file)) result.roots.push(file);
  }
  return result;
}
