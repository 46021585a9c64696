// The front end's entry points: check .pst files (load, resolve names, evaluate, elaborate every
// model and sweep variant, report every problem of every file) and load one model for the later
// phases. The work itself lives in load.ts, scope.ts, evaluate.ts, body.ts, shifts.ts,
// model-config.ts and sweeps.ts; this file orders it and collects the results.
import type { ConstDecl, ModelDecl, ShiftDecl, SweepDecl } from './ast.js';
import { applyMembers, cloneBody, emptyBody, modelSchema, type BodyNode } from './body.js';
import { DiagnosticError, hasErrors, sortDiagnostics, type Diagnostic } from './diagnostics.js';
import { Evaluator } from './evaluate.js';
import { loadFiles, normaliseFile, type ReadFile } from './load.js';
import type { ModelConfig } from './model.js';
import { elaborateModel } from './model-config.js';
import { Reporter } from './report.js';
import { buildScopes, declKind, type DeclRef } from './scope.js';
import { ShiftBuilder } from './shifts.js';
import type { Span } from './span.js';
import { expandSweep, type SweepRef } from './sweeps.js';
import { didYouMean } from './values.js';

export interface CheckResult {
  /** Every model declared in the given files, then (in source order) every sweep variant. */
  models: ModelConfig[];
  /** baseConfig: the sweep's base model elaborated (it may live in an imported file). */
  sweeps: { name: string; base: string; variants: string[]; baseConfig?: ModelConfig }[];
  /** Every error and warning of every file, imports included, sorted by file and position. */
  diagnostics: Diagnostic[];
  /** File name → text, for rendering diagnostics. */
  sources: Map<string, string>;
}

type ModelRef = DeclRef & { decl: ModelDecl };

/** `readFile`: the host's files (read-disk.ts's readFromDisk in Node, an in-memory map in a browser). */
export function checkFiles(files: string[], readFile: ReadFile): CheckResult {
  const loaded = loadFiles(files, readFile);
  const diagnostics: Diagnostic[] = [...loaded.diagnostics];
  const scopes = buildScopes(loaded.files, diagnostics);
  const fresh = () => new Reporter(diagnostics);
  const ev = new Evaluator(scopes, fresh);
  const shifts = new ShiftBuilder(ev, fresh);
  const bodies = new BodyResolver(fresh);
  const text = (span: Span) =>
    (loaded.sources.get(span.file) ?? '').slice(span.startOffset, span.endOffset).replace(/\s+/g, ' ');
  // `from`: the body a model or variant was made from, whose invalid members silence "missing" errors.
  const elaborate = (name: string, span: Span, body: BodyNode, from: BodyNode = body) =>
    elaborateModel(name, span, body, { ev, shifts, r: fresh(), quietMissing: bodies.flawed.has(from) });

  // Every declaration of every file is checked once; results are kept per declaration.
  const configs = new Map<ModelDecl, ModelConfig>();
  const sweeps = new Map<SweepDecl, { base: string; baseDecl?: ModelDecl; variants: { name: string; config?: ModelConfig }[] }>();
  for (const file of loaded.files.values()) {
    for (const decl of file.program.decls) {
      const ref = { decl, file: file.file };
      if (decl.kind === 'const') ev.constant(ref as DeclRef & { decl: ConstDecl }, decl.name.span, fresh());
      else if (decl.kind === 'shift') shifts.build(ref as DeclRef & { decl: ShiftDecl }, [], fresh());
      else if (decl.kind === 'model') {
        const body = bodies.resolve(ref as ModelRef, scopes);
        const config = body && elaborate(decl.name.name, decl.name.span, body);
        if (config) configs.set(decl, config);
      } else if (decl.kind === 'sweep') {
        const r = fresh();
        const base = bodies.lookup(decl.base, file.file, scopes, r);
        const body = base && bodies.resolve(base, scopes);
        const variants = body ? expandSweep(ref as SweepRef, body, {
              ev,
              r,
              text,
              elaborate: (name, span, variant) => elaborate(name, span, variant, body),
            }) : [];
        sweeps.set(decl, { base: decl.base.name, baseDecl: base?.decl, variants });
      }
    }
  }

  const result: CheckResult = { models: [], sweeps: [], diagnostics: sortDiagnostics(dedupe(diagnostics)), sources: loaded.sources };
  for (const root of loaded.roots) {
    for (const decl of loaded.files.get(root)!.program.decls) {
      if (decl.kind === 'model') {
        const config = configs.get(decl);
        if (config) result.models.push(config);
      } else if (decl.kind === 'sweep') {
        const sweep = sweeps.get(decl)!;
        const baseConfig = sweep.baseDecl && configs.get(sweep.baseDecl);
        result.sweeps.push({ name: decl.name.name, base: sweep.base, variants: sweep.variants.map((v) => v.name), ...(baseConfig ? { baseConfig } : {}) });
        for (const v of sweep.variants) if (v.config) result.models.push(v.config);
      }
    }
  }
  return result;
}

/**
 * One model of a file, for the phases after the language: the named model (or sweep variant),
 * or with no name the file's last declared model. Throws DiagnosticError when the file has errors.
 */
