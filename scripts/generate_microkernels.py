#!/usr/bin/env python3
"""Generates Sources/ReptileKernels/Microkernels.generated.swift.

The register-blocked inner loops of the matrix products need one accumulator variable per
(row, 16-lane column vector) so that LLVM keeps them all in registers; Swift has no way to write
"R x V accumulators" generically without losing that, so the few shapes we use are spelled out
by this script. Run it after changing the shapes:  python3 scripts/generate_microkernels.py
"""
import os

# (rows R, column vectors V): R*V accumulators of SIMD16<Float>. AVX-512 has 32 vector registers;
# R*V + V (B row) + 1 (broadcast) must fit.
SHAPES = [(5, 4), (12, 2), (8, 2), (9, 2), (12, 1)]

def fma(acc, x, b):
    return f"{acc} = {acc}.fma({x}, {b})"

def gen_rows_kernel(R, V):
    """C[r, :] (=|+=) sum_t sum_k A[t][r][k] * B[t*tapStride + k*ldb + :]  (A rows by pointer)."""
    L = []
    name = f"rowsKernel{R}x{V*16}"
    L.append(f"    /// {R} rows x {V*16} columns: `C[r] (+)= bias + sum over taps t and k < depth of "
             f"A[t*{R}+r][k] * B[t*tapStride + k*ldb ..< +{V*16}]`.")
    L.append(f"    @inline(__always)")
    L.append(f"    static func {name}(")
    L.append(f"        _ a: UnsafePointer<UnsafePointer<Float>>, taps: Int, depth: Int,")
    L.append(f"        _ b: UnsafePointer<Float>, ldb: Int, tapStride: Int,")
    L.append(f"        _ c: UnsafePointer<UnsafeMutablePointer<Float>>, accumulate: Bool, bias: UnsafePointer<Float>?")
    L.append(f"    ) {{")
    for r in range(R):
        L.append("        " + "; ".join(f"var c{r}_{v} = SIMD16<Float>()" for v in range(V)))
    L.append(f"        for t in 0..<taps {{")
    L.append("            " + "; ".join(f"let a{r} = a[t &* {R} &+ {r}]" for r in range(R)))
    L.append(f"            var bp = UnsafeRawPointer(b + t &* tapStride)")
    L.append(f"            let bStep = ldb &* 4")
    L.append(f"            for k in 0..<depth {{")
    L.append("                " + "; ".join(f"let b{v} = (bp + {v*64}).loadUnaligned(as: SIMD16<Float>.self)" for v in range(V)))
    for r in range(R):
        L.append(f"                let x{r} = SIMD16<Float>(repeating: a{r}[k])")
        L.append("                " + "; ".join(fma(f"c{r}_{v}", f"x{r}", f"b{v}") for v in range(V)))
    L.append(f"                bp += bStep")
    L.append(f"            }}")
    L.append(f"        }}")
    L.append(f"        if let bias {{")
    L.append(f"            let braw = UnsafeRawPointer(bias)")
    L.append("            " + "; ".join(f"let bias{v} = (braw + {v*64}).loadUnaligned(as: SIMD16<Float>.self)" for v in range(V)))
    for r in range(R):
        L.append("            " + "; ".join(f"c{r}_{v} += bias{v}" for v in range(V)))
    L.append(f"        }}")
    for r in range(R):
        L.append(f"        store{V}(c[{r}], accumulate, " + ", ".join(f"c{r}_{v}" for v in range(V)) + ")")
    L.append(f"    }}")
    return "\n".join(L)

