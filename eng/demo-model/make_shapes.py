#!/usr/bin/python3
# Licensed under the MIT license. Part of Microsoft.ML.Spiking.
"""Deterministic generator of the synthetic "shapes" image-classification dataset.

Every image is 32x32 RGB, drawn procedurally with numpy only (no downloads): one object of one
of ten classes, at a random position and size (and rotation where that is meaningful), in a
random foreground colour over a random background (a flat colour with a gentle gradient), with
a few thin distractor strokes and pixel noise. Edges are anti-aliased by 4x4 supersampling.

    images, labels = make_dataset(n, seed)   # uint8 [n, 32, 32, 3], int64 [n]

Run as a script to (re)write the held-out PNG set the ImageClassification sample evaluates:

    /usr/bin/python3 eng/demo-model/make_shapes.py
      -> samples/ImageClassification/assets/images/<class>/NNNN.png (30 per class)
         samples/ImageClassification/assets/images/labels.txt        (class names, output order)
"""

import os
import struct
import sys
import zlib

import numpy as np

CLASSES = [
    "circle",
    "square",
    "triangle",
    "cross",
    "hstripes",
    "vstripes",
    "dstripes",
    "ring",
    "checkerboard",
    "dots",
]

SIZE = 32
SUPER = 4  # supersampling factor per axis for anti-aliased edges

# Seeds of the fixed splits; train.py and this script use the same ones.
TRAIN_SEED = 1
TEST_SEED = 2
PNG_SEED = 3
PNGS_PER_CLASS = 30

_REPO = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
ASSETS_DIR = os.path.join(_REPO, "samples", "ImageClassification", "assets")
IMAGES_DIR = os.path.join(ASSETS_DIR, "images")


def _grid():
    """Sub-pixel sample coordinates, in pixel units, for a SIZE x SIZE image."""
    n = SIZE * SUPER
    c = (np.arange(n, dtype=np.float64) + 0.5) / SUPER
    y, x = np.meshgrid(c, c, indexing="ij")
    return x, y


_GX, _GY = _grid()


def _coverage(mask):
    """Average a supersampled boolean mask down to per-pixel coverage in [0, 1]."""
    m = mask.astype(np.float32).reshape(SIZE, SUPER, SIZE, SUPER)
    return m.mean(axis=(1, 3))


def _rotated(cx, cy, angle):
    """Sample coordinates relative to (cx, cy), rotated by -angle (so shapes appear rotated by +angle)."""
    dx = _GX - cx
    dy = _GY - cy
    c, s = np.cos(angle), np.sin(angle)
    return c * dx + s * dy, -s * dx + c * dy


def _patch_region(rng, u, v, half):
    """A random window (disc or square) in object coordinates for the texture classes."""
    if rng.random() < 0.5:
        return u * u + v * v <= half * half
    return (np.abs(u) <= half) & (np.abs(v) <= half)


