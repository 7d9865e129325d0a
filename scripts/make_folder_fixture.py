#!/usr/bin/env python3
"""Generates the committed miniature folder data set of the tests (dev time only; the tests never run Python).

Writes Tests/ReptileDataTests/Fixtures/folder/{train,test}/<class>/ and .../folder-corrupt/:
  * 6 training and 3 test classes of 5 images each; every class has its own pattern (stripes at its
    own angle and frequency, plus noise) so a tiny run can learn something;
  * PNG files in grayscale, gray + alpha, RGB and RGBA, of mixed sizes (20×20 to 40×30), and in a
    few classes JPEG copies of the project's JPEG fixtures (colour 67×45 and grayscale 40×30);
  * folder-corrupt/: two classes whose second holds `broken.png`, a PNG cut off in its image data.
PNG is written with zlib only (no imaging library needed).
"""
import math, os, random, shutil, struct, sys, zlib

ROOT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
OUT = os.path.join(ROOT, "Tests", "ReptileDataTests", "Fixtures")
JPEGS = os.path.join(ROOT, "Tests", "ReptileFormatsTests", "Fixtures", "jpeg")


def png(path, width, height, channels, pixel):
    """pixel(x, y) -> tuple of `channels` bytes; color type 0 (gray), 4 (gray+alpha), 2 (RGB), 6 (RGBA)."""
    color_type = {1: 0, 2: 4, 3: 2, 4: 6}[channels]
    raw = b"".join(b"\x00" + bytes(v for x in range(width) for v in pixel(x, y)) for y in range(height))
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    data = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, color_type, 0, 0, 0))
    data += chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
    with open(path, "wb") as f:
        f.write(data)


def pattern(cls, rng):
    angle = cls * math.pi / 9
    frequency = 0.25 + 0.08 * cls
    phase = rng.uniform(0, 0.5)
    def value(x, y):
        s = math.sin(frequency * (x * math.cos(angle) + y * math.sin(angle)) + phase)
        return max(0, min(255, int(128 + 110 * s + rng.uniform(-15, 15))))
    return value


def main():
    rng = random.Random(7)
    folder = os.path.join(OUT, "folder")
    shutil.rmtree(folder, ignore_errors=True)
    sizes = [(20, 20), (28, 28), (40, 30), (24, 32), (32, 32)]
    kinds = [1, 3, 2, 4, 1]
    cls = 0
    for split, count in [("train", 6), ("test", 3)]:
        for c in range(count):
            name = f"{split[:2]}{c}-{['circle', 'wave', 'dots', 'grid', 'zigzag', 'ring'][c % 6]}"
            path = os.path.join(folder, split, name)
            os.makedirs(path)
            for i in range(5):
                if c == 1 and i == 4:
                    shutil.copy(os.path.join(JPEGS, "color_67x45.jpg"), os.path.join(path, f"{i:02d}.jpg"))
                    continue
                if c == 2 and i == 4:
                    shutil.copy(os.path.join(JPEGS, "gray_40x30.jpg"), os.path.join(path, f"{i:02d}.JPEG"))
                    continue
                w, h = sizes[(i + c) % len(sizes)]
                channels = kinds[(i + cls) % len(kinds)]
                value = pattern(cls, rng)
                def pixel(x, y, value=value, channels=channels):
                    v = value(x, y)
                    tint = [v, (v + 40 * cls) % 256, 255 - v]
                    return {1: (v,), 2: (v, 255), 3: tuple(tint), 4: tuple(tint) + (255,)}[channels]
                png(os.path.join(path, f"{i:02d}.png"), w, h, channels, pixel)
            cls += 1
    corrupt = os.path.join(OUT, "folder-corrupt")
    shutil.rmtree(corrupt, ignore_errors=True)
    for c in range(2):
        path = os.path.join(corrupt, f"class{c}")
        os.makedirs(path)
        for i in range(3):
            png(os.path.join(path, f"{i}.png"), 16, 16, 1, lambda x, y: ((x * 16 + y * c) % 256,))
    good = open(os.path.join(corrupt, "class1", "0.png"), "rb").read()
    with open(os.path.join(corrupt, "class1", "broken.png"), "wb") as f:
        f.write(good[: len(good) - 30])
    print("wrote", folder, "and", corrupt)


main()
