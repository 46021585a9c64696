"""Generate the golden files under test/golden/ from tools/golden/pst_torch.py.

    /usr/bin/python3 tools/golden/make_golden.py [--out test/golden] [--check-only]

Each case gets a folder with config.json (a ModelConfig as in src/lang/model.ts), weights.safetensors,
input.npy, features.npy, logits.npy (when the model has a head), intermediates.safetensors and
meta.json; a case with a head also gets train.json (labels, label smoothing, loss) and
grads.safetensors (every parameter's gradient of that loss, by PyTorch autograd). Weights and input are drawn in float32; the model runs in float64 on exactly those
float32 values; outputs are rounded to float32 on the way out. Self-checks run first and abort on
failure. Everything is seeded: rerunning rewrites the same bytes (on the same torch build).
"""
import argparse
import json
import os
import struct
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pst_torch as pt  # noqa: E402

# Initialisation (see README.md): larger than upstream's 0.02 so that attention is far from
# uniform and every parameter, biases and LayerNorm affine included, moves the output.
LINEAR_STD = 0.2
TABLE_STD = 0.3
BIAS_STD = 0.1
LN_STD = 0.1

# Training goldens: mean cross-entropy with this label smoothing, drop_path 0 and dropout 0.
LABEL_SMOOTHING = 0.1

PATTERN_C = [[-4, 1, 2], [-1, 0, 3], [-2, -3, 4]]
PATTERN_2X2 = [[0, 1], [-1, 0]]


# ----------------------------------------------------------------------------- configs

def tps(name, grid, ratio=1, boundary='cyclic', shift_back=True):
    return {'kind': 'patch', 'name': name, 'grid': grid, 'ratio': ratio, 'boundary': boundary,
            'shiftBack': shift_back}


def tcs(name='tcs_eighth', fold=0.125, boundary='keep'):
    return {'kind': 'channel', 'name': name, 'fold': fold, 'boundary': boundary}


def stage(number, depth, dim, heads, shifts, *, attention='window2d', window=(1, 3, 3), bias_frames=16,
          shift_windows=True, merge='patch_merging'):
    """shifts: a list cycled over the blocks (alternate(a, b) = [a, b]; all(a) = [a])."""
    return {
        'number': number, 'depth': depth, 'dim': dim, 'heads': heads, 'attention': attention,
        'window': list(window), 'biasFrames': bias_frames, 'mlpRatio': 4, 'qkvBias': True,
        'dropout': 0, 'attnDropout': 0,
        'blocks': [{'index': j, 'shift': shifts[j % len(shifts)], 'shiftWindows': shift_windows and j % 2 == 1,
                    'dropPath': 0} for j in range(depth)],
        'merge': merge,
    }


def model(name, stages, *, frames=8, size=32, batch=2, dim=16, classes=10, patch=(2, 4, 4)):
    stages[-1]['merge'] = 'none'  # never after the last stage
    return {
        'name': name,
        'embed': {'patch': list(patch), 'dim': dim, 'norm': True, 'inChannels': 3},
        'stages': stages,
        'finalNorm': True,
        'head': {'pool': 'mean', 'dropout': 0.5, 'classes': classes} if classes else None,
        'input': {'frames': frames, 'size': size, 'batch': batch},
    }


def pst_tiny_config():
    pc = tps('pattern_c', PATTERN_C)
    return model('pst_tiny', [stage(1, 2, 16, 2, [tcs(), pc]), stage(2, 2, 32, 4, [tcs(), pc])])


def pst_t_config():
    """models/pst-t.pst: dim 96, depths 2-2-6-2, heads 3-6-12-24, (1, 7, 7) windows, alternate(tcs, tps)."""
    pc = tps('pattern_c', PATTERN_C)
    return model('pst_t', [stage(i + 1, d, 96 * 2 ** i, h, [tcs(), pc], window=(1, 7, 7))
                           for i, (d, h) in enumerate(zip([2, 2, 6, 2], [3, 6, 12, 24]))],
                 frames=32, size=224, batch=1, dim=96, classes=174)


