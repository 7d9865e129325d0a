#!/usr/bin/env python3
"""Generates the ReptileFormats test fixtures (run from this folder; needs numpy, Pillow for the Omniglot-style
image and for cross-checking, and Info-ZIP `zip` for the streamed zip64 archive).

PNG files come from a small independent writer below (numpy + zlib) so that every color type, bit depth,
filter type, interlacing and chunk layout can be produced on purpose; each `png/NAME.png` has `png/NAME.npy`
holding the pixels the Swift decoder must produce (uint8, shape (height, width, channels)), computed here from
the source samples by the conversion rules ReptileFormats documents: low gray depths scaled by 255/(2^d-1),
16-bit samples rounded as (v*255 + 32767) // 65535, palette expanded to RGB(A), tRNS keys turned into alpha.
Pillow re-reads every PNG as a cross-check of the writer.
"""
import io
import os
import struct
import subprocess
import zipfile
import zlib

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
rng = np.random.default_rng(20240531)


def chunk(kind, data):
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)


def paeth(a, b, c):
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    if pa <= pb and pa <= pc:
        return a
    return b if pb <= pc else c


def filter_rows(rows, bpp):
    """Filters rows (list of bytes), cycling through filter types 0..4 so that every one is exercised."""
    out = bytearray()
    prior = bytes(len(rows[0])) if rows else b""
    for index, row in enumerate(rows):
        kind = index % 5
        out.append(kind)
        for i, x in enumerate(row):
            a = row[i - bpp] if i >= bpp else 0
            b = prior[i]
            c = prior[i - bpp] if i >= bpp else 0
            if kind == 0:
                v = x
            elif kind == 1:
                v = x - a
            elif kind == 2:
                v = x - b
            elif kind == 3:
                v = x - ((a + b) >> 1)
            else:
                v = x - paeth(a, b, c)
            out.append(v & 0xFF)
        prior = row
    return bytes(out)


def pack_row(samples, depth):
    """Packs one row of integer samples at the given bit depth (big-endian for 16)."""
    if depth == 8:
        return bytes(int(s) for s in samples)
    if depth == 16:
        return b"".join(struct.pack(">H", int(s)) for s in samples)
    per_byte = 8 // depth
    out = bytearray()
    for start in range(0, len(samples), per_byte):
        byte = 0
        group = samples[start:start + per_byte]
        for k, s in enumerate(group):
            byte |= int(s) << (8 - depth * (k + 1))
        out.append(byte)
    return bytes(out)


ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]
SAMPLES = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}