def _draw_mask(rng, cls):
    """Supersampled boolean mask of one object of class index `cls`."""
    name = CLASSES[cls]
    margin = 3.0
    if name in ("hstripes", "vstripes", "dstripes", "checkerboard", "dots"):
        half = rng.uniform(7.0, 12.0)  # half-width of the textured window
    elif name == "cross":
        half = rng.uniform(5.0, 11.0)
    elif name == "triangle":
        half = rng.uniform(6.0, 12.0)
    else:
        half = rng.uniform(4.0, 11.0)
    lo, hi = half * 0.8 + margin - 2.0, SIZE - (half * 0.8 + margin - 2.0)
    cx, cy = rng.uniform(lo, hi), rng.uniform(lo, hi)

    if name == "circle":
        u, v = _rotated(cx, cy, 0.0)
        return u * u + v * v <= half * half

    if name == "square":
        s = half / np.sqrt(2.0) * 1.15
        u, v = _rotated(cx, cy, rng.uniform(0.0, np.pi / 2))
        return (np.abs(u) <= s) & (np.abs(v) <= s)

    if name == "triangle":
        u, v = _rotated(cx, cy, rng.uniform(0.0, 2.0 * np.pi))
        r = half
        # Equilateral triangle with circumradius r: three half-planes at 120 degrees.
        inside = np.ones_like(u, dtype=bool)
        for k in range(3):
            a = np.pi / 2 + k * 2.0 * np.pi / 3
            inside &= (np.cos(a) * u + np.sin(a) * v) >= -r / 2.0
        return inside

    if name == "cross":
        t = rng.uniform(1.2, 2.4)  # half thickness of an arm
        u, v = _rotated(cx, cy, rng.uniform(0.0, np.pi / 2))
        return ((np.abs(u) <= half) & (np.abs(v) <= t)) | ((np.abs(v) <= half) & (np.abs(u) <= t))

    if name == "ring":
        t = rng.uniform(1.2, 2.6)  # ring thickness
        r = max(half, t + 2.5)
        u, v = _rotated(cx, cy, 0.0)
        d = np.sqrt(u * u + v * v)
        return (d <= r) & (d >= r - t)

    if name in ("hstripes", "vstripes", "dstripes"):
        period = rng.uniform(3.0, 5.5)
        duty = rng.uniform(0.4, 0.6)
        if name == "hstripes":
            angle = rng.uniform(-0.2, 0.2)
        elif name == "vstripes":
            angle = np.pi / 2 + rng.uniform(-0.2, 0.2)
        else:
            angle = rng.choice([np.pi / 4, -np.pi / 4]) + rng.uniform(-0.2, 0.2)
        # The window is not rotated with the stripes, so its outline gives no hint of the class.
        wu, wv = _rotated(cx, cy, 0.0)
        region = _patch_region(rng, wu, wv, half)
        u, v = _rotated(cx, cy, angle)
        phase = rng.uniform(0.0, period)
        stripes = np.mod(v + phase, period) < duty * period
        return region & stripes

    if name == "checkerboard":
        cell = rng.uniform(2.0, 4.0)
        wu, wv = _rotated(cx, cy, 0.0)
        region = _patch_region(rng, wu, wv, half)
        u, v = _rotated(cx, cy, rng.uniform(-0.25, 0.25))
        pu, pv = rng.uniform(0.0, 2 * cell, size=2)
        checks = (np.floor((u + pu) / cell) + np.floor((v + pv) / cell)) % 2 == 0
        return region & checks

    if name == "dots":
        wu, wv = _rotated(cx, cy, 0.0)
        region = _patch_region(rng, wu, wv, half)
        radius = rng.uniform(0.9, 1.6)
        if rng.random() < 0.5:
            # Regular lattice of dots.
            pitch = rng.uniform(3.6, 5.5)
            u, v = _rotated(cx, cy, rng.uniform(0.0, np.pi / 2))
            pu, pv = rng.uniform(0.0, pitch, size=2)
            du = np.mod(u + pu, pitch) - pitch / 2
            dv = np.mod(v + pv, pitch) - pitch / 2
            return region & (du * du + dv * dv <= radius * radius)
        # Scattered dots inside the window.
        mask = np.zeros_like(_GX, dtype=bool)
        count = rng.integers(6, 14)
        for _ in range(count):
            ang = rng.uniform(0.0, 2.0 * np.pi)
            dist = half * np.sqrt(rng.uniform(0.0, 1.0))
            px, py = cx + dist * np.cos(ang), cy + dist * np.sin(ang)
            mask |= (_GX - px) ** 2 + (_GY - py) ** 2 <= radius * radius
        return mask

    raise ValueError(name)


def _stroke_mask(rng):
    """A short thin straight stroke somewhere in the image (a distractor)."""
    x0, y0 = rng.uniform(0.0, SIZE, size=2)
    ang = rng.uniform(0.0, np.pi)
    length = rng.uniform(3.0, 10.0)
    u, v = _rotated(x0, y0, ang)
    return (np.abs(u) <= length / 2) & (np.abs(v) <= rng.uniform(0.4, 0.7))


def _random_colours(rng):
    """Foreground and background colours with a clear (but not always large) luminance/colour contrast."""
    while True:
        fg = rng.uniform(0.0, 1.0, size=3)
        bg = rng.uniform(0.0, 1.0, size=3)
        if np.abs(fg - bg).sum() >= 0.45 and abs(fg.mean() - bg.mean()) >= 0.10:
            return fg, bg


def render(rng, cls):
    """One uint8 HxWx3 image of class index `cls`."""
    fg, bg = _random_colours(rng)
    # Background: flat colour plus a mild linear gradient in a random direction.
    g_ang = rng.uniform(0.0, 2.0 * np.pi)
    g_amp = rng.uniform(0.0, 0.15)
    px = (np.arange(SIZE) + 0.5) / SIZE - 0.5
    py, pxx = np.meshgrid(px, px, indexing="ij")
    grad = g_amp * (np.cos(g_ang) * pxx + np.sin(g_ang) * py)
    img = np.clip(bg[None, None, :] + grad[:, :, None], 0.0, 1.0)

    # Distractor strokes in a third colour, drawn under the object.
    for _ in range(rng.integers(0, 4)):
        col = rng.uniform(0.0, 1.0, size=3)
        a = _coverage(_stroke_mask(rng))[:, :, None] * rng.uniform(0.5, 0.9)
        img = img * (1 - a) + col[None, None, :] * a

    # The object; its colour varies slightly across its extent.
    a = _coverage(_draw_mask(rng, cls))[:, :, None]
    tint = fg[None, None, :] + rng.normal(0.0, 0.04, size=(1, 1, 3)) * (pxx[:, :, None] - py[:, :, None])
    img = img * (1 - a) + np.clip(tint, 0.0, 1.0) * a

    # Pixel noise.
    sigma = rng.uniform(0.02, 0.10)
    img = img + rng.normal(0.0, sigma, size=img.shape)
    return np.clip(np.round(img * 255.0), 0, 255).astype(np.uint8)


