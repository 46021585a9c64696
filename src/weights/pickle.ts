// A minimal pickle virtual machine: enough of protocols 2–4 to read what torch.save writes (dicts,
// lists, tuples, strings, numbers, globals, REDUCE/BUILD and persistent ids). It never runs code,
// and it accepts only the globals torch.load(weights_only=True) accepts: a global outside that
// allowlist (`os.system`, `builtins.eval`, a numpy or user class) is refused when the pickle names
// it, wherever it is, whether or not anything would call it. The caller (pth.ts) allowlists torch's
// names and says which of them it understands; an allowed global it does not understand is called
// into an opaque PyObject, kept and never interpreted.
//
// Everything is bounded by the pickle's length: each opcode reads at least one byte, the stack
// and memo are capped, and no operation does more than linear work in what it reads.
import { FormatError, nameText as clip } from './tensor.js';

export class PyGlobal {
  constructor(public readonly module: string, public readonly name: string) {}
  toString(): string {
    return `${this.module}.${this.name}`;
  }
}

/** The result of calling an allowed global the caller does not handle; kept, never interpreted. */
export class PyObject {
  state: unknown = undefined;
  constructor(public readonly callable: unknown, public readonly args: unknown[]) {}
}

/** A pickle that would build objects torch.load(weights_only=True) refuses to build. */
export class UnsafePickleError extends FormatError {
  constructor(message: string) {
    super(message);
    this.name = 'UnsafePickleError';
  }
}

/** How the caller treats an allowed global: a function it understands, or 'opaque' (a PyObject when called). */
export type GlobalMeaning = ((args: unknown[]) => unknown) | 'opaque';

export interface UnpickleHooks {
  /** The meaning of a global the caller allowlists; undefined refuses it (UnsafePickleError). */
  resolveGlobal?(module: string, name: string): GlobalMeaning | undefined;
  /** BINPERSID: turns a persistent id (torch: a ('storage', type, key, location, numel) tuple) into a value. */
  persistentLoad?(pid: unknown): unknown;
}

/** Python 2 names that protocol 2 pickles use, as Python 3 (and weights_only) reads them. */
const MODULE_RENAMES: Record<string, string> = { __builtin__: 'builtins', copy_reg: 'copyreg' };

/** The plain-Python globals weights_only allows; each becomes a plain value here. */
function builtinGlobal(module: string, name: string): GlobalMeaning | undefined {
  const full = `${module}.${name}`;
  if (full === 'collections.OrderedDict' || full === 'collections.Counter' || full === 'builtins.set') return () => new Map();
  if (full === 'builtins.bytearray' || full === 'builtins.complex') return 'opaque';
  // Protocol 2 pickles bytes as _codecs.encode(text, 'latin1').
  if (full === '_codecs.encode') {
    return (args) => {
      if (typeof args[0] !== 'string') throw new FormatError('malformed pickle: _codecs.encode of a non-string');
      return Uint8Array.from(args[0], (ch) => ch.charCodeAt(0) & 0xff);
    };
  }
  return undefined;
}

export interface UnpickleLimits {
  /** Most items on the stack (and in the memo) at once. */
  maxItems?: number;
  /** Most bytes of one LONG1/LONG4 integer: weights files need 8. */
  maxLongBytes?: number;
}

/** A list of the stack's items above the last MARK, and the MARK removed. */
const MARK = Symbol('mark');

