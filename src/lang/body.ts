// Bodies as trees of settings. A model body (and an `extends` body, a sweep variant, an axis)
// is applied onto a tree: properties replace, sections merge into sections, and dotted paths are
// the same as sections (`embed.dim = 128` ≡ `embed { dim = 128 }`, `stage.3.depth` ≡
// `stage 3 { depth = … }`). Every setting keeps its expression and the file whose scope evaluates
// it, so a model extending one from another file still sees that file's constants.
import type { Expr, GridBlock, Member, PathSegment } from './ast.js';
import type { Reporter } from './report.js';
import type { Span } from './span.js';
import { DATA_KEY_HINTS, DATA_KEYS } from './data-config.js';
import { TRAIN_KEY_HINTS, TRAIN_KEY_NAMES } from './train-config.js';
import { didYouMean } from './values.js';

export type Setting = (
  | { kind: 'expr'; expr: Expr; file: string; pathSpan: Span }
  | { kind: 'grid'; grid: GridBlock; file: string; pathSpan: Span }
) & {
  /** Order of writing across all bodies (a base's settings come before its overrides): when two
   *  settings conflict, the later one is the one to point at. Stamped when the setting is stored. */
  seq?: number;
};

let written = 0;

export interface BodyNode {
  props: Map<string, Setting>;
  /** Keyed `embed`, `head`, `stage.3`, … */
  sections: Map<string, SectionNode>;
}

export interface SectionNode extends BodyNode {
  name: string;
  index?: number;
  /** The section's header (`stage 3`), or the path segment that created it. */
  span: Span;
}

export interface Schema {
  /** What a property here is, in words ("a stage property"). */
  what: string;
  props: readonly string[];
  sections: Readonly<Record<string, Schema>>;
  /** Sections that take a number (`stage N`). */
  indexed?: readonly string[];
  /** Names that are a property and a section at once, where the last one written wins (`head = none`). */
  exclusive?: readonly string[];
  /** Whether a `grid { }` block may appear here. */
  grid?: boolean;
  /** Names that are not valid here but that users write (another tool's name for a setting):
   *  the hint says what to write instead. */
  hints?: Readonly<Record<string, string>>;
}

export function emptyBody(): BodyNode {
  return { props: new Map(), sections: new Map() };
}

export function cloneBody<T extends BodyNode>(node: T): T {
  const sections = new Map<string, SectionNode>();
  for (const [k, s] of node.sections) sections.set(k, cloneBody(s));
  return { ...node, props: new Map(node.props), sections };
}

export function sectionKey(name: string, index?: number): string {
  return index === undefined ? name : `${name}.${index}`;
}

export function pathText(path: readonly PathSegment[]): string {
  return path.map((s) => (s.kind === 'ident' ? s.name : String(s.value))).join('.');
}

export interface ApplyOptions {
  /** The code for a name that is not valid here: PST212 in bodies, PST260 in sweeps. */
  unknownCode: string;
  /** For sweep axes: a numbered section must already exist (`stage.9.depth` names nothing). */
  mustExist?: boolean;
  /** Paths set so far in this body, for duplicates (PST213). */
  seen?: Map<string, Span>;
}

/** Apply a body's members onto `node`; invalid members are reported and skipped. */
export function applyMembers(
  node: BodyNode,
  members: readonly Member[],
  schema: Schema,
  file: string,
  r: Reporter,
  options: ApplyOptions,
  prefix = '',
): void {
  const seen = options.seen ?? new Map<string, Span>();
  const inner = { ...options, seen };
  for (const m of members) {
    if (m.kind === 'property') {
      setPath(node, m.path, { kind: 'expr', expr: m.value, file, pathSpan: pathSpan(m.path) }, schema, r, inner, prefix);
    } else if (m.kind === 'grid') {
      if (!schema.grid) {
        r.error(options.unknownCode, m.span, `a \`grid\` is not allowed here`, {
          expected: schema.what,
          hint: 'a grid belongs in a `patch_shift` declaration',
        });
        continue;
      }
      if (!noteOnce(seen, `${prefix}grid`, m.span, r)) continue;
      node.props.set('grid', { kind: 'grid', grid: m, file, pathSpan: m.span, seq: ++written });
    } else {
      const name = m.name.name;
      const sub = sectionOf(schema, name);
      if (!sub) {
        unknownMember(name, m.name.span, schema, r, options.unknownCode, 'section');
        continue;
      }
      const index = m.index?.value;
      if (!checkIndex(name, index, m.index?.span ?? m.name.span, schema, r, options)) continue;
      const key = sectionKey(name, index);
      const header = m.index ? joinSpans(m.name.span, m.index.span) : m.name.span;
      if (!noteOnce(seen, `${prefix}${key}{}`, header, r, `section \`${name}${index === undefined ? '' : ` ${index}`}\``)) continue;
      const child = enter(node, key, name, index, header, schema, r, options);
      if (!child) continue;
      applyMembers(child, m.body, sub, file, r, inner, `${prefix}${key}.`);
    }
  }
}