def write_png(path, samples, color_type, depth, interlace=False, palette=None, trns=None, idat_pieces=1,
              ancillary=True):
    """samples: integer array (h, w, samples_per_pixel)."""
    h, w, spp = samples.shape
    assert spp == SAMPLES[color_type]
    bpp = max(1, spp * depth // 8)
    raw = bytearray()
    passes = ADAM7 if interlace else [(0, 0, 1, 1)]
    for xs, ys, xstep, ystep in passes:
        sub = samples[ys::ystep, xs::xstep]
        if sub.shape[0] == 0 or sub.shape[1] == 0:
            continue
        rows = [pack_row(sub[y].reshape(-1), depth) for y in range(sub.shape[0])]
        raw += filter_rows(rows, bpp)
    compressed = zlib.compress(bytes(raw), 9)
    png = b"\x89PNG\r\n\x1a\n"
    png += chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, depth, color_type, 0, 0, 1 if interlace else 0))
    if ancillary:
        png += chunk(b"gAMA", struct.pack(">I", 45455))
        png += chunk(b"tEXt", b"Comment\x00ReptileFormats fixture")
    if palette is not None:
        png += chunk(b"PLTE", bytes(np.asarray(palette, dtype=np.uint8).reshape(-1)))
    if trns is not None:
        png += chunk(b"tRNS", trns)
    step = -(-len(compressed) // idat_pieces)
    for start in range(0, len(compressed), step):
        png += chunk(b"IDAT", compressed[start:start + step])
    if ancillary:
        png += chunk(b"tIME", struct.pack(">HBBBBB", 2024, 5, 31, 12, 0, 0))
    png += chunk(b"IEND", b"")
    with open(path, "wb") as f:
        f.write(png)
    return png


def scale16(v):
    return (v.astype(np.uint32) * 255 + 32767) // 65535


def expected_pixels(samples, color_type, depth, palette=None, trns=None):
    s = samples.astype(np.int64)
    if color_type == 3:
        pal = np.asarray(palette, dtype=np.uint8)
        rgb = pal[s[..., 0]]
        if trns is None:
            return rgb
        alpha = np.full(len(pal), 255, dtype=np.uint8)
        alpha[:len(trns)] = np.frombuffer(trns, dtype=np.uint8)[:len(pal)]
        return np.concatenate([rgb, alpha[s[..., 0]][..., None]], axis=2)
    if depth == 16:
        out = scale16(s)
    elif depth < 8:
        out = s * (255 // ((1 << depth) - 1))
    else:
        out = s
    out = out.astype(np.uint8)
    if trns is not None and color_type in (0, 2):
        key = np.array(struct.unpack(">" + "H" * (len(trns) // 2), trns))
        match = np.all(s == key, axis=2)
        alpha = np.where(match, 0, 255).astype(np.uint8)[..., None]
        out = np.concatenate([out, alpha], axis=2)
    return out


def random_samples(h, w, spp, depth):
    return rng.integers(0, 1 << depth, size=(h, w, spp), dtype=np.int64)


def smooth_samples(h, w, spp, depth):
    """Gradients plus noise, so that the adaptive filters have something to predict."""
    y, x = np.mgrid[0:h, 0:w]
    base = (x * 7 + y * 5)[..., None] + np.arange(spp)[None, None, :] * 11
    noise = rng.integers(0, 3, size=(h, w, spp))
    return (base + noise) % (1 << depth)


def make_pngs():
    folder = os.path.join(HERE, "png")
    os.makedirs(folder, exist_ok=True)
    cases = []
    W, H = 13, 11  # Odd sizes: partial Adam7 passes and padding bits at the ends of packed rows.
    for depth in (1, 2, 4, 8, 16):
        cases.append((f"gray{depth}", 0, depth, {}))
    for depth in (8, 16):
        cases.append((f"rgb{depth}", 2, depth, {}))
        cases.append((f"grayalpha{depth}", 4, depth, {}))
        cases.append((f"rgba{depth}", 6, depth, {}))
    for depth in (1, 2, 4, 8):
        cases.append((f"palette{depth}", 3, depth, {}))
    cases.append(("palette4_trns", 3, 4, {"trns": True}))
    cases.append(("palette8_trns", 3, 8, {"trns": True}))
    cases.append(("gray2_trns", 0, 2, {"key": True}))
    cases.append(("gray8_trns", 0, 8, {"key": True}))
    cases.append(("gray16_trns", 0, 16, {"key": True}))
    cases.append(("rgb8_trns", 2, 8, {"key": True}))
    cases.append(("rgb16_trns", 2, 16, {"key": True}))
    interlaced = [("gray1", 0, 1), ("gray4", 0, 4), ("gray16", 0, 16), ("rgb8", 2, 8), ("rgb16", 2, 16),
                  ("palette2", 3, 2), ("grayalpha8", 4, 8), ("rgba8", 6, 8), ("rgba16", 6, 16)]
    for name, ct, depth in interlaced:
        cases.append((name + "_interlaced", ct, depth, {"interlace": True}))
    cases.append(("rgba8_multi_idat", 6, 8, {"pieces": 7}))
    cases.append(("palette8_trns_interlaced", 3, 8, {"trns": True, "interlace": True}))

    for name, ct, depth, options in cases:
        spp = SAMPLES[ct]
        palette = trns = None
        if ct == 3:
            entries = min(1 << depth, 200)
            palette = rng.integers(0, 256, size=(entries, 3))
            samples = rng.integers(0, entries, size=(H, W, 1))
            if options.get("trns"):
                trns = bytes(rng.integers(0, 256, size=max(1, entries - 3)).astype(np.uint8))  # shorter than palette
        elif depth in (8, 16) and not options.get("key"):
            samples = smooth_samples(H, W, spp, depth) if depth == 8 else random_samples(H, W, spp, depth)
        else:
            samples = random_samples(H, W, spp, depth)
        if options.get("key"):
            key = samples[3, 4].copy()
            samples[7, 2] = key  # At least two pixels match the key.
            trns = b"".join(struct.pack(">H", int(v)) for v in key)
        path = os.path.join(folder, name + ".png")
        write_png(path, samples, ct, depth, interlace=options.get("interlace", False), palette=palette, trns=trns,
                  idat_pieces=options.get("pieces", 1))
        expected = expected_pixels(samples, ct, depth, palette, trns)
        np.save(os.path.join(folder, name + ".npy"), expected.astype(np.uint8))
        cross_check(path, samples, ct, depth, palette, trns, expected)


def cross_check(path, samples, ct, depth, palette, trns, expected):
    """Pillow must read back the samples the writer was given (it keeps 16-bit gray as 16-bit)."""
    from PIL import Image
    image = Image.open(path)
    image.load()
    data = np.asarray(image)
    if ct == 3:
        assert np.array_equal(data, samples[..., 0]), path
    elif ct == 0 and depth == 16:
        assert np.array_equal(data.astype(np.int64), samples[..., 0]), path
    elif ct == 0 and depth == 1:
        assert np.array_equal(data.astype(np.int64), samples[..., 0]), path
    elif ct == 0 and depth < 8:
        assert np.array_equal(data.astype(np.int64), expected[..., 0]), path
    elif depth == 8:
        ours = expected[..., :samples.shape[2]]
        assert np.array_equal(data.reshape(ours.shape), ours), path
    # Pillow reduces 16-bit color to 8 bits by truncation, which the expected values do not use: only shape checks.
    assert data.shape[:2] == samples.shape[:2], path


def make_omniglot():
    """A 105×105 1-bit black-on-white drawing, saved by Pillow in mode "1" like the Omniglot data set's files."""
    from PIL import Image, ImageDraw
    folder = os.path.join(HERE, "omniglot", "Alphabet_of_the_Fixtures", "character01")
    os.makedirs(folder, exist_ok=True)
    image = Image.new("1", (105, 105), 1)
    draw = ImageDraw.Draw(image)
    draw.line([(20, 20), (80, 30), (50, 85)], fill=0, width=3)
    draw.ellipse([30, 40, 60, 70], outline=0, width=2)
    path = os.path.join(folder, "0101_01.png")
    image.save(path, optimize=True)
    ink = np.asarray(Image.open(path).convert("L")) == 0  # True where the pen drew.
    # Packed 8 pixels a byte (rows padded to 14 bytes) to keep the fixture small; np.unpackbits restores it.
    np.save(os.path.join(folder, "0101_01_ink_packed.npy"), np.packbits(ink, axis=1))


def make_npy():
    folder = os.path.join(HERE, "npy")
    os.makedirs(folder, exist_ok=True)
    np.save(os.path.join(folder, "f4_2x3.npy"), np.arange(6, dtype=np.float32).reshape(2, 3) / 4)
    np.save(os.path.join(folder, "i4_2x2.npy"), np.array([[1, -2], [300000, -400000]], dtype=np.int32))
    np.save(os.path.join(folder, "b1_bool.npy"), np.array([True, False, True, True, False]))
    np.save(os.path.join(folder, "i8_scalar.npy"), np.array(-7, dtype=np.int64))
    np.save(os.path.join(folder, "u1_empty.npy"), np.zeros((0, 4), dtype=np.uint8))
    from numpy.lib import format as npformat
    for version in ((2, 0), (3, 0)):
        with open(os.path.join(folder, f"i4_v{version[0]}.npy"), "wb") as f:
            npformat.write_array(f, np.array([[1, -2, 3]], dtype=np.int32), version=version)
    # Not read by ReptileFormats (it takes little-endian bool, uint8, int32, int64 and float32 in C order).
    np.save(os.path.join(folder, "i4_big_endian.npy"), np.array([[1, -2], [300000, -400000]], dtype=">i4"))
    np.save(os.path.join(folder, "f2_half.npy"), np.array([0, 1, -2, 0.5], dtype=np.float16))
    np.save(os.path.join(folder, "i4_fortran.npy"), np.asfortranarray(np.arange(6, dtype=np.int32).reshape(2, 3)))
    np.save(os.path.join(folder, "structured.npy"), np.zeros(2, dtype=[("x", "<f4"), ("y", "<i4")]))
    np.save(os.path.join(folder, "complex.npy"), np.zeros(2, dtype=np.complex64))


def make_npz():
    folder = os.path.join(HERE, "npz")
    os.makedirs(folder, exist_ok=True)
    images = np.zeros((3, 2, 5, 5), dtype=bool)
    images[0, 0, 1:4, 2] = True
    images[1, 1] = np.eye(5, dtype=bool)
    images[2, 0, 4, :] = True
    images[2, 1, ::2, ::2] = True
    labels = np.array([[0, 0], [1, 1], [2, 2]], dtype=np.int64) * 1000 - 1
    weights = (np.arange(12, dtype=np.float32).reshape(3, 4) - 5.5) / 8
    np.savez_compressed(os.path.join(folder, "compressed.npz"), images=images, labels=labels, weights=weights)
    np.savez(os.path.join(folder, "stored.npz"), images=images, labels=labels, weights=weights)


def make_zips():
    folder = os.path.join(HERE, "zip")
    os.makedirs(folder, exist_ok=True)
    hello = b"Hello, zip! " * 40
    # ZIP64 everywhere: pretend the zip64 limit is tiny, so Python writes zip64 extra fields in the central
    # directory (sizes and offset) and a zip64 end-of-central-directory record and locator.
    saved = zipfile.ZIP64_LIMIT
    zipfile.ZIP64_LIMIT = 16
    try:
        with zipfile.ZipFile(os.path.join(folder, "zip64.zip"), "w", zipfile.ZIP_DEFLATED) as z:
            z.writestr("hello.txt", hello)
            z.writestr("dir/", b"")
            z.writestr("stored.bin", bytes(range(256)), compress_type=zipfile.ZIP_STORED)
    finally:
        zipfile.ZIP64_LIMIT = saved
    with zipfile.ZipFile(os.path.join(folder, "zip64.zip")) as z:
        assert z.read("hello.txt") == hello
    # Info-ZIP streaming from stdin to stdout (a pipe, so it cannot seek back): sizes and CRC in a data
    # descriptor after the data (flag bit 3), zip64 local extra field.
    result = subprocess.run("zip -q - - | cat", shell=True, input=hello, check=True, capture_output=True)
    with open(os.path.join(folder, "streamed.zip"), "wb") as f:
        f.write(result.stdout)
    # A comment after the end-of-central-directory record, and non-UTF-8 (code page 437) names.
    with zipfile.ZipFile(os.path.join(folder, "comment.zip"), "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("a.txt", b"alpha")
        z.writestr("b.txt", b"")
        z.comment = b"archive comment PK\x05\x06 with a fake signature inside"


def make_safetensors():
    """A file written by the reference implementation (which sorts tensors by dtype alignment, then name)."""
    from safetensors.numpy import save_file
    folder = os.path.join(HERE, "safetensors")
    os.makedirs(folder, exist_ok=True)
    save_file({
        "weight": (np.arange(6, dtype=np.float32).reshape(2, 3) - 2) / 4,
        "step": np.array([3, -1, 2**40, 0], dtype=np.int64),
        "half": np.array([1.0, -0.5], dtype=np.float16),
        "mask": np.array([[True, False], [False, True]]),
        "bytes": np.array([1, 2, 255], dtype=np.uint8),
    }, os.path.join(folder, "python.safetensors"), metadata={"format": "np", "note": "written by safetensors"})


if __name__ == "__main__":
    make_safetensors()
    make_pngs()
    make_omniglot()
    make_npy()
    make_npz()
    make_zips()
    print("fixtures written to", HERE)