export function unpickle(bytes: Uint8Array, hooks: UnpickleHooks = {}, limits: UnpickleLimits = {}): unknown {
  const maxItems = limits.maxItems ?? 1 << 20;
  const maxLongBytes = limits.maxLongBytes ?? 64;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const decoder = new TextDecoder();
  const stack: unknown[] = [];
  const memo = new Map<number, unknown>();
  let pos = 0;

  const need = (n: number) => {
    if (n < 0) throw new FormatError(`malformed pickle: a negative length (${n}) at byte ${pos}`);
    if (pos + n > bytes.length) throw new FormatError('pickle data ends early (truncated file?)');
  };
  const u8 = () => (need(1), bytes[pos++]!);
  const u16 = () => (need(2), (pos += 2), view.getUint16(pos - 2, true));
  const u32 = () => (need(4), (pos += 4), view.getUint32(pos - 4, true));
  const i32 = () => (need(4), (pos += 4), view.getInt32(pos - 4, true));
  const u64 = () => {
    need(8);
    pos += 8;
    const v = view.getBigUint64(pos - 8, true);
    if (v > BigInt(bytes.length)) throw new FormatError('pickle data ends early (truncated file?)');
    return Number(v);
  };
  const take = (n: number) => (need(n), (pos += n), bytes.subarray(pos - n, pos));
  const text = (n: number) => decoder.decode(take(n));
  const line = () => {
    const end = bytes.indexOf(0x0a, pos);
    if (end < 0) throw new FormatError('pickle data ends early (truncated file?)');
    const s = decoder.decode(bytes.subarray(pos, end));
    pos = end + 1;
    return s;
  };
  const push = (x: unknown) => {
    if (stack.length >= maxItems) throw new FormatError(`malformed pickle: more than ${maxItems} items on its stack`);
    stack.push(x);
  };
  const remember = (key: number, value: unknown) => {
    if (!Number.isSafeInteger(key) || key < 0) throw new FormatError('malformed pickle: a bad memo index');
    if (!memo.has(key) && memo.size >= maxItems) throw new FormatError(`malformed pickle: more than ${maxItems} memo entries`);
    memo.set(key, value);
  };
  const global = (rawModule: string, name: string): PyGlobal => {
    const module = MODULE_RENAMES[rawModule] ?? rawModule;
    if (!builtinGlobal(module, name) && !hooks.resolveGlobal?.(module, name)) {
      throw new UnsafePickleError(
        `the pickle names \`${clip(module)}.${clip(name)}\`, which torch.load(weights_only=True) refuses too: a weights file holds only tensors and plain containers`,
      );
    }
    return new PyGlobal(module, name);
  };
  // A MARK is not a value (Python keeps marks on a stack of their own): reaching one is an underflow.
  const pop = () => {
    if (!stack.length || stack[stack.length - 1] === MARK) throw new FormatError('malformed pickle: stack underflow');
    return stack.pop();
  };
  const top = () => {
    if (!stack.length || stack[stack.length - 1] === MARK) throw new FormatError('malformed pickle: stack underflow');
    return stack[stack.length - 1];
  };
  const popMark = (): unknown[] => {
    const at = stack.lastIndexOf(MARK);
    if (at < 0) throw new FormatError('malformed pickle: no MARK');
    const items = stack.splice(at);
    items.shift();
    return items;
  };
  /** Only globals are called (and only allowlisted ones exist): a call of anything else is malformed. */
  const call = (callable: unknown, args: unknown[], opcode: string): unknown => {
    if (!(callable instanceof PyGlobal)) throw new FormatError(`malformed pickle: ${opcode} calls something that is not a global`);
    const meaning = builtinGlobal(callable.module, callable.name) ?? hooks.resolveGlobal?.(callable.module, callable.name);
    return typeof meaning === 'function' ? meaning(args) : new PyObject(callable, args);
  };
  const setItems = (target: unknown, items: unknown[]) => {
    if (!(target instanceof Map)) throw new FormatError('malformed pickle: SETITEM on a non-dict');
    if (items.length % 2) throw new FormatError('malformed pickle: SETITEMS with an odd number of items');
    for (let i = 0; i + 1 < items.length; i += 2) target.set(items[i], items[i + 1]);
  };
  const appendItems = (target: unknown, items: unknown[]) => {
    if (!Array.isArray(target)) throw new FormatError('malformed pickle: APPEND on a non-list');
    // One at a time: spreading a long list into push() overflows the call stack.
    for (const item of items) target.push(item);
  };
  /** LONG1/LONG4: little-endian two's complement of any width. */
  const long = (n: number) => {
    if (n > maxLongBytes) throw new FormatError(`pickle holds a ${n}-byte integer; weights files need at most 8`);
    const b = take(n);
    let hex = '';
    for (let i = n - 1; i >= 0; i--) hex += b[i]!.toString(16).padStart(2, '0');
    let v = n ? BigInt(`0x${hex}`) : 0n;
    if (n > 0 && b[n - 1]! & 0x80) v -= 1n << BigInt(8 * n);
    return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  };

  for (;;) {
    const op = u8();
    switch (op) {
      case 0x80: u8(); break; // PROTO
      case 0x95: u64(); break; // FRAME: a length hint only
      case 0x2e: return pop(); // STOP
      case 0x28: push(MARK); break; // MARK
      case 0x30: pop(); break; // POP
      case 0x31: popMark(); break; // POP_MARK
      case 0x32: push(top()); break; // DUP
      case 0x4e: push(null); break; // NONE
      case 0x88: push(true); break; // NEWTRUE
      case 0x89: push(false); break; // NEWFALSE
      case 0x4a: push(i32()); break; // BININT
      case 0x4b: push(u8()); break; // BININT1
      case 0x4d: push(u16()); break; // BININT2
      case 0x8a: push(long(u8())); break; // LONG1
      case 0x8b: push(long(u32())); break; // LONG4
      case 0x47: need(8); push(view.getFloat64(pos, false)); pos += 8; break; // BINFLOAT (big-endian)
      case 0x49: { // INT (text; '01'/'00' are True/False)
        const s = line();
        if (s === '01' || s === '00') push(s === '01');
        else if (/^-?\d{1,30}$/.test(s)) push(Number.isSafeInteger(Number(s)) ? Number(s) : BigInt(s));
        else throw new FormatError(`malformed pickle: INT of \`${clip(s)}\``);
        break;
      }
      case 0x58: push(text(u32())); break; // BINUNICODE
      case 0x8c: push(text(u8())); break; // SHORT_BINUNICODE
      case 0x8d: push(text(u64())); break; // BINUNICODE8
      case 0x54: push(text(i32())); break; // BINSTRING
      case 0x55: push(text(u8())); break; // SHORT_BINSTRING
      case 0x42: push(take(u32()).slice()); break; // BINBYTES
      case 0x43: push(take(u8()).slice()); break; // SHORT_BINBYTES
      case 0x8e: push(take(u64()).slice()); break; // BINBYTES8
      case 0x7d: push(new Map()); break; // EMPTY_DICT
      case 0x5d: push([]); break; // EMPTY_LIST
      case 0x29: push([]); break; // EMPTY_TUPLE
      case 0x8f: push(new Map()); break; // EMPTY_SET (as a dict of its members)
      case 0x64: { const m = new Map(); setItems(m, popMark()); push(m); break; } // DICT
      case 0x6c: push(popMark()); break; // LIST
      case 0x74: push(popMark()); break; // TUPLE
      case 0x85: push([pop()]); break; // TUPLE1
      case 0x86: { const b = pop(); push([pop(), b]); break; } // TUPLE2
      case 0x87: { const c = pop(); const b = pop(); push([pop(), b, c]); break; } // TUPLE3
      case 0x73: { const v = pop(); const k = pop(); setItems(top(), [k, v]); break; } // SETITEM
      case 0x75: { const items = popMark(); setItems(top(), items); break; } // SETITEMS
      case 0x61: { const v = pop(); appendItems(top(), [v]); break; } // APPEND
      case 0x65: { const items = popMark(); appendItems(top(), items); break; } // APPENDS
      case 0x90: { // ADDITEMS
        const items = popMark();
        const s = top();
        if (!(s instanceof Map)) throw new FormatError('malformed pickle: ADDITEMS on a non-set');
        for (const x of items) s.set(x, true);
        break;
      }
      case 0x71: remember(u8(), top()); break; // BINPUT
      case 0x72: remember(u32(), top()); break; // LONG_BINPUT
      case 0x94: remember(memo.size, top()); break; // MEMOIZE
      case 0x70: remember(Number(line()), top()); break; // PUT
      case 0x68: push(memoGet(memo, u8())); break; // BINGET
      case 0x6a: push(memoGet(memo, u32())); break; // LONG_BINGET
      case 0x67: push(memoGet(memo, Number(line()))); break; // GET
      case 0x63: { const module = line(); push(global(module, line())); break; } // GLOBAL
      case 0x93: { // STACK_GLOBAL
        const name = pop();
        const module = pop();
        if (typeof module !== 'string' || typeof name !== 'string') throw new FormatError('malformed pickle: STACK_GLOBAL of non-strings');
        push(global(module, name));
        break;
      }
      case 0x52: { const args = pop(); const f = pop(); push(call(f, asArgs(args), 'REDUCE')); break; } // REDUCE
      case 0x81: { const args = pop(); const cls = pop(); push(call(cls, asArgs(args), 'NEWOBJ')); break; } // NEWOBJ
      case 0x92: { pop(); const args = pop(); const cls = pop(); push(call(cls, asArgs(args), 'NEWOBJ_EX')); break; } // NEWOBJ_EX
      case 0x62: { // BUILD: only objects an allowed global made, and dicts (OrderedDict._metadata), take a state
        const state = pop();
        const obj = top();
        if (obj instanceof PyObject) obj.state = state;
        else if (Array.isArray(obj) || obj === null || typeof obj !== 'object' || obj instanceof Uint8Array || obj instanceof PyGlobal) {
          throw new UnsafePickleError('the pickle sets the state (BUILD) of something that is not an allowed object, which torch.load(weights_only=True) refuses');
        }
        break;
      }
      case 0x51: { // BINPERSID
        const pid = pop();
        if (!hooks.persistentLoad) throw new FormatError('pickle refers to external data (a persistent id) but none is available');
        push(hooks.persistentLoad(pid));
        break;
      }
      case 0x69: // INST
      case 0x6f: // OBJ
      case 0x82: case 0x83: case 0x84: // EXT1, EXT2, EXT4
        throw new UnsafePickleError(
          `the pickle builds an object with opcode ${OPCODE_NAMES[op]} at byte ${pos - 1}, which torch.load(weights_only=True) refuses`,
        );
      default:
        throw new FormatError(`unsupported pickle opcode 0x${op.toString(16).padStart(2, '0')} at byte ${pos - 1}`);
    }
  }
}

const OPCODE_NAMES: Record<number, string> = { 0x69: 'INST', 0x6f: 'OBJ', 0x82: 'EXT1', 0x83: 'EXT2', 0x84: 'EXT4' };


function memoGet(memo: Map<number, unknown>, key: number): unknown {
  if (!memo.has(key)) throw new FormatError(`malformed pickle: memo entry ${key} read before it was written`);
  return memo.get(key);
}

function asArgs(args: unknown): unknown[] {
  if (!Array.isArray(args)) throw new FormatError('malformed pickle: call arguments are not a tuple');
  return args;
}
