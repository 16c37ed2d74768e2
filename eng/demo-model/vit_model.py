#!/usr/bin/python3
# Licensed under the MIT license. Part of Microsoft.ML.Spiking.
"""A small Vision Transformer for the 32x32 shapes dataset, for train_vit.py.

Written the way such models are usually written in PyTorch (the timm layout: a strided-conv patch
embedding, a learned class token and position embedding, pre-norm blocks with fused-qkv multi-head
attention and a GELU MLP, a final LayerNorm and a linear head on the class token), so that the ONNX
graph torch.onnx.export produces for it is the graph a user's own ViT would give the importer.
Keep the tensor code in the forward methods as it is: the importer's tests rely on the node patterns
PyTorch exports for exactly these expressions (flatten/transpose, expand/cat, reshape/permute/unbind,
q @ k^T * scale, softmax, transpose/reshape, x[:, 0]).

The module has no dropout, so train() and eval() compute the same function.
"""

import torch
import torch.nn as nn

import make_shapes as ms


class PatchEmbed(nn.Module):
    """Non-overlapping patch x patch patches, each projected to `dim` by one strided convolution."""

    def __init__(self, img_size=32, patch=4, in_chans=3, dim=64):
        super().__init__()
        self.num_patches = (img_size // patch) ** 2
        self.proj = nn.Conv2d(in_chans, dim, kernel_size=patch, stride=patch)

    def forward(self, x):
        x = self.proj(x)                      # [B, D, 8, 8]
        return x.flatten(2).transpose(1, 2)   # [B, 64, D]


class Attention(nn.Module):
    def __init__(self, dim, num_heads):
        super().__init__()
        assert dim % num_heads == 0
        self.num_heads = num_heads
        self.scale = (dim // num_heads) ** -0.5
        self.qkv = nn.Linear(dim, dim * 3, bias=True)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):
        B, N, C = x.shape
        qkv = self.qkv(x).reshape(B, N, 3, self.num_heads, C // self.num_heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)
        attn = (q @ k.transpose(-2, -1)) * self.scale
        attn = attn.softmax(dim=-1)
        x = (attn @ v).transpose(1, 2).reshape(B, N, C)
        x = self.proj(x)
        return x


class Mlp(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()  # exact (erf) form
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


class Block(nn.Module):
    """Pre-norm transformer block: x + attn(norm1(x)), then x + mlp(norm2(x))."""

    def __init__(self, dim, num_heads, mlp_ratio, eps):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=eps)
        self.attn = Attention(dim, num_heads)
        self.norm2 = nn.LayerNorm(dim, eps=eps)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        x = x + self.mlp(self.norm2(x))
        return x


class ShapesViT(nn.Module):
    """Patch 4 (64 tokens + class token), depth 3, 4 heads, MLP ratio 2, LayerNorm eps 1e-6."""

    def __init__(self, img_size=32, patch=4, dim=64, depth=3, num_heads=4, mlp_ratio=2.0, eps=1e-6,
                 num_classes=len(ms.CLASSES)):
        super().__init__()
        self.patch_embed = PatchEmbed(img_size, patch, 3, dim)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, self.patch_embed.num_patches + 1, dim))
        self.blocks = nn.Sequential(*[Block(dim, num_heads, mlp_ratio, eps) for _ in range(depth)])
        self.norm = nn.LayerNorm(dim, eps=eps)
        self.head = nn.Linear(dim, num_classes)
        self._init_weights()

    def _init_weights(self):
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        nn.init.trunc_normal_(self.cls_token, std=0.02)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.trunc_normal_(m.weight, std=0.02)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.LayerNorm):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, x):
        x = self.patch_embed(x)
        x = torch.cat((self.cls_token.expand(x.shape[0], -1, -1), x), dim=1)
        x = x + self.pos_embed
        x = self.blocks(x)
        x = self.norm(x)
        x = x[:, 0]
        return self.head(x)


def parameter_count(model):
    return sum(p.numel() for p in model.parameters())
