#!/usr/bin/env python3
"""Generates the committed JPEG test fixtures (dev time only; the tests never run Python).

Writes, relative to the repository root (or the directory given as the first argument):

  Tests/ReptileFormatsTests/Fixtures/jpeg/
      color_67x45.jpg      + .npy   baseline 4:2:0 colour, odd size; .npy = Pillow's decoded RGB (H, W, 3)
      progressive_48x32.jpg + .npy  progressive colour;                .npy = Pillow's decoded RGB (H, W, 3)
      gray_40x30.jpg       + .npy   1-component grayscale;             .npy = Pillow's decoded L (H, W)
      cmyk_32x24.jpg       + .npy   Adobe (inverted) CMYK;             .npy = Pillow's .convert("RGB") (H, W, 3)
      photo_400x300.jpg             400x300 smooth "photo" for DCT downscaling tests
      photo_400x300_quarter.npy     Pillow's 1/4 DCT-scaled decode (draft) of it, RGB (75, 100, 3)
      corrupt.jpg                   color_67x45.jpg with part of its entropy-coded data overwritten
      corrupt_header.jpg            color_67x45.jpg with an invalid Huffman table (DHT) definition
      truncated.jpg                 color_67x45.jpg cut off in the middle of its scan data

  Tests/ReptileDataTests/Fixtures/miniimagenet/{train,val,test}/<synset>/<synset>_<n>.JPEG
      A miniature Mini-ImageNet tree (Ravi & Larochelle split synsets): 5 train, 3 val, 3 test classes,
      4 images each, quality 75. Every class has its own colour and pattern (plus per-image jitter and
      noise), so a tiny training run can learn something. Most images are 84x84; a few are 100x75,
      60x90 or 176x172 (exercising resizing and, for the last, DCT downscaling), one is grayscale and
      one is progressive.

The reference .npy files are produced by decoding the committed .jpg files with Pillow (libjpeg-turbo),
so they always match the JPEG bytes next to them; Pillow's libjpeg-turbo may differ from the system
one by an IDCT rounding step, so the tests compare with a small tolerance.

Usage: python3 scripts/make_jpeg_fixtures.py [REPO_ROOT]      (needs numpy and pillow)
"""
import io
import os
import sys

import numpy as np
from PIL import Image

QUALITY = 75


def encode(image, **options):
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=options.pop("quality", QUALITY), **options)
    return buffer.getvalue()


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def decoded(data, mode=None, draft=None):
    image = Image.open(io.BytesIO(data))
    if draft is not None:
        image.draft("RGB", draft)
    image.load()
    if mode is not None and image.mode != mode:
        image = image.convert(mode)
    return np.asarray(image, dtype=np.uint8)


def segments(data):
    """(marker, start of segment payload length field, end) for each header segment up to SOS."""
    assert data[:2] == b"\xff\xd8"
    position = 2
    result = []
    while position < len(data):
        assert data[position] == 0xFF
        marker = data[position + 1]
        length = int.from_bytes(data[position + 2:position + 4], "big")
        result.append((marker, position + 2, position + 2 + length))
        if marker == 0xDA:
            break
        position += 2 + length
    return result


# ------------------------------------------------------------------------------------------------
# ReptileFormats fixtures
# ------------------------------------------------------------------------------------------------

def color_image(width, height, rng):
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    r = 40 + 180 * x / (width - 1)
    g = 30 + 190 * y / (height - 1)
    b = 128 + 90 * np.sin(x / 4.0) * np.cos(y / 5.0)
    rgb = np.stack([r, g, b], axis=-1)
    rgb[5:18, 8:30] = [230, 40, 40]      # saturated blocks: chroma edges exercise upsampling
    rgb[25:40, 40:60] = [30, 60, 220]
    rgb += rng.normal(0, 6, rgb.shape)
    return Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8), "RGB")


