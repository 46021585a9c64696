#!/usr/bin/python3
"""Regenerates test/fixtures/weights/: checkpoints written by real PyTorch (and NumPy) that the
TypeScript readers in src/weights/ must understand.

Run with Debian's python (torch 1.13, numpy):  /usr/bin/python3 tools/make_pth_fixtures.py
Every file is a few kilobytes. Values are fixed (no randomness), except tiny_pst.pth, which is
seeded; its expected sums are written next to it.
"""
import json
import os
import struct
from collections import OrderedDict

import numpy as np
import torch
import torch.nn as nn

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'test', 'fixtures', 'weights')


def expected(tensors):
    """name -> shape and the float32 values a reader must produce (row-major)."""
    return {k: {'shape': list(v.shape), 'values': v.detach().float().flatten().tolist()} for k, v in tensors.items()}


def mixed_checkpoint():
    """Nested {'state_dict': ...} with float32/16/64, bfloat16, strided and offset views sharing one
    storage, an nn.Parameter, an int64 index buffer, and non-tensor metadata beside it."""
    base = torch.arange(12, dtype=torch.float32).reshape(3, 4) / 8 - 0.5
    sd = OrderedDict()
    sd['backbone.f32'] = torch.tensor([[0.25, -1.5, 3.0], [1e-7, -0.0, 1234.5]], dtype=torch.float32)
    sd['backbone.f16'] = torch.tensor([0.5, -1.25, 65504.0, 2 ** -24, -3 * 2 ** -20], dtype=torch.float16)
    sd['backbone.f64'] = torch.tensor([[1 / 3, -2 / 3], [1e-3, 12345.678]], dtype=torch.float64)
    sd['backbone.bf16'] = torch.tensor([1.0, -0.3359375, 3.0e20], dtype=torch.bfloat16)
    sd['backbone.base'] = base
    sd['backbone.transposed'] = base.t()            # strides (1, 4): not contiguous
    sd['backbone.offset'] = base[1:, 1:]            # storage offset 5, strides (4, 1)
    sd['backbone.param'] = nn.Parameter(torch.tensor([2.0, -2.0]))
    sd['backbone.layers.0.blocks.0.attn.relative_position_index'] = torch.arange(9, dtype=torch.int64).reshape(3, 3)
    checkpoint = {'meta': {'epoch': 3, 'note': 'fixture', 'numbers': [1, 2.5, None, True, 2 ** 70]},
                  'state_dict': sd}
    torch.save(checkpoint, os.path.join(OUT, 'mixed.pth'))
    return expected(sd)


def flat_state_dict():
    """A plain module state dict (an OrderedDict carrying `_metadata`), saved at the top level."""
    m = nn.Sequential(nn.Linear(3, 2), nn.LayerNorm(2))
    with torch.no_grad():
        m[0].weight.copy_(torch.tensor([[1.0, 2.0, 3.0], [-4.0, 5.5, 0.125]]))
        m[0].bias.copy_(torch.tensor([0.5, -0.5]))
    sd = m.state_dict()
    torch.save(sd, os.path.join(OUT, 'flat.pth'))
    return expected(sd)


# --- A tiny PST with the reference implementation's module structure (registration order is what
# fixes the state-dict order). Shapes only matter here; the forward pass is not needed.
class WindowAttention3D(nn.Module):
    def __init__(self, dim, heads, bias_frames, window):
        super().__init__()
        rows = (2 * bias_frames - 1) * (2 * window[1] - 1) * (2 * window[2] - 1)
        self.relative_position_bias_table = nn.Parameter(torch.zeros(rows, heads))
        n = window[1] * window[2]
        self.register_buffer('relative_position_index', torch.arange(n * n).reshape(1, n, n))
        self.register_buffer('relative_position_index_old', torch.arange(n * n).reshape(1, n, n))
        self.qkv = nn.Linear(dim, dim * 3, bias=True)
        self.attn_drop = nn.Dropout(0.0)
        self.proj = nn.Linear(dim, dim)
        self.proj_drop = nn.Dropout(0.0)
        nn.init.trunc_normal_(self.relative_position_bias_table, std=.02)


class Mlp(nn.Module):  # timm.models.layers.Mlp
    def __init__(self, dim, hidden):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)


class Block(nn.Module):
    def __init__(self, dim, heads, bias_frames, window, mlp_ratio):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = WindowAttention3D(dim, heads, bias_frames, window)
        self.drop_path = nn.Identity()
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))


