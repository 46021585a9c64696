import { describe, expect, it } from 'vitest';
import { readPth } from '../../src/weights/pth.js';
import { unpickle } from '../../src/weights/pickle.js';
import { FormatError } from '../../src/weights/tensor.js';
import { asFloat32, fixture, manifest, sum } from './fixtures.js';

describe('PyTorch checkpoints (torch.save zip format)', () => {
  it('reads float32/16/64 and bfloat16 tensors, strided and offset views, parameters and int64 buffers', () => {
    const got = readPth(fixture('mixed.pth'));
    const want = manifest['mixed.pth'];
    expect([...got.keys()]).toEqual(Object.keys(want));
    for (const [name, e] of Object.entries(want)) {
      expect(got.get(name)!.shape, name).toEqual(e.shape);
      expect(got.get(name)!.data, name).toEqual(asFloat32(e.values));
    }
  });

  it('leaves skipped tensors unread', () => {
    const got = readPth(fixture('mixed.pth'), { skip: (n) => n.includes('relative_position_index') });
    expect(got.has('backbone.layers.0.blocks.0.attn.relative_position_index')).toBe(false);
    expect(got.has('backbone.f32')).toBe(true);
  });

  it('reads a module state dict saved at the top level', () => {
    const got = readPth(fixture('flat.pth'));
    const want = manifest['flat.pth'];
    expect([...got.keys()]).toEqual(Object.keys(want));
    for (const [name, e] of Object.entries(want)) expect(got.get(name)!.data, name).toEqual(asFloat32(e.values));
  });

  it('reads a seeded model checkpoint with the sums PyTorch computed', () => {
    const got = readPth(fixture('tiny_pst.pth'));
    expect([...got.keys()]).toEqual(manifest['tiny_pst.pth'].state_dict_keys);
    for (const p of manifest['tiny_pst.pth'].parameters) {
      const name = p.name.startsWith('cls_head') ? p.name : `backbone.${p.name}`;
      expect(sum(got.get(name)!.data), name).toBeCloseTo(p.sum, 4);
    }
  });

  it('refuses non-zip data, naming the legacy format when it sees a bare pickle', () => {
    expect(() => readPth(new Uint8Array([0x80, 0x02, 0x8a]))).toThrow(/legacy torch.save format/);
    expect(() => readPth(new TextEncoder().encode('hello'))).toThrow(FormatError);
  });

  it('refuses a truncated archive with a FormatError', () => {
    const bytes = fixture('mixed.pth');
    expect(() => readPth(bytes.subarray(0, 200))).toThrow(FormatError);
  });
});

describe('the pickle machine', () => {
  it('builds dicts, lists, tuples, shared (memoised) objects, big ints, floats and bytes (protocol 2)', () => {
    // /usr/bin/python3: shared = [1, 2]; pickle.dumps({'a': [1, -2, 300, 70000], 'b': (1.5, None, True),
    //   'c': 2**70, 'd': 'é', 'e': -2**40, 's1': shared, 's2': shared, 'f': b'xy'}, protocol=2).hex()
    const hex =
      '80027d71002858010000006171015d7102284b014afeffffff4d2c014a70110100655801000000627103473ff800000000' +
      '00004e8887710458010000006371058a0900000000000000004058010000006471065802000000c3a9710758010000006571' +
      '088a060000000000ff5802000000733171095d710a284b014b026558020000007332710b680a580100000066710c635f636f' +
      '646563730a656e636f64650a710d58020000007879710e58060000006c6174696e31710f867110527111752e';
    const bytes = Uint8Array.from(hex.match(/../g)!.map((h) => Number.parseInt(h, 16)));
    const value = unpickle(bytes) as Map<string, unknown>;
    expect(value.get('a')).toEqual([1, -2, 300, 70000]);
    expect(value.get('b')).toEqual([1.5, null, true]);
    expect(value.get('c')).toBe(2n ** 70n);
    expect(value.get('d')).toBe('é');
    expect(value.get('e')).toBe(-(2 ** 40));
    expect(value.get('s1')).toEqual([1, 2]);
    expect(value.get('s2')).toBe(value.get('s1'));
    expect(value.get('f')).toEqual(new Uint8Array([0x78, 0x79]));
  });

  it('reports an unknown opcode with its byte position', () => {
    expect(() => unpickle(new Uint8Array([0x80, 0x02, 0xff]))).toThrow(/opcode 0xff at byte 2/);
  });
});
