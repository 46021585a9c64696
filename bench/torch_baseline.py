"""PyTorch baseline for `pstc bench`: time the project's own PyTorch rendering of a model.

    node bin/pstc.js check models/pst-t.pst --json | \\
        python3 bench/torch_baseline.py --config - --warmup 1 --iters 3
    python3 bench/torch_baseline.py --check-golden test/golden/pst_tiny

The model is tools/golden/pst_torch.py (an independent rendering of
/work/shared/spec/pst-reference.md), built from a ModelConfig JSON, then run in float32 (or TF32,
or bfloat16 autocast) under torch.inference_mode(). `--check-golden` first shows that this float32
model computes the same function as the float64 goldens. Works with Debian's torch 1.13 on CPU
and with PyTorch 2.x on CUDA. A user's mistake ends with `torch_baseline: error[CODE]: ...` on
stderr and exit status 2, never a traceback.
"""
import argparse
import functools
import json
import os
import platform
import resource
import statistics
import sys
import time

# pst_torch and make_golden are imported from tools/golden/: leave no untracked __pycache__ there.
sys.dont_write_bytecode = True
ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
sys.path.insert(0, os.path.join(ROOT, 'tools', 'golden'))

# Relative error allowed by the spec for float32 (pst-reference.md), relative to max |reference|.
FLOAT32_TOLERANCE = 1e-4
# Upstream initialisation (pst-reference.md): timing does not depend on the values, but realistic
# magnitudes keep the softmax and GELU away from degenerate inputs.
INIT_STD = 0.02


class UserError(Exception):
    """A mistake in the command line or its inputs: reported as one line, never a traceback."""

    def __init__(self, code, message):
        super().__init__(message)
        self.code = code


# ----------------------------------------------------------------------------- arguments

def parse_args(argv):
    p = argparse.ArgumentParser(
        prog='torch_baseline.py',
        description='Time the PyTorch rendering of a pstc model (tools/golden/pst_torch.py) as the '
                    'baseline for `pstc bench`, or check it against a golden case.',
        epilog='Example: node bin/pstc.js check models/pst-t.pst --json | '
               'python3 bench/torch_baseline.py --config - --warmup 1 --iters 3')
    p.add_argument('--config', help='ModelConfig JSON, or the output of `pstc check --json`; - reads stdin')
    p.add_argument('--model', help='which model of a `pstc check --json` output (default: the first)')
    p.add_argument('--batch', type=int, help="clips per forward (default: the model's input.batch)")
    p.add_argument('--frames', type=int, help="frames per clip (default: the model's input.frames)")
    p.add_argument('--size', type=int, help="height = width (default: the model's input.size)")
    p.add_argument('--device', choices=['cpu', 'cuda'], default='cpu')
    p.add_argument('--dtype', choices=['float32', 'tf32', 'bf16'], default='float32',
                   help='float32: strict IEEE float32; tf32: TF32 matmuls and convolutions (CUDA only); '
                        'bf16: bfloat16 autocast over a float32 model')
    p.add_argument('--warmup', type=int, default=3, help='untimed forwards first (default 3)')
    p.add_argument('--iters', type=int, default=10, help='timed forwards (default 10)')
    p.add_argument('--train', action='store_true',
                   help='time training steps instead: forward, cross-entropy on random labels, backward, '
                        'AdamW (lr 1e-3, wd 0.05), as pstc bench --train')
    p.add_argument('--threads', type=int, help='CPU threads for torch (default: every core this process may use)')
    p.add_argument('--weights', help='safetensors file by the spec\'s state-dict names (default: random, seeded)')
    p.add_argument('--seed', type=int, default=0, help='seed for random weights and input (default 0)')
    p.add_argument('--json', action='store_true', help='print one JSON object instead of the text report')
    p.add_argument('--check-golden', nargs='+', metavar='DIR',
                   help='run test/golden/<case> folders in float32 and compare with their features.npy')
    p.add_argument('--tol', type=float, default=FLOAT32_TOLERANCE,
                   help=f'--check-golden: largest error accepted, relative to max |features| (default {FLOAT32_TOLERANCE:g})')
    args = p.parse_args(argv)
    if args.check_golden is None and args.config is None:
        p.error('one of --config or --check-golden is required')
    for name in ('batch', 'frames', 'size', 'iters', 'threads'):
        value = getattr(args, name)
        if value is not None and value < 1:
            p.error(f'--{name} must be at least 1')
    if args.warmup < 0:
        p.error('--warmup must be at least 0')
    return args