def cases():
    """(config, note) per case."""
    out = []
    out.append((pst_tiny_config(),
                'PST as the paper: alternate(tcs, tps), pattern C (3x3, reach 4) on 3x3 windows, bias_frames 16 '
                '(Δd of TCS blocks = f, of TPS blocks = ((f-s_i) mod 16) - ((-s_j) mod 16)), TCS fold 1/8 keep, '
                'TPS cyclic with shift back; 8x8 and 4x4 maps padded to 9x9 and 6x6, window shift (0,1,1) with mask.'))

    p2 = tps('pattern_a2', PATTERN_2X2, ratio=0.5, boundary='zeros')
    t0 = tcs('tcs_zeros', boundary='zeros')
    out.append((model('pst_tiny_ratio', [stage(1, 2, 16, 2, [t0, p2], bias_frames=4),
                                         stage(2, 2, 32, 4, [t0, p2], bias_frames=4)], batch=1),
                'TPS on the first floor(nH*0.5) heads (1 of 2, 2 of 4) with a 2x2 grid tiled over 3x3 windows, '
                'boundary zeros (shift and shift back); TCS with zeros (TSM); bias_frames 4 = D.'))

    out.append((model('swin2d_tiny', [stage(1, 2, 8, 1, [None], bias_frames=1),
                                      stage(2, 2, 16, 2, [None], bias_frames=1),
                                      stage(3, 2, 32, 4, [None], bias_frames=1)], frames=4, size=40, batch=1,
                      dim=8),
                'Swin 2D: no temporal shift, 2-D bias table (Δd = 0). 10x10 map padded to 12x12; patch merging '
                'of an odd 5x5 map (padded to 6x6); stage 3 map 3x3 = window: no window shift.'))

    out.append((model('video_swin_tiny', [stage(1, 2, 16, 2, [None], attention='window3d', window=(2, 3, 3),
                                                bias_frames=2),
                                          stage(2, 2, 32, 4, [None], attention='window3d', window=(2, 3, 3),
                                                bias_frames=2)], batch=1),
                'Video Swin: 3-D windows 2x3x3 over D=4, shifted by (1,1,1) on odd blocks with the 3-D mask '
                '(regions along D too); table (2*2-1)*5*5.'))

    pk = tps('pattern_c_keep', PATTERN_C, boundary='keep', shift_back=False)
    out.append((model('pst_keep_noback', [stage(1, 2, 16, 2, [pk], bias_frames=8)], batch=1, classes=0),
                'all(tps) with boundary keep (a token whose source frame leaves the clip keeps its own value) and '
                'no shift back; one stage, no merging, no head (backbone only); bias_frames 8 > D = 4.'))

    pc = tps('pattern_c', PATTERN_C)
    out.append((model('pst_shrink_pad', [stage(1, 2, 8, 1, [tcs(), pc], window=(1, 7, 7), bias_frames=8),
                                         stage(2, 2, 16, 2, [tcs(), pc], window=(1, 7, 7), bias_frames=8)],
                      frames=7, size=14, batch=1, dim=8),
                'Input 7x14x14 zero-padded to 8x16x16 by the patch embedding (D=4, 4x4 tokens). Window (1,7,7) '
                'shrinks to the 4x4 (then 2x2) map, no window shift; pattern C tiled by position mod 3 over the '
                '4x4 window; bias table sized for 7x7 windows (13x13), indexed by true relative positions.'))
    return out


# ----------------------------------------------------------------------------- weights

def init_weights(model_, seed):
    """float32 state dict, drawn with the rules at the top of this file."""
    torch.manual_seed(seed)
    with torch.no_grad():
        for _, mod in model_.named_modules():
            if isinstance(mod, torch.nn.LayerNorm):
                mod.weight.copy_(1 + LN_STD * torch.randn_like(mod.weight))
                mod.bias.copy_(BIAS_STD * torch.randn_like(mod.bias))
            elif isinstance(mod, (torch.nn.Linear, torch.nn.Conv3d)):
                torch.nn.init.trunc_normal_(mod.weight, std=LINEAR_STD, a=-2 * LINEAR_STD, b=2 * LINEAR_STD)
                if mod.bias is not None:
                    mod.bias.copy_(BIAS_STD * torch.randn_like(mod.bias))
            elif isinstance(mod, pt.WindowAttention3D):
                t = mod.relative_position_bias_table
                torch.nn.init.trunc_normal_(t, std=TABLE_STD, a=-2 * TABLE_STD, b=2 * TABLE_STD)
    return {k: v.detach().float().clone() for k, v in model_.state_dict().items()}


