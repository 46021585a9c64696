// Loading: read each .pst file once, parse it, follow its imports (relative to the importing
// file), and report missing files (PST201) and import cycles (PST202) at the import's span.
import type { Program } from './ast.js';
import type { Diagnostic } from './diagnostics.js';
import type { Span } from './span.js';
import { parseProgram } from './parse.js';
import { dirname, isAbsolute, join, normalise } from './paths.js';

/** A file's text, or why it could not be read (`undefined`: missing or unreadable, PST201). */
export type ReadFile = (file: string) => string | { refused: string } | undefined;

/** At most this many files are loaded for one check: loading recurses along import chains, and
 *  every file's scope holds what it imports transitively. */
export const MAX_LOADED_FILES = 256;

/** A .pst file larger than this is refused before it is read: the shipped models are under 2 KB,
 *  and the front end's work grows with the text (an import of a huge file must not take minutes). */
export const MAX_SOURCE_BYTES = 256 * 1024;

/** A source file's bytes as text: UTF-8 without its byte-order mark; binary data is refused. */
export function decodeSource(bytes: Uint8Array): string | { refused: string } {
  if (bytes.includes(0)) return { refused: 'it is not a text file (it contains NUL bytes)' };
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(bytes);
  } catch {
    return { refused: 'it is not UTF-8 text' };
  }
  return text;
}

/** Source text as the front end reads it: a leading byte-order mark (U+FEFF) is not part of it. */
export function stripBom(text: string): string {
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

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
    if (result.files.size >= MAX_LOADED_FILES) {
      result.diagnostics.push({
        code: 'PST204',
        severity: 'error',
        message: `\`${file}\` is not read: more than ${MAX_LOADED_FILES} files are imported`,
        ...(importSpan ? { span: importSpan } : { flag: file }),
        hint: 'a model and its imports fit in a few files; is an import generated in a loop?',
      });
      return undefined;
    }
    const read = readFile(file);
    if (read === undefined || typeof read !== 'string') {
      result.diagnostics.push({
        code: read === undefined ? 'PST201' : 'PST204',
        severity: 'error',
        message: read === undefined ? `cannot read \`${file}\`` : `\`${file}\` is not read: ${read.refused}`,
        ...(importSpan ? { span: importSpan } : { flag: file }),
        hint: read !== undefined ? 'import and check only .pst source files' : importSpan ? 'import paths are relative to the importing file' : undefined,
      });
      return undefined;
    }
    const text = stripBom(read);
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