# ----------------------------------------------------------------------------- inputs

def read_json(path):
    try:
        if path == '-':
            return json.load(sys.stdin)
        with open(path, encoding='utf-8') as f:
            return json.load(f)
    except OSError as e:
        raise UserError('BENCH001', f'cannot read {path}: {e.strerror}')
    except json.JSONDecodeError as e:
        raise UserError('BENCH002', f'{"stdin" if path == "-" else path} is not JSON: {e}')


def pick_model(doc, name):
    """A ModelConfig as it is, or one model of `pstc check --json`'s {models, sweeps, diagnostics}."""
    if isinstance(doc, dict) and 'stages' in doc:
        models = [doc]
    elif isinstance(doc, dict) and isinstance(doc.get('models'), list):
        models = doc['models']
        errors = [d for d in doc.get('diagnostics', []) if d.get('severity') == 'error']
        if errors and not models:
            first = errors[0]
            raise UserError('BENCH003', f'pstc reported {len(errors)} error(s), first: '
                                        f'{first.get("code", "?")} {first.get("message", "")}')
    else:
        raise UserError('BENCH004', 'the config is neither a ModelConfig nor the output of `pstc check --json`')
    if not models:
        raise UserError('BENCH005', 'the config holds no model')
    if name is None:
        return models[0]
    for m in models:
        if m.get('name') == name:
            return m
    raise UserError('BENCH006', f'no model named {name!r}; there are: {", ".join(str(m.get("name")) for m in models)}')


def checkpoint_tensors(path, torch):
    """safetensors weights as float32 tensors, with a training framework's prefixes and the derived
    index buffers dropped (pst-reference.md: they are recomputed, never loaded)."""
    import make_golden  # the project's reader of the safetensors layout (F32, F64)
    try:
        raw = make_golden.read_safetensors(path)
    except OSError as e:
        raise UserError('BENCH001', f'cannot read {path}: {e.strerror}')
    except KeyError as e:
        raise UserError('BENCH007', f'{path}: tensor dtype {e} is not supported (F32 or F64)')
    except ValueError as e:
        raise UserError('BENCH007', f'{path} is not a readable safetensors file: {e}')
    out = {}
    for name, array in raw.items():
        if name.endswith('relative_position_index') or name.endswith('relative_position_index_old'):
            continue
        if name.startswith('backbone.'):
            name = name[len('backbone.'):]
        out[name] = torch.from_numpy(array.copy()).float()
    return out


# ----------------------------------------------------------------------------- the model

def adapt_rendering(pt, device):
    """pst_torch builds its window mask (float64) and bias indices on the CPU at every forward: it
    was written for float64 goldens. Here the mask takes the activations' dtype and device, and
    both are cached on the device, as upstream keeps the index in a buffer; else a float32 model
    would be promoted to float64 at the mask, and a CUDA model would copy from the host per block."""
    mask = pt.compute_mask
    index2d = pt.relative_position_index_2d.__wrapped__
    index3d = pt.relative_position_index_3d.__wrapped__

    @functools.lru_cache()
    def compute_mask(*args):
        return mask(*args).float().to(device)

    @functools.lru_cache()
    def relative_position_index_2d(*args):
        return index2d(*args).to(device)

    @functools.lru_cache()
    def relative_position_index_3d(*args):
        return index3d(*args).to(device)

    pt.compute_mask = compute_mask
    pt.relative_position_index_2d = relative_position_index_2d
    pt.relative_position_index_3d = relative_position_index_3d


