"""An independent PyTorch rendering of /work/shared/spec/pst-reference.md, in float64.

It is written the way the paper's public implementation (a Video Swin derived code base) computes
the model: the same module names (SwinTransformer3D, BasicLayer, SwinTransformerBlock3D,
WindowAttention3D, PatchMerging, PatchEmbed3D, PatchShift, TemporalShift), the same helpers
(window_partition, window_reverse, get_window_size, compute_mask) and the same tensor gymnastics
(views, permutes, torch.roll on strided slices), so that it shares no code path with the
TypeScript reference interpreter it is used to test. It generalises the implementation to the
configurations pstc supports; every generalisation is listed in check_against_official.md.

The model is driven by a JSON config shaped like src/lang/model.ts (ModelConfig). Eval mode only:
dropout and drop path are identity, so they are left out.
"""
from functools import lru_cache, reduce
from operator import mul

import torch
import torch.nn as nn
import torch.nn.functional as F

LN_EPS = 1e-5


# ----------------------------------------------------------------------------- window helpers

def window_partition(x, window_size):
    """(B, D, H, W, C) -> (B*num_windows, Wd*Wh*Ww, C); windows numbered ((b*nWd + d)*nWh + h)*nWw + w."""
    B, D, H, W, C = x.shape
    x = x.view(B, D // window_size[0], window_size[0], H // window_size[1], window_size[1],
               W // window_size[2], window_size[2], C)
    return x.permute(0, 1, 3, 5, 2, 4, 6, 7).contiguous().view(-1, reduce(mul, window_size), C)


def window_reverse(windows, window_size, B, D, H, W):
    """Inverse of window_partition: (B*num_windows, Wd*Wh*Ww, C) -> (B, D, H, W, C)."""
    x = windows.view(B, D // window_size[0], H // window_size[1], W // window_size[2],
                     window_size[0], window_size[1], window_size[2], -1)
    return x.permute(0, 1, 4, 2, 5, 3, 6, 7).contiguous().view(B, D, H, W, -1)


def get_window_size(x_size, window_size, shift_size):
    """Video Swin's rule: where the map is no larger than the window, the window shrinks to the map
    and the shift along that axis is 0."""
    use_window_size = list(window_size)
    use_shift_size = list(shift_size)
    for i in range(len(x_size)):
        if x_size[i] <= window_size[i]:
            use_window_size[i] = x_size[i]
            use_shift_size[i] = 0
    return tuple(use_window_size), tuple(use_shift_size)


def compute_mask(Dp, Hp, Wp, window_size, shift_size):
    """Swin's SW-MSA mask: regions by the slices [0, P-w), [P-w, P-s), [P-s, P) per axis; -100
    between tokens of a window that come from different regions. (num_windows, N, N)."""
    img_mask = torch.zeros((1, Dp, Hp, Wp, 1), dtype=torch.float64)
    cnt = 0
    # slice(-0, None) is the whole axis: an axis without shift ends with one label, as upstream.
    for d in slice(-window_size[0]), slice(-window_size[0], -shift_size[0]), slice(-shift_size[0], None):
        for h in slice(-window_size[1]), slice(-window_size[1], -shift_size[1]), slice(-shift_size[1], None):
            for w in slice(-window_size[2]), slice(-window_size[2], -shift_size[2]), slice(-shift_size[2], None):
                img_mask[:, d, h, w, :] = cnt
                cnt += 1
    mask_windows = window_partition(img_mask, window_size).squeeze(-1)
    attn_mask = mask_windows.unsqueeze(1) - mask_windows.unsqueeze(2)
    return attn_mask.masked_fill(attn_mask != 0, -100.0).masked_fill(attn_mask == 0, 0.0)


# ----------------------------------------------------------------------------- temporal shifts

def shift_frames(x, s, dim, boundary):
    """out[d] = x[d - s] along `dim` (torch.roll's convention). Where d - s leaves the clip:
    cyclic wraps around, keep leaves the frame's own value, zeros writes 0."""
    if s == 0:
        return x
    if boundary == 'cyclic':
        return torch.roll(x, shifts=s, dims=dim)
    n = x.shape[dim]
    out = x.clone() if boundary == 'keep' else torch.zeros_like(x)
    if abs(s) >= n:
        return out
    if s > 0:
        out.narrow(dim, s, n - s).copy_(x.narrow(dim, 0, n - s))
    else:
        out.narrow(dim, 0, n + s).copy_(x.narrow(dim, -s, n + s))
    return out


class PatchShift(nn.Module):
    """TPS: per pattern class (h mod g, w mod g) = (a, b), the first floor(nH*ratio) heads of a
    token read frame d - grid[a][b] (inv: d + grid[a][b]), as upstream's rolls on x[..., a::g, b::g, :]."""

    def __init__(self, grid, ratio, boundary, inv=False):
        super().__init__()
        self.grid = grid
        self.ratio = ratio
        self.boundary = boundary
        self.inv = inv

    def forward(self, x, batch_size, frame_len, window_hw):
        B_, num_heads, N, c = x.shape
        fold = int(num_heads * self.ratio)  # floor(nH * ratio), as upstream's int(...)
        feat = x.view(batch_size, frame_len, -1, num_heads, window_hw[0], window_hw[1], c)
        out = feat.clone()
        multiplier = -1 if self.inv else 1
        g = len(self.grid)
        for a in range(g):
            for b in range(g):
                s = self.grid[a][b] * multiplier
                out[:, :, :, :fold, a::g, b::g, :] = shift_frames(
                    feat[:, :, :, :fold, a::g, b::g, :], s, 1, self.boundary)
        return out.view(B_, num_heads, N, c)


class TemporalShift(nn.Module):
    """TCS (TSM's shift per head): channels [0, fold) from frame d-1, [fold, 2 fold) from d+1."""

    def __init__(self, fold, boundary):
        super().__init__()
        self.fold_ratio = fold
        self.boundary = boundary

    def forward(self, x, batch_size, frame_len):
        B_, num_heads, N, c = x.shape
        fold = int(c * self.fold_ratio)
        feat = x.view(batch_size, frame_len, -1, num_heads, N, c)
        out = feat.clone()
        out[..., :fold] = shift_frames(feat[..., :fold], 1, 1, self.boundary)
        out[..., fold:2 * fold] = shift_frames(feat[..., fold:2 * fold], -1, 1, self.boundary)
        return out.view(B_, num_heads, N, c)


# ----------------------------------------------------------------------------- relative positions

@lru_cache()
def relative_position_index_2d(bias_frames, window_hw, table_hw, grid):
    """(bias_frames, N, N) index into a ((2Tb-1)(2TH-1)(2TW-1), nH) table for window2d blocks.

    Built as upstream builds it: coordinates of a virtual Tb×wh×ww window, rolled along time per
    pattern class exactly as the tokens are (grid=None: not rolled), pairwise differences, then the
    slice [::Tb] that keeps (query frame f, key frame 0) pairs. `window_hw` is the (possibly shrunk)
    window, `table_hw` the configured one that sizes the table."""
    Tb, (wh, ww), (th, tw) = bias_frames, window_hw, table_hw
    coords = torch.stack(torch.meshgrid(torch.arange(Tb), torch.arange(wh), torch.arange(ww), indexing='ij'))
    if grid is not None:
        g = len(grid)
        for a in range(g):
            for b in range(g):
                coords[:, :, a::g, b::g] = torch.roll(coords[:, :, a::g, b::g], shifts=grid[a][b], dims=1)
    coords_flatten = torch.flatten(coords, 1)
    relative_coords = (coords_flatten[:, :, None] - coords_flatten[:, None, :]).permute(1, 2, 0).contiguous()
    relative_coords[:, :, 0] += Tb - 1
    relative_coords[:, :, 1] += th - 1
    relative_coords[:, :, 2] += tw - 1
    relative_coords[:, :, 0] *= (2 * th - 1) * (2 * tw - 1)
    relative_coords[:, :, 1] *= 2 * tw - 1
    index = relative_coords.sum(-1)
    N = wh * ww
    return index.view(Tb, N, Tb, N).permute(0, 2, 1, 3).reshape(Tb * Tb, N, N)[::Tb, :, :].contiguous()


@lru_cache()
def relative_position_index_3d(window, table_window):
    """(N, N) Video Swin index: Δ = position_i - position_j in the 3-D window."""
    coords = torch.stack(torch.meshgrid(*[torch.arange(n) for n in window], indexing='ij'))
    coords_flatten = torch.flatten(coords, 1)
    relative_coords = (coords_flatten[:, :, None] - coords_flatten[:, None, :]).permute(1, 2, 0).contiguous()
    td, th, tw = table_window
    relative_coords[:, :, 0] += td - 1
    relative_coords[:, :, 1] += th - 1
    relative_coords[:, :, 2] += tw - 1
    relative_coords[:, :, 0] *= (2 * th - 1) * (2 * tw - 1)
    relative_coords[:, :, 1] *= 2 * tw - 1
    return relative_coords.sum(-1)


# ----------------------------------------------------------------------------- modules

class WindowAttention3D(nn.Module):
    def __init__(self, dim, num_heads, window_size, attention, bias_frames, qkv_bias, shift):
        super().__init__()
        self.dim = dim
        self.num_heads = num_heads
        self.window_size = tuple(window_size)  # configured, before shrinking
        self.attention = attention
        self.bias_frames = bias_frames
        self.scale = (dim // num_heads) ** -0.5
        td = bias_frames if attention == 'window2d' else window_size[0]
        rows = (2 * td - 1) * (2 * window_size[1] - 1) * (2 * window_size[2] - 1)
        self.relative_position_bias_table = nn.Parameter(torch.zeros(rows, num_heads))
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)
        self.shift_kind = None if shift is None else shift['kind']
        self.shift_back = False
        self.grid = None
        if self.shift_kind == 'patch':
            self.grid = tuple(tuple(row) for row in shift['grid'])
            self.shift_op = PatchShift(shift['grid'], shift['ratio'], shift['boundary'])
            self.shift_back = shift['shiftBack']
            self.shift_op_back = PatchShift(shift['grid'], shift['ratio'], shift['boundary'], inv=True)
        elif self.shift_kind == 'channel':
            self.shift_op = TemporalShift(shift['fold'], shift['boundary'])

    def relative_position_bias(self, window, frame_len):
        """Bias (frames, nH, N, N) for window2d (frames = 1 broadcasts), (1, nH, N, N) for window3d."""
        N = reduce(mul, window)
        if self.attention == 'window3d':
            index = relative_position_index_3d(tuple(window), self.window_size).view(1, N, N)
        else:
            index = relative_position_index_2d(self.bias_frames, tuple(window[1:]),
                                               tuple(self.window_size[1:]), self.grid)
            # Tb = 1 is a 2-D table: every frame uses Δd = 0. Otherwise the frames f < D of the
            # (query frame f, key frame 0) index, as upstream's reshape(frame_len, N, N, -1).
            index = index[:1] if self.bias_frames == 1 else index[:frame_len]
        bias = self.relative_position_bias_table[index.reshape(-1), :].reshape(index.shape[0], N, N, -1)
        return bias.permute(0, 3, 1, 2).contiguous()

    def forward(self, x, mask, batch_size, frame_len, window):
        B_, N, C = x.shape
        nH = self.num_heads
        if self.shift_kind is not None:
            x = x.view(B_, N, nH, C // nH).permute(0, 2, 1, 3)
            if self.shift_kind == 'patch':
                x = self.shift_op(x, batch_size, frame_len, window[1:])
            else:
                x = self.shift_op(x, batch_size, frame_len)
            x = x.permute(0, 2, 1, 3).reshape(B_, N, C)
        qkv = self.qkv(x).reshape(B_, N, 3, nH, C // nH).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]  # B_, nH, N, c
        attn = (q * self.scale) @ k.transpose(-2, -1)

        bias = self.relative_position_bias(window, frame_len)
        if self.attention == 'window2d':
            # windows are ordered (b, d, window): add frame d's bias to every window of frame d
            attn = attn.view(batch_size, frame_len, -1, nH, N, N) + bias.unsqueeze(0).unsqueeze(2)
            attn = attn.view(-1, nH, N, N)
        else:
            attn = attn + bias

        if mask is not None:
            nW = mask.shape[0]
            attn = attn.view(B_ // nW, nW, nH, N, N) + mask.unsqueeze(1).unsqueeze(0)
            attn = attn.view(-1, nH, N, N)
        attn = torch.softmax(attn, dim=-1)

        x = attn @ v
        if self.shift_kind == 'patch' and self.shift_back:
            x = self.shift_op_back(x, batch_size, frame_len, window[1:])
        x = x.transpose(1, 2).reshape(B_, N, C)
        return self.proj(x)


class Mlp(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x):
        return self.fc2(F.gelu(self.fc1(x)))  # exact (erf) GELU


class SwinTransformerBlock3D(nn.Module):
    def __init__(self, dim, num_heads, window_size, shift_windows, attention, bias_frames,
                 mlp_ratio, qkv_bias, shift):
        super().__init__()
        self.window_size = tuple(window_size)
        self.shift_size = tuple(w // 2 for w in window_size) if shift_windows else (0, 0, 0)
        self.norm1 = nn.LayerNorm(dim, eps=LN_EPS)
        self.attn = WindowAttention3D(dim, num_heads, window_size, attention, bias_frames, qkv_bias, shift)
        self.norm2 = nn.LayerNorm(dim, eps=LN_EPS)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))

    def forward_part1(self, x):
        B, D, H, W, C = x.shape
        window_size, shift_size = get_window_size((D, H, W), self.window_size, self.shift_size)
        x = self.norm1(x)
        pad_d1 = (window_size[0] - D % window_size[0]) % window_size[0]
        pad_b = (window_size[1] - H % window_size[1]) % window_size[1]
        pad_r = (window_size[2] - W % window_size[2]) % window_size[2]
        x = F.pad(x, (0, 0, 0, pad_r, 0, pad_b, 0, pad_d1))
        _, Dp, Hp, Wp, _ = x.shape
        if any(i > 0 for i in shift_size):
            shifted_x = torch.roll(x, shifts=(-shift_size[0], -shift_size[1], -shift_size[2]), dims=(1, 2, 3))
            attn_mask = compute_mask(Dp, Hp, Wp, window_size, shift_size)
        else:
            shifted_x = x
            attn_mask = None
        x_windows = window_partition(shifted_x, window_size)
        # frame_len = Dp: window2d windows are one frame each (wd = 1); window3d does not use it
        attn_windows = self.attn(x_windows, attn_mask, B, Dp, window_size)
        shifted_x = window_reverse(attn_windows, window_size, B, Dp, Hp, Wp)
        if any(i > 0 for i in shift_size):
            x = torch.roll(shifted_x, shifts=shift_size, dims=(1, 2, 3))
        else:
            x = shifted_x
        return x[:, :D, :H, :W, :].contiguous()

    def forward(self, x):
        x = x + self.forward_part1(x)
        return x + self.mlp(self.norm2(x))


class PatchMerging(nn.Module):
    def __init__(self, dim, out_dim):
        super().__init__()
        self.reduction = nn.Linear(4 * dim, out_dim, bias=False)
        self.norm = nn.LayerNorm(4 * dim, eps=LN_EPS)

    def forward(self, x):
        B, D, H, W, C = x.shape
        if H % 2 == 1 or W % 2 == 1:
            x = F.pad(x, (0, 0, 0, W % 2, 0, H % 2))
        x0 = x[:, :, 0::2, 0::2, :]
        x1 = x[:, :, 1::2, 0::2, :]
        x2 = x[:, :, 0::2, 1::2, :]
        x3 = x[:, :, 1::2, 1::2, :]
        return self.reduction(self.norm(torch.cat([x0, x1, x2, x3], -1)))


class BasicLayer(nn.Module):
    def __init__(self, stage, out_dim):
        super().__init__()
        self.blocks = nn.ModuleList([
            SwinTransformerBlock3D(stage['dim'], stage['heads'], stage['window'], blk['shiftWindows'],
                                   stage['attention'], stage['biasFrames'], stage['mlpRatio'],
                                   stage['qkvBias'], blk['shift'])
            for blk in stage['blocks']
        ])
        self.downsample = PatchMerging(stage['dim'], out_dim) if out_dim is not None else None

    def forward(self, x, record=None, prefix=''):
        """x: B C D H W, as upstream's BasicLayer."""
        x = x.permute(0, 2, 3, 4, 1)
        for j, blk in enumerate(self.blocks):
            x = blk(x)
            if record is not None:
                record[f'{prefix}.blocks.{j}'] = x
        if self.downsample is not None:
            x = self.downsample(x)
            if record is not None:
                record[f'{prefix}.downsample'] = x
        return x.permute(0, 4, 1, 2, 3)


class PatchEmbed3D(nn.Module):
    def __init__(self, patch_size, in_chans, embed_dim, norm):
        super().__init__()
        self.patch_size = tuple(patch_size)
        self.proj = nn.Conv3d(in_chans, embed_dim, kernel_size=patch_size, stride=patch_size)
        self.norm = nn.LayerNorm(embed_dim, eps=LN_EPS) if norm else None

    def forward(self, x):
        _, _, D, H, W = x.size()
        p = self.patch_size
        if W % p[2] != 0:
            x = F.pad(x, (0, p[2] - W % p[2]))
        if H % p[1] != 0:
            x = F.pad(x, (0, 0, 0, p[1] - H % p[1]))
        if D % p[0] != 0:
            x = F.pad(x, (0, 0, 0, 0, 0, p[0] - D % p[0]))
        x = self.proj(x)  # B C D Wh Ww
        if self.norm is not None:
            x = self.norm(x.permute(0, 2, 3, 4, 1)).permute(0, 4, 1, 2, 3)
        return x


class ClsHead(nn.Module):
    """mmaction's I3DHead in eval mode: mean over D, H, W, (dropout), fc_cls."""

    def __init__(self, dim, classes):
        super().__init__()
        self.fc_cls = nn.Linear(dim, classes)

    def forward(self, x):
        return self.fc_cls(x.mean(dim=(2, 3, 4)))


class SwinTransformer3D(nn.Module):
    """Backbone and head in one module so the state dict has the spec's names
    (`patch_embed.*`, `layers.*`, `norm.*`, `cls_head.fc_cls.*`)."""

    def __init__(self, config):
        super().__init__()
        validate(config)
        embed = config['embed']
        self.patch_embed = PatchEmbed3D(embed['patch'], embed['inChannels'], embed['dim'], embed['norm'])
        stages = config['stages']
        self.layers = nn.ModuleList()
        for i, stage in enumerate(stages):
            merges = stage['merge'] == 'patch_merging' and i + 1 < len(stages)
            self.layers.append(BasicLayer(stage, stages[i + 1]['dim'] if merges else None))
        last_dim = stages[-1]['dim']
        self.norm = nn.LayerNorm(last_dim, eps=LN_EPS) if config['finalNorm'] else None
        head = config['head']
        self.cls_head = ClsHead(last_dim, head['classes']) if head is not None else None

    def forward_features(self, x, record=None):
        x = self.patch_embed(x)
        if record is not None:
            record['embed'] = x.permute(0, 2, 3, 4, 1)
        for s, layer in enumerate(self.layers):
            x = layer(x, record, f'layers.{s}')
        if self.norm is not None:
            x = self.norm(x.permute(0, 2, 3, 4, 1)).permute(0, 4, 1, 2, 3)
        return x.contiguous()

    def forward(self, x, record=None):
        """Returns (features B×C×D×H×W, logits or None)."""
        features = self.forward_features(x, record)
        logits = self.cls_head(features) if self.cls_head is not None else None
        return features, logits


def validate(config):
    """What this rendering supports; a clear error for anything else."""
    stages = config['stages']
    for i, stage in enumerate(stages):
        wd, wh, ww = stage['window']
        if stage['dim'] % stage['heads'] != 0:
            raise ValueError(f'stage {stage["number"]}: dim {stage["dim"]} is not a multiple of heads')
        if stage['attention'] == 'window2d' and wd != 1:
            raise ValueError(f'stage {stage["number"]}: window2d needs a window depth of 1')
        if stage['attention'] == 'window3d':
            if stage['biasFrames'] != wd:
                raise ValueError(f'stage {stage["number"]}: window3d needs biasFrames = window depth')
            if any(b['shift'] is not None for b in stage['blocks']):
                raise ValueError(f'stage {stage["number"]}: temporal shifts need window2d')
        if i + 1 < len(stages):
            merges = stage['merge'] == 'patch_merging'
            if not merges and stages[i + 1]['dim'] != stage['dim']:
                raise ValueError(f'stage {stage["number"] + 1}: without merging the dim must stay {stage["dim"]}')


def check_input(config, x):
    """The spec's rule: a window2d table of Tb > 1 frames serves at most Tb temporal tokens."""
    D = -(-x.shape[2] // config['embed']['patch'][0])
    for stage in config['stages']:
        if stage['attention'] == 'window2d' and stage['biasFrames'] > 1 and D > stage['biasFrames']:
            raise ValueError(f'stage {stage["number"]}: {D} temporal tokens exceed biasFrames {stage["biasFrames"]}')


def build(config, state_dict):
    """A float64 model in eval mode with the given weights (strict: every name and shape must match)."""
    model = SwinTransformer3D(config).double().eval()
    model.load_state_dict({k: torch.as_tensor(v).double() for k, v in state_dict.items()}, strict=True)
    return model
