"""How sensitive are the goldens? Re-run pst_torch.py with one plausible misreading of the spec at a
time and print how far the backbone output moves, relative to max |features| of the golden.
A test at relative error 1e-4 catches every line whose number is well above 1e-4.

    /usr/bin/python3 tools/golden/sensitivity.py
"""
import json
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import make_golden as mg  # noqa: E402
import pst_torch as pt  # noqa: E402

GOLDEN = os.path.join(HERE, '..', '..', 'test', 'golden')


def distance(case, patches=()):
    """max |features - golden| / max |golden| with (object, attribute, replacement) patches applied."""
    folder = os.path.join(GOLDEN, case)
    with open(os.path.join(folder, 'config.json')) as f:
        config = json.load(f)
    weights = {k: torch.from_numpy(v.copy()) for k, v in mg.read_safetensors(os.path.join(folder, 'weights.safetensors')).items()}
    clip = torch.from_numpy(np.load(os.path.join(folder, 'input.npy'))).double()
    golden = np.load(os.path.join(folder, 'features.npy'))
    saved = [(obj, name, getattr(obj, name)) for obj, name, _ in patches]
    for obj, name, value in patches:
        setattr(obj, name, value)
    try:
        with torch.no_grad():
            features, _ = pt.build(config, weights)(clip)
    finally:
        for obj, name, value in saved:
            setattr(obj, name, value)
    return np.abs(features.numpy() - golden).max() / np.abs(golden).max()


def main():
    torch.set_num_threads(1)
    index = pt.relative_position_index_2d.__wrapped__  # uncached, so patches see fresh indices
    mask, shift, cat, gelu = pt.compute_mask, pt.shift_frames, torch.cat, F.gelu

    def swapped_merge(xs, dim=-1):
        xs = list(xs)
        return cat([xs[0], xs[2], xs[1], xs[3]] if len(xs) == 4 else xs, dim)

    def all_heads(init):
        return lambda self, grid, ratio, boundary, inv=False: init(self, grid, 1, boundary, inv)

    rows = [
        ('pst_tiny', 'as generated (float32 rounding only)', []),
        ('pst_tiny', 'TCS blocks with Δd = 0 instead of f',
         [(pt, 'relative_position_index_2d', lambda tb, w, t, g: index(tb, w, t, g) if g else index(tb, w, t, g)[:1].expand(tb, -1, -1))]),
        ('pst_tiny', 'TPS blocks with the unshifted index (Δd = f)',
         [(pt, 'relative_position_index_2d', lambda tb, w, t, g: index(tb, w, t, None))]),
        ('pst_tiny', 'no SW-MSA mask', [(pt, 'compute_mask', lambda *a: mask(*a) * 0)]),
        ('pst_tiny', 'GELU tanh approximation', [(F, 'gelu', lambda x: gelu(x, approximate='tanh'))]),
        ('pst_tiny', 'patch merging order x0,x2,x1,x3', [(torch, 'cat', swapped_merge)]),
        ('pst_tiny', 'TCS edge frames wrap around (cyclic)',
         [(pt, 'shift_frames', lambda x, s, d, b: shift(x, s, d, 'cyclic'))]),
        ('pst_tiny', 'no TPS shift back', [(pt.PatchShift, 'forward',
                                            (lambda fwd: lambda self, x, *a: x if self.inv else fwd(self, x, *a))(pt.PatchShift.forward))]),
        ('pst_tiny_ratio', 'TPS on all heads instead of floor(nH/2)', [(pt.PatchShift, '__init__', all_heads(pt.PatchShift.__init__))]),
        ('pst_tiny_ratio', 'zeros boundary read as cyclic', [(pt, 'shift_frames', lambda x, s, d, b: shift(x, s, d, 'cyclic'))]),
        ('pst_keep_noback', 'keep boundary read as cyclic', [(pt, 'shift_frames', lambda x, s, d, b: shift(x, s, d, 'cyclic'))]),
        ('pst_shrink_pad', 'bias offsets from the shrunk window (4x4), not the table (7x7)',
         [(pt, 'relative_position_index_2d', lambda tb, w, t, g: index(tb, w, w, g))]),
        ('video_swin_tiny', 'no 3-D mask', [(pt, 'compute_mask', lambda *a: mask(*a) * 0)]),
    ]
    for case, what, patches in rows:
        print(f'{case:16s} {what:62s} {distance(case, patches):.2e}')


if __name__ == '__main__':
    main()