def init_upstream(model, torch, nn):
    """Upstream's initialisation: Linear weights and bias tables truncated normal, biases 0, LN 1/0."""
    with torch.no_grad():
        for name, param in model.named_parameters():
            if name.endswith('relative_position_bias_table') or (name.endswith('.weight') and param.dim() >= 2):
                nn.init.trunc_normal_(param, std=INIT_STD, a=-2 * INIT_STD, b=2 * INIT_STD)
            elif name.endswith('.bias'):
                param.zero_()
        for mod in model.modules():
            if isinstance(mod, nn.LayerNorm):
                mod.weight.fill_(1)
                mod.bias.zero_()


def build_model(pt, torch, config, state_dict, device, seed):
    try:
        model = pt.SwinTransformer3D(config)
    except (KeyError, TypeError) as e:
        raise UserError('BENCH008', f'the config is not a complete ModelConfig (missing or bad {e})')
    except ValueError as e:
        raise UserError('BENCH009', f'pst_torch cannot render this model: {e}')
    if state_dict is None:
        torch.manual_seed(seed)
        init_upstream(model, torch, torch.nn)
    else:
        wanted = model.state_dict()
        missing = sorted(set(wanted) - set(state_dict))
        extra = sorted(set(state_dict) - set(wanted))
        wrong = sorted(k for k in wanted if k in state_dict and tuple(wanted[k].shape) != tuple(state_dict[k].shape))
        if missing or extra or wrong:
            parts = [f'{label} {len(names)} (first: {names[0]})'
                     for label, names in (('missing', missing), ('unexpected', extra), ('wrong shape', wrong)) if names]
            raise UserError('BENCH010', 'the weights do not fit the model: ' + '; '.join(parts))
        model.load_state_dict(state_dict, strict=True)
    return model.float().to(device).eval()


def set_precision(torch, dtype, device):
    """float32 means IEEE float32 on CUDA too (cuDNN convolutions default to TF32)."""
    if dtype == 'tf32' and device != 'cuda':
        raise UserError('BENCH011', '--dtype tf32 needs --device cuda')
    if device != 'cuda':
        return
    tf32 = dtype == 'tf32'
    if hasattr(torch.backends.cuda.matmul, 'fp32_precision'):  # PyTorch >= 2.9
        torch.backends.cuda.matmul.fp32_precision = 'tf32' if tf32 else 'ieee'
        torch.backends.cudnn.conv.fp32_precision = 'tf32' if tf32 else 'ieee'
    else:
        torch.backends.cuda.matmul.allow_tf32 = tf32
        torch.backends.cudnn.allow_tf32 = tf32


def run_model(torch, model, clip, dtype, device):
    """One forward. torch's own refusals (no bf16 kernel for an op on this device, out of memory)
    are the environment's limits, not bugs of this script: report them in one line."""
    try:
        with autocast(torch, dtype, device):
            return model(clip)
    except RuntimeError as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise UserError('BENCH017', f'torch {torch.__version__} cannot run this model in {dtype} on {device}: {first}')


def autocast(torch, dtype, device):
    if dtype == 'bf16':
        return torch.autocast(device_type=device, dtype=torch.bfloat16)
    return torch.autocast(device_type=device, enabled=False)


def prepare_torch(args):
    try:
        import torch
    except ImportError:
        raise UserError('BENCH012', 'PyTorch is not installed for this python (Debian: apt install python3-torch)')
    if args.device == 'cuda' and not torch.cuda.is_available():
        raise UserError('BENCH013', '--device cuda, but torch sees no CUDA device')
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    else:
        # Debian's torch starts with one OpenMP thread on some machines; use every allowed core.
        torch.set_num_threads(len(os.sched_getaffinity(0)))
    set_precision(torch, args.dtype, args.device)
    import pst_torch as pt
    adapt_rendering(pt, args.device)
    return torch, pt


