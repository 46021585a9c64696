// Name resolution: one namespace per file holding its own declarations and, transitively, those
// of every file it imports (transitive visibility: importing `pst-t.pst` also brings the shifts
// that pst-t.pst imports, which is what a user extending pst_t expects). Two different
// declarations of one name in a namespace are an error (PST210).
import type { ConstDecl, ModelDecl, ShiftDecl, SweepDecl } from './ast.js';
import type { Diagnostic } from './diagnostics.js';
import type { Span } from './span.js';
import type { LoadedFile } from './load.js';

export type NamedDecl = ConstDecl | ShiftDecl | ModelDecl | SweepDecl;

export interface DeclRef {
  decl: NamedDecl;
  /** The file that declares it (constants in its expressions resolve in that file's scope). */
  file: string;
}

export type Scope = Map<string, DeclRef>;

/** What a declaration is, in words, for messages. */
export function declKind(decl: NamedDecl): string {
  switch (decl.kind) {
    case 'const':
      return 'constant';
    case 'shift':
      return decl.shiftKind === 'patch' ? 'patch_shift' : 'channel_shift';
    case 'model':
      return 'model';
    case 'sweep':
      return 'sweep';
  }
}

function where(ref: DeclRef, fromFile: string): string {
  const line = ref.decl.name.span.startLine;
  return ref.file === fromFile ? `line ${line}` : `${ref.file}:${line}`;
}

/** The declarations a file makes itself, first one of each name; repeats are reported. */
function ownDecls(file: LoadedFile, diagnostics: Diagnostic[]): Scope {
  const own: Scope = new Map();
  for (const decl of file.program.decls) {
    if (decl.kind === 'import') continue;
    const first = own.get(decl.name.name);
    if (first) {
      diagnostics.push(duplicate(decl.name.name, decl.name.span, `already declared at ${where(first, file.file)}`));
      continue;
    }
    own.set(decl.name.name, { decl, file: file.file });
  }
  return own;
}

function duplicate(name: string, span: Span, detail: string): Diagnostic {
  return {
    code: 'PST210',
    severity: 'error',
    message: `\`${name}\` is declared twice: ${detail}`,
    span,
    hint: 'constants, shifts, models and sweeps share one namespace; rename one of them',
  };
}

/** Every file reachable from `start` through imports, `start` included, depth first. */
function closure(start: string, files: Map<string, LoadedFile>): string[] {
  const seen: string[] = [];
  const walk = (f: string) => {
    if (seen.includes(f)) return;
    seen.push(f);
    for (const edge of files.get(f)?.imports ?? []) walk(edge.target);
  };
  walk(start);
  return seen;
}

export function buildScopes(files: Map<string, LoadedFile>, diagnostics: Diagnostic[]): Map<string, Scope> {
  const owns = new Map<string, Scope>();
  // Own duplicates are reported once, in the declaring file, whatever imports it.
  for (const [name, file] of files) owns.set(name, ownDecls(file, diagnostics));

  const scopes = new Map<string, Scope>();
  for (const [name, file] of files) {
    const own = owns.get(name)!;
    const scope: Scope = new Map(own);
    const reported = new Set<string>();
    for (const edge of file.imports) {
      for (const other of closure(edge.target, files)) {
        if (other === name) continue;
        for (const [declName, ref] of owns.get(other) ?? []) {
          const present = scope.get(declName);
          if (!present) {
            scope.set(declName, ref);
            continue;
          }
          if (present.decl === ref.decl || reported.has(declName)) continue;
          reported.add(declName);
          if (own.has(declName)) {
            diagnostics.push(
              duplicate(declName, present.decl.name.span, `also declared at ${where(ref, name)}, which this file imports`),
            );
          } else {
            diagnostics.push(
              duplicate(
                declName,
                edge.span,
                `this import brings the one at ${where(ref, name)}, another import the one at ${where(present, name)}`,
              ),
            );
          }
        }
      }
    }
    scopes.set(name, scope);
  }
  return scopes;
}
