"""Generate test/golden/optimizer/: several optimizer steps by PyTorch's own torch.optim.

    /usr/bin/python3 tools/golden/make_optimizer_golden.py [--out test/golden/optimizer]

pstc's optimizer (backends/webgpu/kernels/optimizer.ts, src/train/optimizer.ts) claims to be
torch.optim.AdamW / torch.optim.SGD with the official Swin/PST recipe around them. Each case here
runs that recipe with PyTorch itself, in float64 on float32 inputs:

  - parameter groups as the official Swin code's `set_weight_decay`: no weight decay on 1-D
    tensors (norm weights, biases), on names ending in `.bias`, nor on relative-position bias
    tables (a 2-D tensor excluded by name);
  - gradients given per step (seeded), clipped by torch.nn.utils.clip_grad_norm_ (global norm);
  - the learning rate from torch.optim.lr_scheduler: LinearLR warm-up from lr/warmup to lr over
    `warmup` steps, then CosineAnnealingLR (T_max = steps - warmup, eta_min = min_lr), joined by
    SequentialLR (plain CosineAnnealingLR without a warm-up).

A case folder holds case.json (the settings, the parameters' names and shapes and which decay by
that rule, the lr of every step as the scheduler gave it, the clipped global norm of every step)
and tensors.safetensors (F32): `init/NAME` the starting values, `grad/S/NAME` the gradient of step S
(before clipping), `param/S/NAME` the values after step S, computed in float64 and rounded to
float32. Everything is seeded: rerunning rewrites the same bytes (on the same torch build).
"""
import argparse
import json
import os
import sys
import warnings

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_golden import write_safetensors  # noqa: E402

# A small slice of a PST model's parameters, named as pstc names them: every kind the decay rule
# tells apart (a conv and linear weights decay; norm weights, biases and a 2-D bias table do not).
PARAMS = [
    ('patch_embed.proj.weight', (4, 3, 2, 2, 2)),
    ('patch_embed.proj.bias', (4,)),
    ('patch_embed.norm.weight', (4,)),
    ('patch_embed.norm.bias', (4,)),
    ('layers.0.blocks.0.attn.relative_position_bias_table', (9, 2)),
    ('layers.0.blocks.0.attn.qkv.weight', (12, 4)),
    ('layers.0.blocks.0.attn.qkv.bias', (12,)),
    ('cls_head.fc_cls.weight', (5, 4)),
    ('cls_head.fc_cls.bias', (5,)),
]

# Global gradient norm of each step before clipping: some above the clip norm, some below.
NORMS = [3.0, 0.5, 2.0, 0.25, 5.0, 1.5, 0.8]

CASES = [
    {'name': 'adamw_warmup_cosine_clip', 'optimizer': 'adamw', 'lr': 0.01, 'weight_decay': 0.05, 'betas': [0.9, 0.999],
     'eps': 1e-8, 'steps': 7, 'warmup': 2, 'min_lr': 1e-4, 'clip_grad': 1.0},
    {'name': 'adamw_cosine', 'optimizer': 'adamw', 'lr': 0.003, 'weight_decay': 0.5, 'betas': [0.8, 0.99],
     'eps': 1e-6, 'steps': 5, 'warmup': 0, 'min_lr': 0.0, 'clip_grad': 0.0},
    {'name': 'sgd_momentum_warmup_clip', 'optimizer': 'sgd', 'lr': 0.1, 'weight_decay': 1e-2, 'momentum': 0.9,
     'nesterov': False, 'steps': 7, 'warmup': 3, 'min_lr': 1e-3, 'clip_grad': 1.0},
    {'name': 'sgd_nesterov', 'optimizer': 'sgd', 'lr': 0.05, 'weight_decay': 1e-3, 'momentum': 0.8,
     'nesterov': True, 'steps': 6, 'warmup': 1, 'min_lr': 0.0, 'clip_grad': 0.0},
    {'name': 'sgd_plain', 'optimizer': 'sgd', 'lr': 0.2, 'weight_decay': 0.1, 'momentum': 0.0,
     'nesterov': False, 'steps': 4, 'warmup': 0, 'min_lr': 0.01, 'clip_grad': 2.0},
]


