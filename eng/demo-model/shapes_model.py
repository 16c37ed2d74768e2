#!/usr/bin/python3
# Licensed under the MIT license. Part of Microsoft.ML.Spiking.
"""The demo CNN (ReLU or QCFS activations) and its training loop, for train.py.

ShapesNet(levels=None) is the BN-ReLU CNN with a MaxPool; ShapesNet(levels=L) is the same CNN with QCFS
activations (L quantization steps, one trainable lambda per layer) and an AveragePool instead of the
MaxPool (algorithms.md 1.2 and 4: max-pool -> avg-pool before training, so the network stays a sum of
quantized activations that bit-serial and rate coding convert without a max).
"""

import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

import make_shapes as ms

QCFS_LAMBDA_INIT = 4.0


class FloorSTE(torch.autograd.Function):
    """floor(x) forward, identity gradient backward (straight-through); exported as ONNX Floor."""

    @staticmethod
    def forward(ctx, x):
        return torch.floor(x)

    @staticmethod
    def backward(ctx, grad):
        return grad

    @staticmethod
    def symbolic(g, x):
        return g.op("Floor", x)


class Qcfs(nn.Module):
    """Quantization-clip-floor-shift activation (Bu et al., ICLR 2022) with a trainable scalar lambda.

    y = lambda * floor(clamp(x / lambda, 0, 1) * L + 1/2) / L
    """

    def __init__(self, levels, lam=QCFS_LAMBDA_INIT):
        super().__init__()
        self.levels = levels
        self.lam = nn.Parameter(torch.tensor([float(lam)]))

    def forward(self, x):
        x = x / self.lam
        # clamp(x, 0, 1); written as hardtanh because PyTorch 1.13 exports torch.clamp with its
        # bounds behind Cast nodes, whereas hardtanh gives a plain Clip with float constants.
        x = F.hardtanh(x, 0.0, 1.0)
        x = FloorSTE.apply(x * self.levels + 0.5) / self.levels
        return x * self.lam

    def extra_repr(self):
        return "levels=%d" % self.levels


class ShapesNet(nn.Module):
    """Conv(3->16)-BN-act, Conv(16->32,s2)-BN-act, Conv(32->32)-BN-act, Pool 2x2,
    Conv(32->64,s2)-BN-act, GlobalAveragePool, Flatten, Linear(64->10).

    levels None: act = ReLU, Pool = MaxPool; levels L: act = QCFS with L steps, Pool = AvgPool."""

    def __init__(self, levels=None, num_classes=len(ms.CLASSES)):
        super().__init__()
        self.levels = levels
        qcfs = levels is not None

        def act():
            return Qcfs(levels) if qcfs else nn.ReLU()

        self.features = nn.Sequential(
            nn.Conv2d(3, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16), act(),
            nn.Conv2d(16, 32, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(32), act(),
            nn.Conv2d(32, 32, 3, padding=1, bias=False), nn.BatchNorm2d(32), act(),
            # count_include_pad=False changes nothing without padding, but keeps PyTorch 1.13 from
            # exporting a no-op Pad node in front of the AveragePool.
            nn.AvgPool2d(2, count_include_pad=False) if qcfs else nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(64), act(),
            nn.AdaptiveAvgPool2d(1),
        )
        self.classifier = nn.Linear(64, num_classes)

    def forward(self, x):
        x = self.features(x)
        x = torch.flatten(x, 1)
        return self.classifier(x)


# ---- training -----------------------------------------------------------------------------------

def to_input(images_u8):
    """uint8 NHWC RGB -> float32 NCHW in [0, 1]: the pixel pipeline of the sample."""
    return torch.from_numpy(np.ascontiguousarray(images_u8.transpose(0, 3, 1, 2))).float() / 255.0


def accuracy(model, images_u8, labels, batch=500):
    model.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, len(labels), batch):
            logits = model(to_input(images_u8[i:i + batch]))
            correct += int((logits.argmax(1).numpy() == labels[i:i + batch]).sum())
    return correct / len(labels)


def train(model, images_u8, labels, epochs, lr, seed, batch=128, log=print, val=None):
    g = torch.Generator().manual_seed(seed)
    decay = [p for n, p in model.named_parameters() if p.ndim > 1]
    no_decay = [p for n, p in model.named_parameters() if p.ndim <= 1]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 5e-4},
                             {"params": no_decay, "weight_decay": 0.0}], lr=lr)
    steps_per_epoch = (len(labels) + batch - 1) // batch
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, epochs=epochs, steps_per_epoch=steps_per_epoch,
                                                pct_start=0.2)
    y_all = torch.from_numpy(labels)
    for epoch in range(epochs):
        model.train()
        t0 = time.time()
        perm = torch.randperm(len(labels), generator=g).numpy()
        total, correct, loss_sum = 0, 0, 0.0
        for i in range(0, len(perm), batch):
            idx = perm[i:i + batch]
            x = to_input(images_u8[idx])
            # Cheap augmentation: random horizontal/vertical flips (every class is flip-invariant,
            # diagonal stripes map onto diagonal stripes).
            if torch.rand(1, generator=g).item() < 0.5:
                x = torch.flip(x, dims=[3])
            if torch.rand(1, generator=g).item() < 0.5:
                x = torch.flip(x, dims=[2])
            y = y_all[idx]
            logits = model(x)
            loss = F.cross_entropy(logits, y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            loss_sum += float(loss) * len(idx)
            correct += int((logits.argmax(1) == y).sum())
            total += len(idx)
        msg = "  epoch %d/%d  loss %.4f  train-acc %.4f  %.0fs" % (
            epoch + 1, epochs, loss_sum / total, correct / total, time.time() - t0)
        if val is not None:
            msg += "  val-acc %.4f" % accuracy(model, *val)
        log(msg)
    model.eval()
    return model