/** Set `path = value` on `node`, walking (and creating) the sections the path names. */
/** A schema's own section of that name: never an inherited member (`__proto__`, `constructor`). */
function sectionOf(schema: Schema, name: string): Schema | undefined {
  return Object.hasOwn(schema.sections, name) ? schema.sections[name] : undefined;
}

export function setPath(
  node: BodyNode,
  path: readonly PathSegment[],
  setting: Setting,
  schema: Schema,
  r: Reporter,
  options: ApplyOptions,
  prefix = '',
): boolean {
  let here = node;
  let sch = schema;
  let key = prefix;
  for (let i = 0; i < path.length - 1; i++) {
    const seg = path[i]!;
    if (seg.kind !== 'ident') {
      r.error(options.unknownCode, seg.span, `unexpected number \`${seg.value}\` in a property path`, { expected: sch.what });
      return false;
    }
    const sub = sectionOf(sch, seg.name);
    if (!sub) {
      unknownMember(seg.name, seg.span, sch, r, options.unknownCode, 'section');
      return false;
    }
    let index: number | undefined;
    if (sch.indexed?.includes(seg.name)) {
      const next = path[i + 1];
      if (next?.kind !== 'index') {
        r.error('PST230', seg.span, `\`${seg.name}\` needs a number here, as in \`${seg.name}.2.depth\``);
        return false;
      }
      index = next.value;
      if (!checkIndex(seg.name, index, next.span, sch, r, options)) return false;
      i++;
    }
    const segSpan = index === undefined ? seg.span : joinSpans(seg.span, path[i]!.span);
    const child = enter(here, sectionKey(seg.name, index), seg.name, index, segSpan, sch, r, options);
    if (!child) return false;
    key += `${sectionKey(seg.name, index)}.`;
    here = child;
    sch = sub;
  }
  const last = path[path.length - 1];
  if (!last) return false;
  if (last.kind !== 'ident') {
    r.error(options.unknownCode, last.span, `a property path cannot end in a number`, { expected: sch.what });
    return false;
  }
  if (!sch.props.includes(last.name)) {
    unknownMember(last.name, last.span, sch, r, options.unknownCode, 'property');
    return false;
  }
  if (options.seen && !noteOnce(options.seen, key + last.name, setting.pathSpan, r)) return false;
  here.props.set(last.name, { ...setting, seq: ++written });
  if (sch.exclusive?.includes(last.name)) here.sections.delete(last.name);
  return true;
}

function enter(
  node: BodyNode,
  key: string,
  name: string,
  index: number | undefined,
  span: Span,
  schema: Schema,
  r: Reporter,
  options: ApplyOptions,
): SectionNode | undefined {
  let child = node.sections.get(key);
  if (!child) {
    if (options.mustExist && index !== undefined) {
      r.error(options.unknownCode, span, `there is no ${name} ${index} to change`, {
        hint: `the base model has ${[...node.sections.keys()].filter((k) => k.startsWith(`${name}.`)).length} ${name}s`,
      });
      return undefined;
    }
    child = { ...emptyBody(), name, index, span };
    node.sections.set(key, child);
  }
  if (schema.exclusive?.includes(name)) node.props.delete(name);
  return child;
}

function checkIndex(name: string, index: number | undefined, span: Span, schema: Schema, r: Reporter, options: ApplyOptions): boolean {
  const wanted = schema.indexed?.includes(name) ?? false;
  if (wanted && index === undefined) {
    r.error('PST230', span, `\`${name}\` needs a number, as in \`${name} 1 { … }\``);
    return false;
  }
  if (!wanted && index !== undefined) {
    r.error(options.unknownCode, span, `\`${name}\` takes no number`, { hint: `write \`${name} { … }\`` });
    return false;
  }
  if (index !== undefined && (!Number.isInteger(index) || index < 1)) {
    r.error('PST230', span, `${name} numbers start at 1, got ${index}`);
    return false;
  }
  return true;
}