def decays_official(name, shape):
    """The official Swin `set_weight_decay`: skip 1-D tensors, `.bias`, and the bias tables."""
    return not (len(shape) == 1 or name.endswith('.bias') or 'relative_position_bias_table' in name)


def schedule(opt, case):
    warnings.simplefilter('ignore')  # SequentialLR's deprecation chatter on torch 1.13
    sched = torch.optim.lr_scheduler
    cosine = sched.CosineAnnealingLR(opt, T_max=case['steps'] - case['warmup'], eta_min=case['min_lr'])
    if case['warmup'] == 0:
        return cosine
    w = case['warmup']
    warm = sched.LinearLR(opt, start_factor=1 / w, end_factor=1.0, total_iters=max(1, w - 1))
    return sched.SequentialLR(opt, [warm, cosine], milestones=[w])


def make_case(out_dir, case, seed):
    rng = np.random.default_rng(seed)
    init = {n: rng.uniform(-1, 1, size=s).astype(np.float32) for n, s in PARAMS}
    params = {n: torch.nn.Parameter(torch.from_numpy(v.astype(np.float64))) for n, v in init.items()}
    decay = [p for n, p in params.items() if decays_official(n, p.shape)]
    no_decay = [p for n, p in params.items() if not decays_official(n, p.shape)]
    groups = [{'params': decay, 'weight_decay': case['weight_decay']}, {'params': no_decay, 'weight_decay': 0.0}]
    if case['optimizer'] == 'adamw':
        opt = torch.optim.AdamW(groups, lr=case['lr'], betas=tuple(case['betas']), eps=case['eps'])
    else:
        opt = torch.optim.SGD(groups, lr=case['lr'], momentum=case['momentum'], nesterov=case['nesterov'])
    sched = schedule(opt, case)
    tensors = {f'init/{n}': torch.from_numpy(v) for n, v in init.items()}
    lrs, norms = [], []
    for step in range(case['steps']):
        raw = {n: rng.standard_normal(size=s).astype(np.float32) for n, s in PARAMS}
        total = np.sqrt(sum(float((g.astype(np.float64) ** 2).sum()) for g in raw.values()))
        grads = {n: (g * (NORMS[step % len(NORMS)] / total)).astype(np.float32) for n, g in raw.items()}
        for n, g in grads.items():
            tensors[f'grad/{step}/{n}'] = torch.from_numpy(g)
            params[n].grad = torch.from_numpy(g.astype(np.float64))
        if case['clip_grad'] > 0:
            norms.append(float(torch.nn.utils.clip_grad_norm_(list(params.values()), case['clip_grad'])))
        else:
            norms.append(float(torch.sqrt(sum((p.grad ** 2).sum() for p in params.values()))))
        lrs.append(opt.param_groups[0]['lr'])
        opt.step()
        sched.step()
        for n, p in params.items():
            tensors[f'param/{step}/{n}'] = p.detach().clone()
    folder = os.path.join(out_dir, case['name'])
    os.makedirs(folder, exist_ok=True)
    meta = {
        **case,
        'seed': seed,
        'torch': torch.__version__,
        'params': [{'name': n, 'shape': list(s), 'decay': decays_official(n, s)} for n, s in PARAMS],
        'lr_per_step': lrs,
        'grad_norm_per_step': norms,
    }
    with open(os.path.join(folder, 'case.json'), 'w') as f:
        json.dump(meta, f, indent=1)
        f.write('\n')
    write_safetensors(os.path.join(folder, 'tensors.safetensors'), tensors)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    root = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..'))
    parser.add_argument('--out', default=os.path.join(root, 'test', 'golden', 'optimizer'))
    args = parser.parse_args()
    torch.set_num_threads(1)
    for seed, case in enumerate(CASES, start=1):
        make_case(args.out, case, seed)


if __name__ == '__main__':
    main()