export function loadModel(file: string, modelName: string | undefined, readFile: ReadFile): { model: ModelConfig; result: CheckResult } {
  const result = checkFiles([file], readFile);
  if (hasErrors(result.diagnostics)) throw new DiagnosticError(result.diagnostics);
  const names = result.models.map((m) => m.name);
  if (modelName !== undefined) {
    const model = result.models.find((m) => m.name === modelName);
    if (model) return { model, result };
    throw new DiagnosticError([
      {
        code: 'PST203',
        severity: 'error',
        message: `${file} has no model or sweep variant \`${modelName}\``,
        flag: '--model',
        expected: names.length ? `one of ${names.join(', ')}` : undefined,
        hint: didYouMean(modelName, names),
      },
    ]);
  }
  const key = normaliseFile(file);
  const decls = result.sources.has(key) ? declaredModels(result, key) : [];
  const last = decls[decls.length - 1];
  const model = last && result.models.find((m) => m.name === last);
  if (model) return { model, result };
  throw new DiagnosticError([
    {
      code: 'PST203',
      severity: 'error',
      message: `${file} declares no model`,
      flag: file,
      hint: names.length ? `name one of its sweep variants with --model, e.g. \`${names[0]}\`` : 'declare one: `model name { … }`',
    },
  ]);
}

/** Names of the models (not sweep variants) a file declares, in order. */
function declaredModels(result: CheckResult, file: string): string[] {
  return result.models.filter((m) => m.span?.file === file && !result.sweeps.some((s) => s.variants.includes(m.name))).map((m) => m.name);
}

/** Models extending models may chain this deep (resolving recurses along the chain). */
export const MAX_EXTENDS_DEPTH = 256;

/** Resolves `extends`: a model's body is its base's resolved body with its own body applied. */
class BodyResolver {
  private readonly done = new Map<ModelDecl, BodyNode | undefined>();
  private readonly busy: ModelDecl[] = [];
  /** Bodies (and copies of them) with invalid members, reported when they were applied. */
  readonly flawed = new WeakSet<BodyNode>();

  constructor(private readonly fresh: () => Reporter) {}

  /** The model a name (an `extends` base or a sweep's `from`) refers to, or an error. */
  lookup(name: { name: string; span: Span }, file: string, scopes: Map<string, Map<string, DeclRef>>, r: Reporter): ModelRef | undefined {
    const scope = scopes.get(file) ?? new Map<string, DeclRef>();
    const ref = scope.get(name.name);
    if (ref?.decl.kind === 'model') return ref as ModelRef;
    if (ref) {
      r.error('PST220', name.span, `\`${name.name}\` is a ${declKind(ref.decl)}, not a model`, { expected: 'the name of a model' });
    } else {
      const hint = r.hintsAllowed() ? didYouMean(name.name, [...scope].filter(([, d]) => d.decl.kind === 'model').map(([n]) => n)) : undefined;
      r.error('PST211', name.span, `unknown model \`${name.name}\``, { expected: 'the name of a model', hint });
    }
    return undefined;
  }

  resolve(ref: ModelRef, scopes: Map<string, Map<string, DeclRef>>): BodyNode | undefined {
    const decl = ref.decl;
    if (this.done.has(decl)) return this.done.get(decl);
    const r = this.fresh();
    this.busy.push(decl);
    let body: BodyNode | undefined = emptyBody();
    if (decl.base) {
      const baseRef = this.lookup(decl.base, ref.file, scopes, r);
      if (baseRef && this.busy.length >= MAX_EXTENDS_DEPTH) {
        r.error('PST216', decl.base.span, `\`extends\` chain longer than ${MAX_EXTENDS_DEPTH} models`, {
          hint: 'extend a model closer to the root, or write the settings out',
        });
        body = undefined;
      } else if (baseRef && this.busy.includes(baseRef.decl)) {
        const chain = [...this.busy.slice(this.busy.indexOf(baseRef.decl)), baseRef.decl].map((d) => d.name.name);
        r.error('PST214', decl.base.span, `extends cycle: ${chain.join(' extends ')}`, {
          hint: 'a model cannot extend itself, directly or through others',
        });
        body = undefined;
      } else {
        const base = baseRef && this.resolve(baseRef, scopes);
        body = base && cloneBody(base);
      }
    }
    if (body) {
      const base = decl.base && this.done.get((scopes.get(ref.file)?.get(decl.base.name)?.decl as ModelDecl) ?? decl);
      applyMembers(body, decl.body, modelSchema, ref.file, r, { unknownCode: 'PST212' });
      if (r.failed || (base && this.flawed.has(base))) this.flawed.add(body);
    }
    this.busy.pop();
    this.done.set(decl, body);
    return body;
  }
}

function dedupe(ds: Diagnostic[]): Diagnostic[] {
  const seen = new Set<string>();
  return ds.filter((d) => {
    const s = d.span;
    const key = `${d.code}|${s ? `${s.file}|${s.startOffset}|${s.endOffset}` : d.flag}|${d.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