def gen_outer_kernel(R, V):
    """C[r, :] (=|+=) sum_j A[j][r] * B[j][:]  (a sum of outer products; both operands by pointer)."""
    L = []
    name = f"outerKernel{R}x{V*16}"
    L.append(f"    /// {R} rows x {V*16} columns: `C[r] (+)= sum over j < count of A[j][r] * B[j][0 ..< {V*16}]`"
             f" with A[j] offset by `aOffset` (a sum of outer products, as in weight gradients).")
    L.append(f"    /// With `resume`, the sums start from C's values instead of zero (then pass `accumulate: false`):")
    L.append(f"    /// a sum cut into runs of j gives the floats of one uncut run.")
    L.append(f"    @inline(__always)")
    L.append(f"    static func {name}(")
    L.append(f"        _ a: UnsafePointer<UnsafePointer<Float>>, aOffset: Int, _ b: UnsafePointer<UnsafePointer<Float>>, count: Int,")
    L.append(f"        _ c: UnsafePointer<UnsafeMutablePointer<Float>>, accumulate: Bool, resume: Bool")
    L.append(f"    ) {{")
    for r in range(R):
        L.append("        " + "; ".join(f"var c{r}_{v} = SIMD16<Float>()" for v in range(V)))
    L.append(f"        if resume {{")
    for r in range(R):
        L.append(f"            let raw{r} = UnsafeRawPointer(c[{r}])")
        L.append("            " + "; ".join(f"c{r}_{v} = (raw{r} + {v*64}).loadUnaligned(as: SIMD16<Float>.self)" for v in range(V)))
    L.append(f"        }}")
    L.append(f"        for j in 0..<count {{")
    L.append(f"            let aj = a[j] + aOffset")
    L.append(f"            let bj = UnsafeRawPointer(b[j])")
    L.append("            " + "; ".join(f"let b{v} = (bj + {v*64}).loadUnaligned(as: SIMD16<Float>.self)" for v in range(V)))
    for r in range(R):
        L.append(f"            let x{r} = SIMD16<Float>(repeating: aj[{r}])")
        L.append("            " + "; ".join(fma(f"c{r}_{v}", f"x{r}", f"b{v}") for v in range(V)))
    L.append(f"        }}")
    for r in range(R):
        L.append(f"        store{V}(c[{r}], accumulate, " + ", ".join(f"c{r}_{v}" for v in range(V)) + ")")
    L.append(f"    }}")
    return "\n".join(L)

def gen_store(V):
    L = []
    args = ", ".join(f"_ v{v}: SIMD16<Float>" for v in range(V))
    L.append(f"    @inline(__always)")
    L.append(f"    static func store{V}(_ p: UnsafeMutablePointer<Float>, _ accumulate: Bool, {args}) {{")
    L.append(f"        let raw = UnsafeMutableRawPointer(p)")
    L.append(f"        if accumulate {{")
    for v in range(V):
        L.append(f"            (raw + {v*64}).storeBytes(of: (raw + {v*64}).loadUnaligned(as: SIMD16<Float>.self) + v{v}, as: SIMD16<Float>.self)")
    L.append(f"        }} else {{")
    for v in range(V):
        L.append(f"            (raw + {v*64}).storeBytes(of: v{v}, as: SIMD16<Float>.self)")
    L.append(f"        }}")
    L.append(f"    }}")
    return "\n".join(L)

out = []
out.append("// GENERATED by scripts/generate_microkernels.py — do not edit by hand.")
out.append("//")
out.append("// Register-blocked microkernels: every (row, 16-lane vector) accumulator is its own variable so")
out.append("// that all of them live in vector registers for the whole inner loop.")
out.append("")
out.append("enum Microkernels {")
out.append("    /// Tile shapes available, as (rows, columns).")
out.append("    static let shapes: [(rows: Int, columns: Int)] = [" + ", ".join(f"({R}, {V*16})" for R, V in SHAPES) + "]")
out.append("")
for V in sorted(set(v for _, v in SHAPES)):
    out.append(gen_store(V))
    out.append("")
for R, V in SHAPES:
    out.append(gen_rows_kernel(R, V))
    out.append("")
    out.append(gen_outer_kernel(R, V))
    out.append("")
out.append("}")
path = os.path.join(os.path.dirname(__file__), "..", "Sources", "ReptileKernels", "Microkernels.generated.swift")
with open(path, "w") as f:
    f.write("\n".join(out) + "\n")
print("wrote", os.path.normpath(path))