def photo_image(width, height, rng):
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    r = 120 + 100 * np.sin(x / 60.0) * np.cos(y / 45.0)
    g = 90 + 80 * np.cos((x + y) / 80.0)
    b = 60 + 150 * (y / height)
    rgb = np.stack([r, g, b], axis=-1)
    disc = (x - 250) ** 2 + (y - 120) ** 2 < 60 ** 2
    rgb[disc] = [240, 220, 60]
    rgb[200:260, 40:140] = [40, 140, 70]
    rgb += rng.normal(0, 2, rgb.shape)
    return Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8), "RGB")


def make_format_fixtures(root):
    out = os.path.join(root, "Tests", "ReptileFormatsTests", "Fixtures", "jpeg")
    rng = np.random.default_rng(20180307)

    color = encode(color_image(67, 45, rng))
    write(os.path.join(out, "color_67x45.jpg"), color)
    np.save(os.path.join(out, "color_67x45.npy"), decoded(color))

    progressive = encode(color_image(48, 32, rng), progressive=True)
    write(os.path.join(out, "progressive_48x32.jpg"), progressive)
    np.save(os.path.join(out, "progressive_48x32.npy"), decoded(progressive))

    yy, xx = np.mgrid[0:30, 0:40]
    gray_pixels = np.clip(20 + 5 * xx + 2 * yy + rng.normal(0, 5, xx.shape), 0, 255).astype(np.uint8)
    gray = encode(Image.fromarray(gray_pixels, "L"))
    write(os.path.join(out, "gray_40x30.jpg"), gray)
    gray_reference = decoded(gray)
    assert gray_reference.shape == (30, 40)
    np.save(os.path.join(out, "gray_40x30.npy"), gray_reference)

    yy, xx = np.mgrid[0:24, 0:32]
    cmyk_pixels = np.stack([
        np.clip(8 * xx, 0, 255), np.clip(10 * yy, 0, 255),
        np.full(xx.shape, 60), np.where(xx < 16, 0, 90)], axis=-1).astype(np.uint8)
    cmyk = encode(Image.fromarray(cmyk_pixels, "CMYK"))
    assert b"Adobe" in cmyk[:200], "Pillow/libjpeg should write an Adobe APP14 marker for CMYK"
    write(os.path.join(out, "cmyk_32x24.jpg"), cmyk)
    cmyk_reference = decoded(cmyk, mode="RGB")
    assert Image.open(io.BytesIO(cmyk)).mode == "CMYK"
    np.save(os.path.join(out, "cmyk_32x24.npy"), cmyk_reference)

    photo = encode(photo_image(400, 300, rng))
    write(os.path.join(out, "photo_400x300.jpg"), photo)
    quarter = decoded(photo, draft=(100, 75))
    assert quarter.shape == (75, 100, 3), quarter.shape
    np.save(os.path.join(out, "photo_400x300_quarter.npy"), quarter)

    # Entropy-coded data overwritten with bytes that are not 0xFF: libjpeg reports corrupt data.
    sos_end = segments(color)[-1][2]
    scan_length = len(color) - 2 - sos_end
    damaged = bytearray(color)
    garbage = np.random.default_rng(7).integers(0, 0xFF, size=scan_length // 3, dtype=np.uint8)
    start = sos_end + scan_length // 3
    damaged[start:start + len(garbage)] = garbage.tobytes()
    write(os.path.join(out, "corrupt.jpg"), bytes(damaged))

    # First DHT: make the 16 code-length counts claim 255 codes of length 1 (impossible).
    dht = next(s for s in segments(color) if s[0] == 0xC4)
    bad_header = bytearray(color)
    counts = dht[1] + 3  # length (2 bytes) + table class/id (1 byte)
    bad_header[counts] = 0xFF
    write(os.path.join(out, "corrupt_header.jpg"), bytes(bad_header))

    write(os.path.join(out, "truncated.jpg"), color[:sos_end + scan_length // 2])


# ------------------------------------------------------------------------------------------------
# Mini-ImageNet tree
# ------------------------------------------------------------------------------------------------

SPLITS = {
    # Real synsets of the Ravi & Larochelle Mini-ImageNet split.
    "train": ["n01532829", "n01558993", "n01704323", "n01749939", "n01770081"],
    "val": ["n01855672", "n02091244", "n02114548"],
    "test": ["n01930112", "n01981276", "n02099601"],
}
IMAGES_PER_CLASS = 4

# One appearance per class (11 in all): base colour and pattern.
STYLES = [
    ((200, 60, 50), "hstripes"), ((60, 170, 70), "vstripes"), ((60, 80, 200), "checker"),
    ((210, 190, 60), "rings"), ((150, 70, 180), "diagonal"),
    ((230, 130, 40), "checker"), ((40, 170, 170), "hstripes"), ((120, 120, 120), "rings"),
    ((190, 60, 140), "vstripes"), ((100, 60, 30), "diagonal"), ((90, 200, 120), "rings"),
]

# (split, class index, image index) -> special case; everything else is 84x84 baseline colour.
SPECIAL = {
    ("train", 0, 1): {"size": (100, 75)},
    ("train", 1, 2): {"size": (60, 90)},
    ("train", 2, 3): {"gray": True},
    ("train", 4, 0): {"progressive": True},
    ("val", 0, 0): {"size": (100, 75)},
    ("val", 2, 1): {"size": (60, 90)},
    ("test", 0, 3): {"size": (176, 172)},
    ("test", 1, 1): {"size": (60, 90)},
    ("test", 2, 2): {"size": (100, 75)},
}


def class_image(style, size, rng):
    (r, g, b), pattern = style
    width, height = size
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    # Coordinates in units of an 84-pixel image, so patterns look alike at every size.
    u = x * 84.0 / width + rng.uniform(0, 20)
    v = y * 84.0 / height + rng.uniform(0, 20)
    period = rng.uniform(13, 17)
    if pattern == "hstripes":
        wave = np.sin(2 * np.pi * v / period)
    elif pattern == "vstripes":
        wave = np.sin(2 * np.pi * u / period)
    elif pattern == "diagonal":
        wave = np.sin(2 * np.pi * (u + v) / (1.4 * period))
    elif pattern == "checker":
        wave = np.sign(np.sin(2 * np.pi * u / (1.5 * period)) * np.sin(2 * np.pi * v / (1.5 * period)))
    elif pattern == "rings":
        wave = np.sin(2 * np.pi * np.hypot(u - 52, v - 52) / period)
    else:
        raise ValueError(pattern)
    base = np.array([r, g, b], dtype=np.float64) + rng.normal(0, 12, 3)
    rgb = base[None, None, :] * (0.75 + 0.25 * wave[..., None])
    rgb += rng.normal(0, 5, rgb.shape)
    return np.clip(rgb, 0, 255).astype(np.uint8)


def make_miniimagenet(root):
    out = os.path.join(root, "Tests", "ReptileDataTests", "Fixtures", "miniimagenet")
    rng = np.random.default_rng(84)
    style = 0
    total = 0
    for split in ["train", "val", "test"]:
        for class_index, synset in enumerate(SPLITS[split]):
            numbers = sorted(rng.choice(np.arange(10, 13000), size=IMAGES_PER_CLASS, replace=False))
            for image_index, number in enumerate(numbers):
                special = SPECIAL.get((split, class_index, image_index), {})
                pixels = class_image(STYLES[style], special.get("size", (84, 84)), rng)
                image = Image.fromarray(pixels, "RGB")
                if special.get("gray"):
                    image = image.convert("L")
                data = encode(image, progressive=special.get("progressive", False))
                write(os.path.join(out, split, synset, f"{synset}_{number}.JPEG"), data)
                total += len(data)
            style += 1
    return total


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    make_format_fixtures(root)
    total = make_miniimagenet(root)
    print(f"mini-imagenet tree: {total} bytes of JPEG")


if __name__ == "__main__":
    main()
