#!/usr/bin/env python3
"""Checks the library's public API from the compiled modules' symbol graphs.

Fails when a public declaration outside the kernels' module has an `Unsafe…` pointer type in its
signature (pointers are for the kernels; everything else takes arrays, values or `FloatView`),
and prints how many public types `import Reptile` brings in, module by module.

    swift build -c release -Xswiftc -enable-testing --build-tests   # or any release build
    python3 scripts/check_public_api.py [BUILD_DIR]                  # default .build/release
"""
import json
import os
import subprocess
import sys
import tempfile

build = sys.argv[1] if len(sys.argv) > 1 else ".build/release"
modules_dir = os.path.join(build, "Modules")
if not os.path.isdir(modules_dir):
    sys.exit(f"error: {modules_dir} not found: build the package in release first")
triple = os.path.basename(os.path.dirname(os.path.realpath(build)))
library_modules = ["ReptileNN", "ReptileMeta", "ReptileData", "ReptileCheckpoint", "ReptileMPI",
                   "ReptileFormats", "ReptilePlot", "ReptileExperiments"]
type_kinds = {"swift.struct", "swift.class", "swift.enum", "swift.protocol", "swift.typealias"}

# The package's own C modules: SwiftPM generates the maps of the C targets; the system libraries
# have theirs in Sources.
module_maps = []
for path in [os.path.join(os.path.realpath(build), "CReptileKernels.build", "module.modulemap"),
             os.path.join(os.path.realpath(build), "CJPEG.build", "module.modulemap"),
             "Sources/CZlib/module.modulemap", "Sources/CMPI/module.modulemap"]:
    if os.path.exists(path):
        module_maps += ["-Xcc", "-fmodule-map-file=" + path]

failures = []
with tempfile.TemporaryDirectory() as out:
    for module in library_modules:
        if not os.path.exists(os.path.join(modules_dir, module + ".swiftmodule")):
            sys.exit(f"error: module {module} not built in {build}")
        subprocess.run(["swift-symbolgraph-extract", "-module-name", module, "-I", modules_dir,
                        "-I", os.path.realpath(build), "-target", triple, "-output-dir", out,
                        "-minimum-access-level", "public"] + module_maps, check=True)
    graphs = {}
    for name in os.listdir(out):
        module = name.split(".symbols.json")[0].split("@")[0]
        graphs.setdefault(module, []).append(json.load(open(os.path.join(out, name))))

# What `import Reptile` brings: the modules and single declarations Sources/Reptile re-exports.
exported_modules, exported_single = set(), 0
for line in open("Sources/Reptile/Reptile.swift"):
    words = line.split()
    if words[:2] == ["@_exported", "import"]:
        if len(words) == 3:
            exported_modules.add(words[2])
        else:
            exported_single += 1
umbrella_total = exported_single
for module in library_modules:
    types = set()
    for graph in graphs.get(module, []):
        for symbol in graph["symbols"]:
            if symbol["accessLevel"] not in ("public", "open"):
                continue
            declaration = "".join(f["spelling"] for f in symbol.get("declarationFragments", []))
            if "Unsafe" in declaration:
                path = ".".join(symbol["pathComponents"])
                location = symbol.get("location", {}).get("uri", "").split("/Sources/")[-1]
                failures.append(f"{module}.{path} ({location}): {declaration}")
            if symbol["kind"]["identifier"] in type_kinds and len(symbol["pathComponents"]) == 1:
                types.add(symbol["pathComponents"][0])
    exported = module in exported_modules
    umbrella_total += len(types) if exported else 0
    print(f"{module:20} {len(types):4} public types{'  (import Reptile)' if exported else ''}")
print(f"import Reptile: {umbrella_total} public types ({exported_single} single re-exported declarations included)")

if failures:
    print(f"\n{len(failures)} public declarations outside ReptileKernels have an Unsafe type:")
    for f in failures:
        print("  " + f)
    sys.exit(1)
print("no public declaration outside ReptileKernels has an Unsafe type")
