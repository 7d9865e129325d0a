#!/usr/bin/env python3
"""Make the miniature fixture of Lake et al.'s one-shot runs for the tests, in the published
all_runs layout: runNN/training/classNN.png (one drawing of each of 20 characters), runNN/test/itemNN.png
(another drawing of each, in shuffled order), runNN/class_labels.txt ("runNN/test/itemNN.png
runNN/training/classMM.png" per line), from the evaluation alphabets of the built-in Omniglot data
(as the real runs are). 105×105 black-on-white 1-bit PNGs. answers.json records each file's
character, so the tests can check the pairing; OUT.zip holds the same runs under all_runs/.

    python3 scripts/make_omniglot_runs_fixture.py Tests/ReptileDataTests/Fixtures/omniglot-runs
"""

import json
import os
import random
import struct
import sys
import zipfile
import zlib

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SOURCE = os.path.join(ROOT, "Sources", "ReptileData", "Resources", "omniglot", "images_evaluation.npz")


def png_1bit(pixels):
    """A 1-bit grayscale PNG of a 2-D bool array (True = white background)."""
    height, width = pixels.shape
    rows = b"".join(b"\x00" + np.packbits(row.astype(np.uint8)).tobytes() for row in pixels)
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows, 9)) + chunk(b"IEND", b""))


def main():
    out = sys.argv[1]
    data = np.load(SOURCE)
    images = data["images"]            # characters × 20 × 105 × 105, True = background
    rng = random.Random(2015)
    answers = {}
    for run in (1, 2):
        name = f"run{run:02d}"
        # Like the real runs: 20 characters of one evaluation alphabet (here: 20 consecutive characters).
        first = rng.randrange(0, images.shape[0] - 20)
        characters = list(range(first, first + 20))
        order = characters[:]
        rng.shuffle(order)               # which character each test item shows
        for sub in ("training", "test"):
            os.makedirs(os.path.join(out, name, sub), exist_ok=True)
        lines = []
        for c, character in enumerate(characters):
            drawing = rng.randrange(20)
            with open(os.path.join(out, name, "training", f"class{c + 1:02d}.png"), "wb") as f:
                f.write(png_1bit(images[character, drawing]))
            answers[f"{name}/training/class{c + 1:02d}.png"] = 965 + character
        for i, character in enumerate(order):
            drawing = rng.randrange(20)
            with open(os.path.join(out, name, "test", f"item{i + 1:02d}.png"), "wb") as f:
                f.write(png_1bit(images[character, drawing]))
            answers[f"{name}/test/item{i + 1:02d}.png"] = 965 + character
            lines.append(f"{name}/test/item{i + 1:02d}.png {name}/training/class{characters.index(character) + 1:02d}.png")
        with open(os.path.join(out, name, "class_labels.txt"), "w") as f:
            f.write("\n".join(lines) + "\n")
    with open(os.path.join(out, "answers.json"), "w") as f:
        json.dump(answers, f, indent=1, sort_keys=True)
    # The same runs zipped under all_runs/, as the published all_runs.zip holds them.
    with zipfile.ZipFile(out.rstrip("/") + ".zip", "w", zipfile.ZIP_DEFLATED) as z:
        for folder, _, names in sorted(os.walk(out)):
            for name in sorted(names):
                if name != "answers.json":
                    full = os.path.join(folder, name)
                    z.write(full, "all_runs/" + os.path.relpath(full, out))


if __name__ == "__main__":
    main()