class PatchMerging(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.reduction = nn.Linear(4 * dim, 2 * dim, bias=False)
        self.norm = nn.LayerNorm(4 * dim)


class BasicLayer(nn.Module):
    def __init__(self, dim, depth, heads, bias_frames, window, mlp_ratio, downsample):
        super().__init__()
        self.blocks = nn.ModuleList([Block(dim, heads, bias_frames, window, mlp_ratio) for _ in range(depth)])
        self.downsample = PatchMerging(dim) if downsample else None


class PatchEmbed3D(nn.Module):
    def __init__(self, patch, in_chans, dim):
        super().__init__()
        self.proj = nn.Conv3d(in_chans, dim, kernel_size=patch, stride=patch)
        self.norm = nn.LayerNorm(dim)


class TinyPST(nn.Module):
    """embed (1,2,2)→8, stages depth [2,1], heads [2,4], dims [8,16], window (1,3,3), bias frames 2, mlp ratio 2."""

    def __init__(self):
        super().__init__()
        self.patch_embed = PatchEmbed3D((1, 2, 2), 3, 8)
        self.pos_drop = nn.Dropout(0.0)
        self.layers = nn.ModuleList([
            BasicLayer(8, 2, 2, 2, (1, 3, 3), 2.0, True),
            BasicLayer(16, 1, 4, 2, (1, 3, 3), 2.0, False),
        ])
        self.norm = nn.LayerNorm(16)


def tiny_pst():
    torch.manual_seed(0)
    backbone = TinyPST()
    head = nn.Linear(16, 5)
    sd = OrderedDict(('backbone.' + k, v) for k, v in backbone.state_dict().items())
    sd['cls_head.fc_cls.weight'] = head.weight.detach()
    sd['cls_head.fc_cls.bias'] = head.bias.detach()
    torch.save({'meta': {'epoch': 1}, 'state_dict': sd}, os.path.join(OUT, 'tiny_pst.pth'))
    params = [(k, list(v.shape), float(v.double().sum())) for k, v in backbone.named_parameters()]
    params += [('cls_head.fc_cls.weight', [5, 16], float(head.weight.double().sum())),
               ('cls_head.fc_cls.bias', [5], float(head.bias.double().sum()))]
    return {'parameters': [{'name': n, 'shape': s, 'sum': t} for n, s, t in params],
            'state_dict_keys': list(sd.keys())}


def safetensors_file():
    """Written to the format's definition (8-byte header length, JSON header padded to 8, raw
    little-endian data): the `safetensors` package is not installed here."""
    tensors = OrderedDict()
    tensors['f32'] = torch.tensor([[1.5, -2.0], [0.1, 7.0]], dtype=torch.float32)
    tensors['f16'] = torch.tensor([0.5, -65504.0, 2 ** -24], dtype=torch.float16)
    tensors['bf16'] = torch.tensor([1.0, -0.3359375], dtype=torch.bfloat16)
    tensors['f64'] = torch.tensor([1 / 3], dtype=torch.float64)
    tensors['index'] = torch.arange(4, dtype=torch.int64)
    dtypes = {torch.float32: 'F32', torch.float16: 'F16', torch.bfloat16: 'BF16', torch.float64: 'F64', torch.int64: 'I64'}
    header, chunks, offset = {'__metadata__': {'format': 'pt'}}, [], 0
    for name, t in tensors.items():
        raw = (t.view(torch.int16) if t.dtype == torch.bfloat16 else t).numpy().tobytes()
        header[name] = {'dtype': dtypes[t.dtype], 'shape': list(t.shape), 'data_offsets': [offset, offset + len(raw)]}
        chunks.append(raw)
        offset += len(raw)
    text = json.dumps(header).encode()
    text += b' ' * ((8 - len(text) % 8) % 8)
    with open(os.path.join(OUT, 'mixed.safetensors'), 'wb') as f:
        f.write(struct.pack('<Q', len(text)) + text + b''.join(chunks))
    return expected({k: v for k, v in tensors.items() if k != 'index'})


def npy_files():
    a = (np.arange(24, dtype=np.float32).reshape(2, 3, 4) - 11.5) / 4
    np.save(os.path.join(OUT, 'f32.npy'), a)
    b = np.array([1 / 3, -1e10, 2.5], dtype=np.float64)
    np.save(os.path.join(OUT, 'f64.npy'), b)
    np.save(os.path.join(OUT, 'fortran.npy'), np.asfortranarray(np.ones((2, 3), dtype=np.float32)))
    np.save(os.path.join(OUT, 'int32.npy'), np.arange(3, dtype=np.int32))
    return {'f32': {'shape': list(a.shape), 'values': a.flatten().tolist()},
            'f64': {'shape': list(b.shape), 'values': b.astype(np.float32).tolist()}}


def main():
    os.makedirs(OUT, exist_ok=True)
    manifest = {
        'torch': torch.__version__,
        'mixed.pth': mixed_checkpoint(),
        'flat.pth': flat_state_dict(),
        'tiny_pst.pth': tiny_pst(),
        'mixed.safetensors': safetensors_file(),
        'npy': npy_files(),
    }
    with open(os.path.join(OUT, 'expected.json'), 'w') as f:
        json.dump(manifest, f, indent=1)
        f.write('\n')


if __name__ == '__main__':
    main()
