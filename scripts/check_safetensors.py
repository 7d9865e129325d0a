#!/usr/bin/env python3
"""Checks that a safetensors file written by Reptile for Swift opens with the reference implementation.

Usage:
    check_safetensors.py FILE EXPECTED

EXPECTED is a JSON object mapping each tensor name to its shape, given inline
('{"conv1.weight": [64, 1, 3, 3], "step": []}') or as the path of a file holding such an object.

The file is loaded with safetensors.numpy.load_file; every tensor's name, dtype, shape and checksums
(CRC-32 of its little-endian bytes, and the float64 sum of its values) are printed. The exit status is 0 when the
file holds exactly the expected names with the expected shapes, 1 on any mismatch, 2 on bad usage.
Needs numpy and safetensors (pip install numpy safetensors).
"""
import json
import os
import sys
import zlib

import numpy as np
from safetensors.numpy import load_file


def main(argv):
    if len(argv) != 3:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    path, expected_text = argv[1], argv[2]
    try:
        if os.path.exists(expected_text):
            with open(expected_text, encoding="utf-8") as f:
                expected = json.load(f)
        else:
            expected = json.loads(expected_text)
    except (OSError, json.JSONDecodeError) as error:
        print(f"error: cannot read the expected shapes: {error}", file=sys.stderr)
        return 2
    if not isinstance(expected, dict) or not all(isinstance(v, list) for v in expected.values()):
        print("error: EXPECTED must be a JSON object of name -> shape list", file=sys.stderr)
        return 2

    try:
        tensors = load_file(path)
    except Exception as error:  # The reference loader's own validation failed: that is the point of the check.
        print(f"FAIL {path}: safetensors cannot load it: {error}")
        return 1

    problems = []
    for name in sorted(tensors):
        array = tensors[name]
        data = array if array.flags.c_contiguous else array.copy(order="C")  # (ascontiguousarray would make scalars 1-d)
        little = data.astype(data.dtype.newbyteorder("<"), copy=False)
        crc = zlib.crc32(little.tobytes()) & 0xFFFFFFFF
        total = float(data.astype(np.float64).sum()) if data.dtype.kind in "biuf" else float("nan")
        print(f"{name}\t{data.dtype}\t{tuple(data.shape)}\tcrc32={crc:08x}\tsum={total!r}")
        if name not in expected:
            problems.append(f"unexpected tensor {name!r}")
        elif list(data.shape) != [int(d) for d in expected[name]]:
            problems.append(f"tensor {name!r} has shape {list(data.shape)}, expected {expected[name]}")
    for name in sorted(set(expected) - set(tensors)):
        problems.append(f"missing tensor {name!r}")

    for problem in problems:
        print(f"FAIL {path}: {problem}")
    if not problems:
        print(f"OK {path}: {len(tensors)} tensors")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