# ----------------------------------------------------------------------------- file formats

def write_safetensors(path, tensors, dtype='F32'):
    """The safetensors layout, by hand: u64 little-endian header length, JSON header, raw data."""
    np_dtype = {'F32': '<f4', 'F64': '<f8'}[dtype]
    header, blobs, offset = {}, [], 0
    for name in sorted(tensors):
        data = np.ascontiguousarray(tensors[name].detach().cpu().numpy().astype(np_dtype)).tobytes()
        header[name] = {'dtype': dtype, 'shape': list(tensors[name].shape),
                        'data_offsets': [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(',', ':')).encode('utf-8')
    text += b' ' * ((8 - len(text) % 8) % 8)  # pad so the data starts 8-byte aligned
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(text)))
        f.write(text)
        for blob in blobs:
            f.write(blob)


def read_safetensors(path):
    with open(path, 'rb') as f:
        raw = f.read()
    (n,) = struct.unpack('<Q', raw[:8])
    header = json.loads(raw[8:8 + n])
    out = {}
    for name, info in header.items():
        if name == '__metadata__':
            continue
        begin, end = info['data_offsets']
        dt = {'F32': '<f4', 'F64': '<f8'}[info['dtype']]
        out[name] = np.frombuffer(raw[8 + n + begin:8 + n + end], dtype=dt).reshape(info['shape'])
    return out


# ----------------------------------------------------------------------------- self-checks

def check(cond, message):
    print(('ok    ' if cond else 'FAIL  ') + message)
    if not cond:
        raise SystemExit(1)