# ----------------------------------------------------------------------------- timing

def device_name(torch, device):
    if device == 'cuda':
        return torch.cuda.get_device_name()
    try:
        with open('/proc/cpuinfo', encoding='utf-8') as f:
            for line in f:
                if line.startswith('model name'):
                    return line.split(':', 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def run_bench(args, torch, pt):
    config = pick_model(read_json(args.config), args.model)
    defaults = config.get('input') or {}
    batch = args.batch or defaults.get('batch', 1)
    frames = args.frames or defaults.get('frames')
    size = args.size or defaults.get('size')
    if frames is None or size is None:
        raise UserError('BENCH014', 'the config has no input size: give --frames and --size')
    weights = checkpoint_tensors(args.weights, torch) if args.weights else None
    model = build_model(pt, torch, config, weights, args.device, args.seed)

    generator = torch.Generator().manual_seed(args.seed)
    clip = torch.randn(batch, config['embed']['inChannels'], frames, size, size, generator=generator)
    clip = clip.to(args.device)
    try:
        pt.check_input(config, clip)
    except ValueError as e:
        raise UserError('BENCH015', str(e))

    def forward():
        run_model(torch, model, clip, args.dtype, args.device)
        if args.device == 'cuda':
            torch.cuda.synchronize()

    if args.train:
        classes = config['head']['classes'] if config.get('head') else None
        if classes is None:
            raise UserError('BENCH016', '--train needs a model with a classification head')
        model.train()
        labels = torch.randint(0, classes, (batch,), generator=generator).to(args.device)
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.05)

        def forward():  # noqa: F811 — one training step
            optimizer.zero_grad(set_to_none=True)
            _, logits = model(clip)
            torch.nn.functional.cross_entropy(logits.float(), labels, label_smoothing=0.1).backward()
            optimizer.step()
            if args.device == 'cuda':
                torch.cuda.synchronize()

    log = (lambda msg: print(msg, file=sys.stderr)) if args.json else (lambda msg: print(msg, flush=True))
    log(f'{config.get("name", "model")}: {batch}x{clip.shape[1]}x{frames}x{size}x{size}, {args.dtype} on '
        f'{args.device}, {torch.get_num_threads()} thread(s), warmup {args.warmup}, iters {args.iters}')
    times, cpu_times = [], []
    with (torch.enable_grad() if args.train else torch.inference_mode()):
        for _ in range(args.warmup):
            forward()
        if args.device == 'cuda':
            torch.cuda.reset_peak_memory_stats()
        for i in range(args.iters):
            start, cpu_start = time.perf_counter(), time.process_time()
            forward()
            times.append((time.perf_counter() - start) * 1000)
            # CPU seconds of this process, all its threads: on a shared machine, wall time tells
            # the load as much as the work; CPU time per forward does not depend on the load.
            cpu_times.append((time.process_time() - cpu_start) * 1000)
            if not args.json and args.device == 'cpu':
                log(f'  iter {i + 1}/{args.iters}: {times[-1]:.1f} ms')

    if args.device == 'cuda':
        peak, peak_kind = torch.cuda.max_memory_allocated(), 'torch.cuda.max_memory_allocated'
    else:
        # ru_maxrss is KiB on Linux: the whole process (interpreter, libraries, model, activations)
        peak, peak_kind = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024, 'ru_maxrss'
    median = statistics.median(times)
    return {
        'model': config.get('name'),
        'input': [batch, clip.shape[1], frames, size, size],
        'device': args.device,
        'deviceName': device_name(torch, args.device),
        'dtype': args.dtype,
        'mode': 'train' if args.train else 'forward',
        'threads': torch.get_num_threads(),
        'torch': torch.__version__,
        'python': platform.python_version(),
        'weights': args.weights or f'random (seed {args.seed})',
        'warmup': args.warmup,
        'iters': args.iters,
        'msMedian': median,
        'msMin': min(times),
        'msMax': max(times),
        'msAll': times,
        'clipsPerSecond': batch * 1000 / median,
        'cpuMsMedian': statistics.median(cpu_times),
        'peakMemoryBytes': peak,
        'peakMemoryKind': peak_kind,
        'loadAverage': list(os.getloadavg()),
    }


