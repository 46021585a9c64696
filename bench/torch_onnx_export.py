#!/usr/bin/env python3
"""Export the project's PyTorch rendering of a model (tools/golden/pst_torch.py, the paper's
Video-Swin-derived code) to ONNX with torch.onnx.export, for bench/onnx-compare.mjs: the same
model, weights and input size as pstc's own export, the other exporter.

  node bin/pstc.js check models/pst-t.pst --json | \\
    /usr/bin/python3 bench/torch_onnx_export.py --config - --frames 32 --size 224 --out pst-t.torch.onnx

Weights: random (upstream's initialisation, --seed), or --weights with the spec's state-dict names.
"""
import argparse
import sys

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
    with torch.no_grad():
        torch.onnx.export(model, (clip,), args.out, opset_version=args.opset, input_names=['clip'], output_names=['logits'], do_constant_folding=True)
    print(f'wrote {args.out}: torch {torch.__version__}, opset {args.opset}, clip {tuple(clip.shape)}')


if __name__ == '__main__':
    try:
        main(sys.argv[1:])
    except tb.UserError as e:
        sys.exit(f'torch_onnx_export: {e}')