def self_checks():
    torch.manual_seed(0)
    # 1. TPS then its shift back is the identity (pattern C, cyclic), and TPS alone is not.
    x = torch.randn(2 * 4 * 9, 2, 9, 8, dtype=torch.float64)  # (B*D*nWin, nH, N, c), B=2, D=4, 3x3 windows
    fwd = pt.PatchShift(PATTERN_C, 1, 'cyclic')
    back = pt.PatchShift(PATTERN_C, 1, 'cyclic', inv=True)
    y = fwd(x, 2, 4, (3, 3))
    check(torch.equal(back(y, 2, 4, (3, 3)), x) and not torch.equal(y, x),
          'TPS (pattern C, cyclic) followed by its shift back is the identity; TPS alone is not')

    # 2. TPS position (h, w) of frame d reads frame (d - s) mod D: spot-check against the spec's table.
    xv = x.view(2, 4, -1, 2, 3, 3, 8)
    yv = y.view(2, 4, -1, 2, 3, 3, 8)
    ok = all(torch.equal(yv[:, d, :, :, h, w], xv[:, (d - PATTERN_C[h][w]) % 4, :, :, h, w])
             for d in range(4) for h in range(3) for w in range(3))
    check(ok, 'TPS: token (h, w) of frame d holds frame (d - grid[h][w]) mod D')

    # 3. keep / zeros boundaries of the frame shift.
    a = torch.arange(5.).view(1, 5)
    check(pt.shift_frames(a, 2, 1, 'keep').tolist() == [[0, 1, 0, 1, 2]]
          and pt.shift_frames(a, -2, 1, 'zeros').tolist() == [[2, 3, 4, 0, 0]]
          and pt.shift_frames(a, 7, 1, 'keep').tolist() == [[0, 1, 2, 3, 4]],
          'shift_frames: keep leaves out-of-clip frames as they are, zeros clears them')

    # 4. The index built upstream's way (rolled coordinates, [::Tb]) equals the spec's closed formula,
    #    on the implementation's own geometry (16 frames, 7x7, pattern C) and on the tiny one.
    for tb, wh, table in ((16, 7, 7), (16, 3, 3), (8, 4, 7)):
        for grid in (PATTERN_C, None):
            idx = pt.relative_position_index_2d(tb, (wh, wh), (table, table),
                                                None if grid is None else tuple(map(tuple, grid)))
            g = len(PATTERN_C)
            s = [PATTERN_C[h % g][w % g] if grid else 0 for h in range(wh) for w in range(wh)]
            expected = torch.empty_like(idx)
            for f in range(tb):
                for i in range(wh * wh):
                    for j in range(wh * wh):
                        dd = ((f - s[i]) % tb) - ((-s[j]) % tb) if grid else f
                        hi, wi, hj, wj = i // wh, i % wh, j // wh, j % wh
                        expected[f, i, j] = ((dd + tb - 1) * (2 * table - 1) ** 2 + (hi - hj + table - 1) * (2 * table - 1)
                                             + (wi - wj + table - 1))
            check(torch.equal(idx, expected),
                  f'bias index, Tb={tb} window {wh}x{wh} table {table}x{table} {"pattern C" if grid else "no shift"}: '
                  'upstream construction = spec formula')

    # 5. With all offsets 0, the TPS model equals the no-shift model (bias_frames 1, and 16 too).
    for tb in (1, 16):
        zero = tps('zero', [[0] * 3] * 3)
        shifted = model('z', [stage(1, 2, 16, 2, [zero], bias_frames=tb), stage(2, 2, 32, 4, [zero], bias_frames=tb)])
        plain = model('p', [stage(1, 2, 16, 2, [None], bias_frames=tb), stage(2, 2, 32, 4, [None], bias_frames=tb)])
        weights = init_weights(pt.SwinTransformer3D(plain), 1)
        clip = torch.randn(2, 3, 8, 32, 32).double()
        with torch.no_grad():
            f1, _ = pt.build(shifted, weights)(clip)
            f2, _ = pt.build(plain, weights)(clip)
        check((f1 - f2).abs().max().item() < 1e-12, f'TPS with all offsets 0 = no shift (bias_frames {tb})')

    # 6. The real PST-T has the spec's backbone parameter count.
    pst_t = {**pst_t_config(), 'head': None}  # the backbone alone
    n = sum(p.numel() for p in pt.SwinTransformer3D(pst_t).parameters())
    check(n == 28223622, f'PST-T backbone parameters: {n} (spec: 28,223,622)')

    # 7. PyTorch's label smoothing is the one the IR's cross_entropy states: target (1-e)*onehot + e/K.
    z = torch.randn(3, 5, dtype=torch.float64)
    y = torch.tensor([4, 0, 2])
    target = (1 - LABEL_SMOOTHING) * F.one_hot(y, 5).double() + LABEL_SMOOTHING / 5
    manual = -(target * torch.log_softmax(z, 1)).sum(1).mean()
    check(abs(F.cross_entropy(z, y, label_smoothing=LABEL_SMOOTHING).item() - manual.item()) < 1e-14,
          'cross_entropy(label_smoothing=e) = mean of -sum((1-e)*onehot + e/K) * log_softmax')


# ----------------------------------------------------------------------------- goldens

