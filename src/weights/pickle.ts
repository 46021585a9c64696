// A minimal pickle virtual machine: enough of protocols 2–4 to read what torch.save writes (dicts,
// lists, tuples, strings, numbers, globals, REDUCE/BUILD and persistent ids). It never runs code:
// a global is a name; calling it either goes to a handler the caller supplies (pth.ts knows
// torch's rebuild functions) or yields an opaque PyObject, so unknown classes in a checkpoint's
// metadata (numpy scalars, config objects) do no harm as long as nobody needs their value.
import { FormatError } from './tensor.js';

export class PyGlobal {
  constructor(public readonly module: string, public readonly name: string) {}
  toString(): string {
    return `${this.module}.${this.name}`;
  }
}

/** The result of calling a global the caller does not handle; kept, never interpreted. */
export class PyObject {
  state: unknown = undefined;
  constructor(public readonly callable: unknown, public readonly args: unknown[]) {}
}

export interface UnpickleHooks {
  /** Returns a function for a global the caller understands, or undefined to keep it opaque. */
  resolveGlobal?(module: string, name: string): ((args: unknown[]) => unknown) | undefined;
  /** BINPERSID: turns a persistent id (torch: a ('storage', type, key, location, numel) tuple) into a value. */
  persistentLoad?(pid: unknown): unknown;
}

/** A list of the stack's items above the last MARK, and the MARK removed. */
const MARK = Symbol('mark');