def print_bench(r):
    gib = r['peakMemoryBytes'] / 2 ** 30
    print(f'torch {r["torch"]} on {r["deviceName"]} ({r["device"]}, {r["threads"]} threads), {r["dtype"]}')
    print(f'input {"x".join(map(str, r["input"]))}: median {r["msMedian"]:.1f} ms '
          f'(min {r["msMin"]:.1f}, max {r["msMax"]:.1f}, {r["iters"]} iters), {r["clipsPerSecond"]:.3f} clips/s')
    print(f'process CPU time per forward (median) {r["cpuMsMedian"]:.1f} ms')
    print(f'peak memory {gib:.2f} GiB ({r["peakMemoryKind"]}); load average {r["loadAverage"][0]:.2f}')


# ----------------------------------------------------------------------------- golden check

def check_golden(args, torch, pt, case_dir):
    """Run one golden case in this script's precision and compare with its float64 results."""
    import numpy as np
    config = pick_model(read_json(os.path.join(case_dir, 'config.json')), None)
    weights = checkpoint_tensors(os.path.join(case_dir, 'weights.safetensors'), torch)
    model = build_model(pt, torch, config, weights, args.device, args.seed)
    try:
        clip = torch.from_numpy(np.load(os.path.join(case_dir, 'input.npy'))).to(args.device)
        features_ref = np.load(os.path.join(case_dir, 'features.npy')).astype(np.float64)
        logits_path = os.path.join(case_dir, 'logits.npy')
        logits_ref = np.load(logits_path).astype(np.float64) if os.path.exists(logits_path) else None
    except OSError as e:
        raise UserError('BENCH001', f'{case_dir}: {e}')
    with torch.inference_mode():
        features, logits = run_model(torch, model, clip, args.dtype, args.device)

    def error(got, ref):
        got = got.float().cpu().numpy().astype(np.float64)
        if got.shape != ref.shape:
            raise UserError('BENCH016', f'{case_dir}: shape {got.shape}, golden {ref.shape}')
        return float(np.abs(got - ref).max() / np.abs(ref).max())

    result = {'case': os.path.basename(os.path.normpath(case_dir)), 'dtype': args.dtype, 'device': args.device,
              'featuresRelError': error(features, features_ref)}
    if logits_ref is not None and logits is not None:
        result['logitsRelError'] = error(logits, logits_ref)
    result['ok'] = all(v <= args.tol for k, v in result.items() if k.endswith('RelError'))
    return result


# ----------------------------------------------------------------------------- main

def main(argv):
    args = parse_args(argv)
    try:
        torch, pt = prepare_torch(args)  # once: it adapts pst_torch's helpers in place
        if args.check_golden is not None:
            results = [check_golden(args, torch, pt, d) for d in args.check_golden]
            if args.json:
                print(json.dumps({'tolerance': args.tol, 'cases': results}, indent=2))
            else:
                for r in results:
                    logits = f', logits {r["logitsRelError"]:.2e}' if 'logitsRelError' in r else ''
                    print(f'{"ok  " if r["ok"] else "FAIL"} {r["case"]}: {r["dtype"]} on {r["device"]}, '
                          f'max error / max |golden|: features {r["featuresRelError"]:.2e}{logits} '
                          f'(tolerance {args.tol:g})')
            return 0 if all(r['ok'] for r in results) else 1
        result = run_bench(args, torch, pt)
        if args.json:
            print(json.dumps(result, indent=2))
        else:
            print_bench(result)
        return 0
    except UserError as e:
        print(f'torch_baseline: error[{e.code}]: {e}', file=sys.stderr)
        return 2


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
