#!/usr/bin/env python3
"""Export the project's PyTorch rendering of a model (tools/golden/pst_torch.py, the paper's
Video-Swin-derived code) to ONNX with torch.onnx.export, for bench/onnx-compare.mjs: the same
model, weights and input size as pstc's own export, the other exporter.

  node bin/pstc.js check models/pst-t.pst --json | \\
    /usr/bin/python3 bench/torch_onnx_export.py --config - --frames 32 --size 224 --out pst-t.torch.onnx

Weights: random (upstream's initialisation, --seed), or --weights with the spec's state-dict names.
The file has one output, `logits` (the rendering returns (features, logits); before, the features
were exported too and misnamed `logits`).

Slow by nature with torch 1.13: the paper's shifts are in-place slice assignments
(`out[..., a::3, b::3, :] = roll(...)`), which the exporter turns into onnx::Placeholder subblocks;
converting each one (ConvertPatternFromSubblock -> NodeToONNX, single-threaded C++) costs time in
proportion to the whole graph converted so far (pytorch/pytorch#121422), so the conversion is
quadratic: ~10 min at 8x56 on a loaded 2-vCPU machine, more at 32x224. Neither tracing, constant
folding, the checker nor memory (~1 GB RSS) is the bottleneck. --no-shape-inference skips the
exporter's per-node ONNX shape inference (same logits, checked at 8x56) and saves part of the time.
"""
import argparse
import sys
import time

import torch_baseline as tb


def main(argv):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--config', required=True)
    p.add_argument('--model')
    p.add_argument('--batch', type=int, default=1)
    p.add_argument('--frames', type=int)
    p.add_argument('--size', type=int)
    p.add_argument('--weights')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--opset', type=int, default=17)
    p.add_argument('--no-shape-inference', action='store_true',
                   help="skip torch.onnx's per-node shape inference (torch.onnx.utils._export(onnx_shape_inference=False))")
    p.add_argument('--out', required=True)
    args = p.parse_args(argv)
    import torch
    import pst_torch as pt
    tb.adapt_rendering(pt, 'cpu')
    config = tb.pick_model(tb.read_json(args.config), args.model)
    frames = args.frames or config['input']['frames']
    size = args.size or config['input']['size']
    weights = tb.checkpoint_tensors(args.weights, torch) if args.weights else None
    model = tb.build_model(pt, torch, config, weights, 'cpu', args.seed)
    clip = torch.randn(args.batch, config['embed']['inChannels'], frames, size, size, generator=torch.Generator().manual_seed(args.seed))

    class Logits(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, x):
            return self.inner(x)[1]

    start = time.time()
    with torch.no_grad():
        torch.onnx.utils._export(Logits(model), (clip,), args.out, opset_version=args.opset, input_names=['clip'],
                                 output_names=['logits'], do_constant_folding=True,
                                 onnx_shape_inference=not args.no_shape_inference)
    print(f'wrote {args.out}: torch {torch.__version__}, opset {args.opset}, clip {tuple(clip.shape)}, '
          f'{time.time() - start:.0f} s')


if __name__ == '__main__':
    try:
        main(sys.argv[1:])
    except tb.UserError as e:
        sys.exit(f'torch_onnx_export: {e}')