export function unpickle(bytes: Uint8Array, hooks: UnpickleHooks = {}): unknown {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const decoder = new TextDecoder();
  const stack: unknown[] = [];
  const memo = new Map<number, unknown>();
  let pos = 0;

  const need = (n: number) => {
    if (pos + n > bytes.length) throw new FormatError('pickle data ends early (truncated file?)');
  };
  const u8 = () => (need(1), bytes[pos++]!);
  const u16 = () => (need(2), (pos += 2), view.getUint16(pos - 2, true));
  const u32 = () => (need(4), (pos += 4), view.getUint32(pos - 4, true));
  const i32 = () => (need(4), (pos += 4), view.getInt32(pos - 4, true));
  const u64 = () => (need(8), (pos += 8), Number(view.getBigUint64(pos - 8, true)));
  const take = (n: number) => (need(n), (pos += n), bytes.subarray(pos - n, pos));
  const text = (n: number) => decoder.decode(take(n));
  const line = () => {
    const end = bytes.indexOf(0x0a, pos);
    if (end < 0) throw new FormatError('pickle data ends early (truncated file?)');
    const s = decoder.decode(bytes.subarray(pos, end));
    pos = end + 1;
    return s;
  };
  const pop = () => {
    if (!stack.length) throw new FormatError('malformed pickle: stack underflow');
    return stack.pop();
  };
  const top = () => stack[stack.length - 1];
  const popMark = (): unknown[] => {
    const at = stack.lastIndexOf(MARK);
    if (at < 0) throw new FormatError('malformed pickle: no MARK');
    const items = stack.splice(at);
    items.shift();
    return items;
  };
  const call = (callable: unknown, args: unknown[]): unknown => {
    if (callable instanceof PyGlobal) {
      const fn = hooks.resolveGlobal?.(callable.module, callable.name);
      if (fn) return fn(args);
      if (callable.module === 'collections' && callable.name === 'OrderedDict') return new Map();
      if (callable.module === 'builtins' && (callable.name === 'dict' || callable.name === 'set')) return new Map();
      // Protocol 2 pickles bytes as _codecs.encode(text, 'latin1').
      if (callable.module === '_codecs' && callable.name === 'encode' && typeof args[0] === 'string') {
        return Uint8Array.from(args[0], (ch) => ch.charCodeAt(0) & 0xff);
      }
    }
    return new PyObject(callable, args);
  };
  const setItems = (target: unknown, items: unknown[]) => {
    if (!(target instanceof Map)) throw new FormatError('malformed pickle: SETITEM on a non-dict');
    for (let i = 0; i + 1 < items.length; i += 2) target.set(items[i], items[i + 1]);
  };
  const appendItems = (target: unknown, items: unknown[]) => {
    if (!Array.isArray(target)) throw new FormatError('malformed pickle: APPEND on a non-list');
    target.push(...items);
  };
  /** LONG1/LONG4: little-endian two's complement of any width. */
  const long = (n: number) => {
    const b = take(n);
    let v = 0n;
    for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]!);
    if (n > 0 && b[n - 1]! & 0x80) v -= 1n << BigInt(8 * n);
    return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  };

  for (;;) {
    const op = u8();
    switch (op) {
      case 0x80: u8(); break; // PROTO
      case 0x95: u64(); break; // FRAME: a length hint only
      case 0x2e: return pop(); // STOP
      case 0x28: stack.push(MARK); break; // MARK
      case 0x30: pop(); break; // POP
      case 0x31: popMark(); break; // POP_MARK
      case 0x32: stack.push(top()); break; // DUP
      case 0x4e: stack.push(null); break; // NONE
      case 0x88: stack.push(true); break; // NEWTRUE
      case 0x89: stack.push(false); break; // NEWFALSE
      case 0x4a: stack.push(i32()); break; // BININT
      case 0x4b: stack.push(u8()); break; // BININT1
      case 0x4d: stack.push(u16()); break; // BININT2
      case 0x8a: stack.push(long(u8())); break; // LONG1
      case 0x8b: stack.push(long(u32())); break; // LONG4
      case 0x47: need(8); stack.push(view.getFloat64(pos, false)); pos += 8; break; // BINFLOAT (big-endian)
      case 0x49: { // INT (text; '01'/'00' are True/False)
        const s = line();
        stack.push(s === '01' ? true : s === '00' ? false : Number.parseInt(s, 10));
        break;
      }
      case 0x58: stack.push(text(u32())); break; // BINUNICODE
      case 0x8c: stack.push(text(u8())); break; // SHORT_BINUNICODE
      case 0x8d: stack.push(text(u64())); break; // BINUNICODE8
      case 0x54: stack.push(text(i32())); break; // BINSTRING
      case 0x55: stack.push(text(u8())); break; // SHORT_BINSTRING
      case 0x42: stack.push(take(u32()).slice()); break; // BINBYTES
      case 0x43: stack.push(take(u8()).slice()); break; // SHORT_BINBYTES
      case 0x8e: stack.push(take(u64()).slice()); break; // BINBYTES8
      case 0x7d: stack.push(new Map()); break; // EMPTY_DICT
      case 0x5d: stack.push([]); break; // EMPTY_LIST
      case 0x29: stack.push([]); break; // EMPTY_TUPLE
      case 0x8f: stack.push(new Map()); break; // EMPTY_SET (as a dict of its members)
      case 0x64: { const m = new Map(); setItems(m, popMark()); stack.push(m); break; } // DICT
      case 0x6c: stack.push(popMark()); break; // LIST
      case 0x74: stack.push(popMark()); break; // TUPLE
      case 0x85: stack.push([pop()]); break; // TUPLE1
      case 0x86: { const b = pop(); stack.push([pop(), b]); break; } // TUPLE2
      case 0x87: { const c = pop(); const b = pop(); stack.push([pop(), b, c]); break; } // TUPLE3
      case 0x73: { const v = pop(); const k = pop(); setItems(top(), [k, v]); break; } // SETITEM
      case 0x75: { const items = popMark(); setItems(top(), items); break; } // SETITEMS
      case 0x61: { const v = pop(); appendItems(top(), [v]); break; } // APPEND
      case 0x65: { const items = popMark(); appendItems(top(), items); break; } // APPENDS
      case 0x90: { const items = popMark(); const s = top(); if (s instanceof Map) for (const x of items) s.set(x, true); break; } // ADDITEMS
      case 0x71: memo.set(u8(), top()); break; // BINPUT
      case 0x72: memo.set(u32(), top()); break; // LONG_BINPUT
      case 0x94: memo.set(memo.size, top()); break; // MEMOIZE
      case 0x70: memo.set(Number.parseInt(line(), 10), top()); break; // PUT
      case 0x68: stack.push(memoGet(memo, u8())); break; // BINGET
      case 0x6a: stack.push(memoGet(memo, u32())); break; // LONG_BINGET
      case 0x67: stack.push(memoGet(memo, Number.parseInt(line(), 10))); break; // GET
      case 0x63: { const module = line(); stack.push(new PyGlobal(module, line())); break; } // GLOBAL
      case 0x93: { const name = pop(); stack.push(new PyGlobal(String(pop()), String(name))); break; } // STACK_GLOBAL
      case 0x52: { const args = pop(); const f = pop(); stack.push(call(f, asArgs(args))); break; } // REDUCE
      case 0x81: { const args = pop(); const cls = pop(); stack.push(call(cls, asArgs(args))); break; } // NEWOBJ
      case 0x92: { pop(); const args = pop(); const cls = pop(); stack.push(call(cls, asArgs(args))); break; } // NEWOBJ_EX
      case 0x62: { // BUILD: set an object's state; a dict's state (OrderedDict._metadata) does not matter here
        const state = pop();
        const obj = top();
        if (obj instanceof PyObject) obj.state = state;
        break;
      }
      case 0x51: { // BINPERSID
        const pid = pop();
        if (!hooks.persistentLoad) throw new FormatError('pickle refers to external data (a persistent id) but none is available');
        stack.push(hooks.persistentLoad(pid));
        break;
      }
      default:
        throw new FormatError(`unsupported pickle opcode 0x${op.toString(16).padStart(2, '0')} at byte ${pos - 1}`);
    }
  }
}

function memoGet(memo: Map<number, unknown>, key: number): unknown {
  if (!memo.has(key)) throw new FormatError(`malformed pickle: memo entry ${key} read before it was written`);
  return memo.get(key);
}

function asArgs(args: unknown): unknown[] {
  if (!Array.isArray(args)) throw new FormatError('malformed pickle: call arguments are not a tuple');
  return args;
}