function unknownMember(name: string, span: Span, schema: Schema, r: Reporter, code: string, form: 'property' | 'section'): void {
  // A name that exists in the other form gets a precise hint instead of a guess.
  if (form === 'property' && sectionOf(schema, name)) {
    r.error(code, span, `\`${name}\` is a section, not a property`, { expected: schema.what, hint: `write \`${name} { … }\` or \`${name}.field = …\`` });
    return;
  }
  if (form === 'section' && schema.props.includes(name)) {
    r.error(code, span, `\`${name}\` is a property, not a section`, { expected: schema.what, hint: `write \`${name} = …\`` });
    return;
  }
  const candidates = [...schema.props, ...Object.keys(schema.sections)];
  // `depth`, `heads`, `dim` belong to stages: say where they go rather than guess a name.
  const stage = schema.sections['stage'];
  const hint = schema.hints?.[name] ?? (stage?.props.includes(name) ? `\`${name}\` is set per stage: \`stage N { ${name} = … }\`` : didYouMean(name, candidates));
  r.error(code, span, `unknown ${form} \`${name}\``, { expected: schema.what, hint });
}

/** Record a path as set in this body; a second setting is PST213 and is skipped. */
function noteOnce(seen: Map<string, Span>, key: string, span: Span, r: Reporter, what?: string): boolean {
  const first = seen.get(key);
  if (first) {
    const name = what ?? `\`${key.replace(/\{\}$/, '')}\``;
    r.error('PST213', span, `${name} is set twice in this body (first at line ${first.startLine})`, {
      hint: 'remove one of them',
    });
    return false;
  }
  seen.set(key, span);
  return true;
}

export function pathSpan(path: readonly PathSegment[]): Span {
  return joinSpans(path[0]!.span, path[path.length - 1]!.span);
}

function joinSpans(first: Span, last: Span): Span {
  return { ...first, endLine: last.endLine, endCol: last.endCol, endOffset: last.endOffset };
}

// ---------------------------------------------------------------- the schemas of the language

const boundaryFields = ['boundary'];
export const patchShiftSchema: Schema = {
  what: 'a patch_shift field: grid, ratio, boundary, shift_back',
  props: ['ratio', ...boundaryFields, 'shift_back'],
  sections: {},
  grid: true,
};
export const channelShiftSchema: Schema = {
  what: 'a channel_shift field: fold, boundary',
  props: ['fold', ...boundaryFields],
  sections: {},
};

/** Properties a model sets as the default of every stage, and a stage may override. */
export const stageDefaults = [
  'attention',
  'window',
  'shift_windows',
  'bias_frames',
  'mlp_ratio',
  'qkv_bias',
  'dropout',
  'attn_dropout',
  'drop_path',
  'patch_shift',
  'channel_shift',
  'shifts',
  'merge',
] as const;

const shiftOverrides = { patch_shift: patchShiftSchema, channel_shift: channelShiftSchema };

export const stageSchema: Schema = {
  what: 'a stage property',
  props: ['depth', 'heads', 'dim', ...stageDefaults],
  sections: shiftOverrides,
};

export const modelSchema: Schema = {
  what: 'a model property or section',
  props: [...stageDefaults, 'norm', 'head'],
  sections: {
    input: { what: 'an input property: frames, size, channels, batch', props: ['frames', 'size', 'channels', 'batch'], sections: {} },
    embed: { what: 'an embed property: patch, dim, norm', props: ['patch', 'dim', 'norm'], sections: {} },
    head: { what: 'a head property: pool, dropout, classes', props: ['pool', 'dropout', 'classes'], sections: {} },
    stage: stageSchema,
    data: { what: `a data property: ${DATA_KEYS.join(', ')}`, props: DATA_KEYS, sections: {}, hints: DATA_KEY_HINTS },
    train: { what: `a train property: ${TRAIN_KEY_NAMES.join(', ')}`, props: TRAIN_KEY_NAMES, sections: {}, hints: TRAIN_KEY_HINTS },
    ...shiftOverrides,
  },
  indexed: ['stage'],
  exclusive: ['head'],
};