def make_dataset(n, seed):
    """n images with balanced, shuffled labels, fully determined by `seed`.

    Returns (images uint8 [n, 32, 32, 3] RGB HWC, labels int64 [n]).
    """
    rng = np.random.default_rng(seed)
    labels = np.arange(n, dtype=np.int64) % len(CLASSES)
    rng.shuffle(labels)
    images = np.empty((n, SIZE, SIZE, 3), dtype=np.uint8)
    for i in range(n):
        images[i] = render(rng, int(labels[i]))
    return images, labels


# ---- minimal PNG writer/reader (8-bit RGB, no interlace), so PIL is optional -----------------

def _png_chunk(tag, data):
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)


def write_png(path, img):
    """Write a uint8 HxWx3 array as an RGB PNG (filter type 0 on every row)."""
    h, w, _ = img.shape
    raw = b"".join(b"\x00" + img[r].tobytes() for r in range(h))
    data = (b"\x89PNG\r\n\x1a\n"
            + _png_chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
            + _png_chunk(b"IDAT", zlib.compress(raw, 9))
            + _png_chunk(b"IEND", b""))
    with open(path, "wb") as f:
        f.write(data)


def read_png_rgb(path):
    """Read a PNG back as uint8 HxWx3 RGB (PIL when available, else the minimal reader)."""
    try:
        from PIL import Image
        with Image.open(path) as im:
            return np.asarray(im.convert("RGB"), dtype=np.uint8)
    except ImportError:
        pass
    with open(path, "rb") as f:
        data = f.read()
    pos, idat, w, h = 8, b"", 0, 0
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        tag = data[pos + 4:pos + 8]
        body = data[pos + 8:pos + 8 + length]
        if tag == b"IHDR":
            w, h, depth, ctype = struct.unpack(">IIBB", body[:10])
            if depth != 8 or ctype != 2:
                raise ValueError("only 8-bit RGB PNGs are supported without PIL")
        elif tag == b"IDAT":
            idat += body
        pos += 12 + length
    raw = np.frombuffer(zlib.decompress(idat), dtype=np.uint8).reshape(h, 1 + w * 3)
    out = np.zeros((h, w * 3), dtype=np.int32)
    bpp = 3
    for r in range(h):
        ftype, line = raw[r, 0], raw[r, 1:].astype(np.int32)
        prev = out[r - 1] if r > 0 else np.zeros(w * 3, dtype=np.int32)
        cur = np.zeros(w * 3, dtype=np.int32)
        for i in range(w * 3):
            a = cur[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if ftype == 0:
                p = 0
            elif ftype == 1:
                p = a
            elif ftype == 2:
                p = b
            elif ftype == 3:
                p = (a + b) // 2
            else:
                pa, pb, pc = abs(b - c), abs(a - c), abs(a + b - 2 * c)
                p = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
            cur[i] = (line[i] + p) & 0xFF
        out[r] = cur
    return out.reshape(h, w, 3).astype(np.uint8)


def write_png_set(root=IMAGES_DIR, per_class=PNGS_PER_CLASS, seed=PNG_SEED):
    """Write the held-out PNG set (per_class images of each class) and labels.txt under `root`."""
    rng = np.random.default_rng(seed)
    os.makedirs(root, exist_ok=True)
    for cls, name in enumerate(CLASSES):
        d = os.path.join(root, name)
        os.makedirs(d, exist_ok=True)
        for old in os.listdir(d):
            if old.endswith(".png"):
                os.remove(os.path.join(d, old))
    for i in range(per_class):
        for cls, name in enumerate(CLASSES):
            write_png(os.path.join(root, name, "%04d.png" % i), render(rng, cls))
    with open(os.path.join(root, "labels.txt"), "w", newline="\n") as f:
        f.write("\n".join(CLASSES) + "\n")


def load_png_set(root=IMAGES_DIR):
    """Read the PNG set back from disk: (images uint8 [n, 32, 32, 3], labels int64 [n], paths)."""
    with open(os.path.join(root, "labels.txt")) as f:
        names = [line.strip() for line in f if line.strip()]
    images, labels, paths = [], [], []
    for cls, name in enumerate(names):
        d = os.path.join(root, name)
        for fn in sorted(os.listdir(d)):
            if fn.endswith(".png"):
                p = os.path.join(d, fn)
                images.append(read_png_rgb(p))
                labels.append(cls)
                paths.append(p)
    return np.stack(images), np.array(labels, dtype=np.int64), paths


if __name__ == "__main__":
    root = sys.argv[1] if len(sys.argv) > 1 else IMAGES_DIR
    write_png_set(root)
    total = sum(os.path.getsize(os.path.join(dp, f)) for dp, _, fs in os.walk(root) for f in fs)
    print("wrote %d PNGs + labels.txt under %s (%d bytes)" % (PNGS_PER_CLASS * len(CLASSES), root, total))