def make_case(out_dir, config, note, seed, large=False):
    """large: the forward only (no intermediates, no gradients), for PST-T at the paper's size."""
    case_dir = os.path.join(out_dir, config['name'])
    os.makedirs(case_dir, exist_ok=True)
    weights = init_weights(pt.SwinTransformer3D(config), seed)
    inp = config['input']
    torch.manual_seed(seed + 1000)
    clip = torch.randn(inp['batch'], config['embed']['inChannels'], inp['frames'], inp['size'], inp['size'])
    pt.check_input(config, clip)
    net = pt.build(config, weights)
    record = None if large else {}
    with torch.no_grad():
        features, logits = net(clip.double(), record)

    with open(os.path.join(case_dir, 'config.json'), 'w') as f:
        json.dump(config, f, indent=2)
        f.write('\n')
    write_safetensors(os.path.join(case_dir, 'weights.safetensors'), weights)
    np.save(os.path.join(case_dir, 'input.npy'), clip.numpy().astype('<f4'))
    np.save(os.path.join(case_dir, 'features.npy'), features.numpy().astype('<f4'))
    if logits is not None:
        np.save(os.path.join(case_dir, 'logits.npy'), logits.numpy().astype('<f4'))
    if record is not None:
        write_safetensors(os.path.join(case_dir, 'intermediates.safetensors'), record)

    # the files must read back as written
    back = read_safetensors(os.path.join(case_dir, 'weights.safetensors'))
    check(all(np.array_equal(back[k], weights[k].numpy()) for k in weights) and len(back) == len(weights),
          f'{config["name"]}: weights.safetensors reads back')

    meta = {
        'name': config['name'],
        'exercises': note,
        'seed': seed,
        'init': {'linearStd': LINEAR_STD, 'biasTableStd': TABLE_STD, 'biasStd': BIAS_STD,
                 'layerNormWeight': f'1 + {LN_STD}*randn', 'layerNormBias': f'{BIAS_STD}*randn'},
        'shapes': {'input': list(clip.shape), 'features': list(features.shape),
                   'logits': None if logits is None else list(logits.shape)},
        'maxAbs': {'input': clip.abs().max().item(), 'features': features.abs().max().item(),
                   'logits': None if logits is None else logits.abs().max().item()},
        'parameters': sum(v.numel() for v in weights.values()),
        'intermediates': {k: list(v.shape) for k, v in sorted((record or {}).items())},
    }
    with open(os.path.join(case_dir, 'meta.json'), 'w') as f:
        json.dump(meta, f, indent=2)
        f.write('\n')
    if logits is not None and not large:
        make_train_golden(case_dir, config, weights, clip, seed)
    print(f'wrote {case_dir}: features {tuple(features.shape)} max|.| {meta["maxAbs"]["features"]:.4f}'
          + ('' if logits is None else f', logits max|.| {meta["maxAbs"]["logits"]:.4f}'))


def make_train_golden(case_dir, config, weights, clip, seed):
    """The loss on seeded labels and every parameter's gradient (autograd, float64, stored F32)."""
    torch.manual_seed(seed + 2000)
    labels = torch.randint(config['head']['classes'], (clip.shape[0],))
    net = pt.build(config, weights)  # no dropout or drop_path modules: train mode with rates 0
    _, logits = net(clip.double())
    loss = F.cross_entropy(logits, labels, label_smoothing=LABEL_SMOOTHING)
    loss.backward()
    grads = {name: p.grad for name, p in net.named_parameters()}
    check(set(grads) == set(weights) and all(g is not None for g in grads.values()),
          f'{config["name"]}: a gradient for every parameter')
    write_safetensors(os.path.join(case_dir, 'grads.safetensors'), grads)
    train = {
        'labels': labels.tolist(),
        'labelSmoothing': LABEL_SMOOTHING,
        'loss': loss.item(),
        'maxAbsGrad': {k: v.abs().max().item() for k, v in sorted(grads.items())},
    }
    with open(os.path.join(case_dir, 'train.json'), 'w') as f:
        json.dump(train, f, indent=2)
        f.write('\n')


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    root = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..'))
    parser.add_argument('--out', default=os.path.join(root, 'test', 'golden'))
    parser.add_argument('--check-only', action='store_true', help='run the self-checks and stop')
    parser.add_argument('--pst-t', action='store_true',
                        help="write only PST-T at the paper's size (1x3x32x224^2, forward only, ~110 MB: not committed) "
                             'to OUT/pst_t, for the opt-in checks (PSTC_LARGE_GOLDENS=OUT)')
    args = parser.parse_args()
    torch.set_num_threads(1)
    self_checks()
    if args.check_only:
        return
    if args.pst_t:
        make_case(args.out, pst_t_config(), 'PST-T as models/pst-t.pst: 32x224^2, 7x7 windows, pattern C, 174 classes', 1,
                  large=True)
        return
    for seed, (config, note) in enumerate(cases(), start=1):
        make_case(args.out, config, note, seed)


if __name__ == '__main__':
    main()
