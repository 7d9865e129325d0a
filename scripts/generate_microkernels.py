#!/usr/bin/env python3
"""Generates Sources/CReptileKernels/microkernels.c.

The register-blocked inner loops of the matrix products need one accumulator variable per
(row, column vector) so that the compiler keeps them all in registers; the few tile shapes used
are spelled out by this script, once per instruction set, each function compiled for its own
instructions with a `target` attribute so that one binary carries them all and picks at run time
(reptile_kernels.c). Run it after changing the shapes:  python3 scripts/generate_microkernels.py

Every variant computes each output element with the same sequence of operations (a sum over taps,
then depth, in order); variants differ only in vector width, in whether that sum uses fused
multiply-adds, and in how many columns one pass covers (narrower registers take a tile's columns
in several passes, re-reading its rows).
"""
import os

# (rows R, 16-column blocks V): the tiles the Swift matrix code asks for.
SHAPES = [(5, 4), (12, 2), (8, 2), (9, 2), (12, 1)]

# name, C guard, target attribute, floats per vector, vector registers, fused multiply-add
ISAS = [
    ("avx512", "defined(__x86_64__)", "avx512f,avx512bw,avx512dq,avx512vl,avx2,fma", 16, 32, True),
    ("avx2", "defined(__x86_64__)", "avx2,fma", 8, 16, True),
    ("neon", "defined(__aarch64__)", None, 4, 32, True),
    ("generic", "!defined(__aarch64__)", None, 4, 16, False),
]


def vectors_per_pass(R, V, width, registers):
    """The most column vectors per pass that divide the tile and leave room for the row of B and a broadcast."""
    total = V * 16 // width
    return max(d for d in range(1, total + 1) if total % d == 0 and R * d + d + 1 <= registers or d == 1)


def kernels(isa, target, width, registers, fused):
    vt = f"rv{width}"
    attr = f'__attribute__((target("{target}"))) ' if target else ""
    def fma(acc, x, b):
        return f"{acc} = __builtin_elementwise_fma({x}, {b}, {acc});" if fused else f"{acc} = {acc} + {x} * {b};"
    def splat(x):
        return f"({vt}){{" + ", ".join([x] * width) + "}"
    def zeroed(R, n):
        """The R × n accumulators, zero."""
        return ["        " + " ".join(f"{vt} c{r}_{v} = {{0}};" for v in range(n)) for r in range(R)]
    def stores(R, n):
        """Each row's accumulators into C, added to it or in place of it."""
        return [f"        {{ {vt} *out = ({vt} *)(c[{r}] + col); if (accumulate) {{ "
                + " ".join(f"out[{v}] += c{r}_{v};" for v in range(n)) + " } else { "
                + " ".join(f"out[{v}] = c{r}_{v};" for v in range(n)) + " } }" for r in range(R)]
    L = []
    for R, V in SHAPES:
        n = vectors_per_pass(R, V, width, registers)
        passes = V * 16 // width // n
        span = n * width
        # rows kernel
        L.append(f"static {attr}void rows_{R}x{V*16}_{isa}(const float *const *a, long taps, long depth, const float *b, long ldb,")
        L.append(f"        long tap_stride, float *const *c, int accumulate, const float *bias) {{")
        L.append(f"    for (long col = 0; col < {passes * span}; col += {span}) {{")
        L.extend(zeroed(R, n))
        L.append(f"        for (long t = 0; t < taps; t++) {{")
        L.append("            " + " ".join(f"const float *a{r} = a[t * {R} + {r}];" for r in range(R)))
        L.append(f"            const float *bp = b + t * tap_stride + col;")
        L.append(f"            for (long k = 0; k < depth; k++) {{")
        L.append("                " + " ".join(f"const {vt} b{v} = *(const {vt} *)(bp + {v * width});" for v in range(n)))
        for r in range(R):
            L.append(f"                {{ const {vt} x = {splat(f'a{r}[k]')}; " + " ".join(fma(f"c{r}_{v}", "x", f"b{v}") for v in range(n)) + " }")
        L.append(f"                bp += ldb;")
        L.append(f"            }}")
        L.append(f"        }}")
        L.append(f"        if (bias) {{")
        L.append("            " + " ".join(f"const {vt} bias{v} = *(const {vt} *)(bias + col + {v * width});" for v in range(n)))
        for r in range(R):
            L.append("            " + " ".join(f"c{r}_{v} += bias{v};" for v in range(n)))
        L.append(f"        }}")
        L.extend(stores(R, n))
        L.append(f"    }}")
        L.append(f"}}")
        L.append("")
        # outer-product kernel
        L.append(f"static {attr}void outer_{R}x{V*16}_{isa}(const float *const *a, long a_offset, const float *const *b, long count,")
        L.append(f"        float *const *c, int accumulate, int resume) {{")
        L.append(f"    for (long col = 0; col < {passes * span}; col += {span}) {{")
        L.extend(zeroed(R, n))
        L.append(f"        if (resume) {{")
        for r in range(R):
            L.append(f"            {{ const {vt} *in = (const {vt} *)(c[{r}] + col); " + " ".join(f"c{r}_{v} = in[{v}];" for v in range(n)) + " }")
        L.append(f"        }}")
        L.append(f"        for (long j = 0; j < count; j++) {{")
        L.append(f"            const float *aj = a[j] + a_offset;")
        L.append(f"            const float *bj = b[j] + col;")
        L.append("            " + " ".join(f"const {vt} b{v} = *(const {vt} *)(bj + {v * width});" for v in range(n)))
        for r in range(R):
            L.append(f"            {{ const {vt} x = {splat(f'aj[{r}]')}; " + " ".join(fma(f"c{r}_{v}", "x", f"b{v}") for v in range(n)) + " }")
        L.append(f"        }}")
        L.extend(stores(R, n))
        L.append(f"    }}")
        L.append(f"}}")
        L.append("")
    # the multiply-add peak: 12 independent accumulators, no memory traffic
    L.append(f"static {attr}float peak_loop_{isa}(long rounds) {{")
    L.append(f"    const {vt} a = {splat('0.99999f')}, b = {splat('1e-6f')};")
    L.append("    " + " ".join(f"{vt} c{i} = {{0}};" for i in range(12)))
    L.append(f"    for (long i = 0; i < rounds; i++) {{")
    L.append("        " + " ".join(fma(f"c{i}", "a", "b") for i in range(12)))
    L.append(f"    }}")
    L.append(f"    const {vt} s = ((c0 + c1) + (c2 + c3)) + ((c4 + c5) + (c6 + c7)) + ((c8 + c9) + (c10 + c11));")
    L.append(f"    float sum = 0; for (int i = 0; i < {width}; i++) sum += s[i];")
    L.append(f"    return sum;")
    L.append(f"}}")
    L.append("")
    L.append(f"const reptile_microkernels reptile_microkernels_{isa} = {{")
    L.append(f'    .name = "{isa}", .lanes = {width}, .fused = {1 if fused else 0}, .peak_loop = peak_loop_{isa},')
    for R, V in SHAPES:
        L.append(f"    .rows_{R}x{V*16} = rows_{R}x{V*16}_{isa}, .outer_{R}x{V*16} = outer_{R}x{V*16}_{isa},")
    L.append(f"}};")
    return L


BF16_TARGET = "avx512f,avx512bw,avx512dq,avx512vl,avx512bf16,avx2,fma"


def bf16_kernels():
    """Rows and outer kernels whose A and B hold pairs of bf16 in each 32-bit word: for the rows
    kernel consecutive depth indices 2p, 2p + 1 (`depth` counting pairs), for the outer kernel
    two summed rows (each A[j] and B[j] a pair of rows): one VDPBF16PS adds both products of a
    pair to each fp32 sum."""
    attr = f'__attribute__((target("{BF16_TARGET}"))) '
    L = []
    for R, V in SHAPES:
        n = V
        L.append(f"static {attr}void rows_{R}x{V*16}_bf16(const float *const *a, long taps, long depth, const float *b, long ldb,")
        L.append(f"        long tap_stride, float *const *c, int accumulate, const float *bias) {{")
        for r in range(R):
            L.append("    " + " ".join(f"__m512 c{r}_{v} = _mm512_setzero_ps();" for v in range(n)))
        L.append(f"    for (long t = 0; t < taps; t++) {{")
        L.append("        " + " ".join(f"const float *a{r} = a[t * {R} + {r}];" for r in range(R)))
        L.append(f"        const float *bp = b + t * tap_stride;")
        L.append(f"        for (long k = 0; k < depth; k++) {{")
        L.append("            " + " ".join(f"const __m512bh b{v} = (__m512bh)_mm512_loadu_ps(bp + {v * 16});" for v in range(n)))
        for r in range(R):
            L.append(f"            {{ const __m512bh x = (__m512bh)_mm512_set1_ps(a{r}[k]); "
                     + " ".join(f"c{r}_{v} = _mm512_dpbf16_ps(c{r}_{v}, x, b{v});" for v in range(n)) + " }")
        L.append(f"            bp += ldb;")
        L.append(f"        }}")
        L.append(f"    }}")
        L.append(f"    if (bias) {{")
        L.append("        " + " ".join(f"const __m512 bias{v} = _mm512_loadu_ps(bias + {v * 16});" for v in range(n)))
        for r in range(R):
            L.append("        " + " ".join(f"c{r}_{v} = _mm512_add_ps(c{r}_{v}, bias{v});" for v in range(n)))
        L.append(f"    }}")
        for r in range(R):
            L.append(f"    if (accumulate) {{ " + " ".join(f"_mm512_storeu_ps(c[{r}] + {v * 16}, _mm512_add_ps(_mm512_loadu_ps(c[{r}] + {v * 16}), c{r}_{v}));" for v in range(n))
                     + " } else { " + " ".join(f"_mm512_storeu_ps(c[{r}] + {v * 16}, c{r}_{v});" for v in range(n)) + " }")
        L.append(f"}}")
        L.append("")
        L.append(f"static {attr}void outer_{R}x{V*16}_bf16(const float *const *a, long a_offset, const float *const *b, long count,")
        L.append(f"        float *const *c, int accumulate, int resume) {{")
        for r in range(R):
            L.append("    " + " ".join(f"__m512 c{r}_{v} = resume ? _mm512_loadu_ps(c[{r}] + {v * 16}) : _mm512_setzero_ps();" for v in range(n)))
        L.append(f"    for (long j = 0; j < count; j++) {{")
        L.append(f"        const float *aj = a[j] + a_offset;")
        L.append(f"        const float *bj = b[j];")
        L.append("        " + " ".join(f"const __m512bh b{v} = (__m512bh)_mm512_loadu_ps(bj + {v * 16});" for v in range(n)))
        for r in range(R):
            L.append(f"        {{ const __m512bh x = (__m512bh)_mm512_set1_ps(aj[{r}]); "
                     + " ".join(f"c{r}_{v} = _mm512_dpbf16_ps(c{r}_{v}, x, b{v});" for v in range(n)) + " }")
        L.append(f"    }}")
        for r in range(R):
            L.append(f"    if (accumulate) {{ " + " ".join(f"_mm512_storeu_ps(c[{r}] + {v * 16}, _mm512_add_ps(_mm512_loadu_ps(c[{r}] + {v * 16}), c{r}_{v}));" for v in range(n))
                     + " } else { " + " ".join(f"_mm512_storeu_ps(c[{r}] + {v * 16}, c{r}_{v});" for v in range(n)) + " }")
        L.append(f"}}")
        L.append("")
    # the bf16 dot-product peak: 12 independent accumulators, 32 products each per instruction
    L.append(f"static {attr}float peak_loop_bf16(long rounds) {{")
    L.append(f"    const __m512bh a = (__m512bh)_mm512_set1_epi32(0x3f7f3f7f), b = (__m512bh)_mm512_set1_epi32(0x358637bd);")
    L.append("    " + " ".join(f"__m512 c{i} = _mm512_setzero_ps();" for i in range(12)))
    L.append(f"    for (long i = 0; i < rounds; i++) {{")
    L.append("        " + " ".join(f"c{i} = _mm512_dpbf16_ps(c{i}, a, b);" for i in range(12)))
    L.append(f"    }}")
    L.append(f"    __m512 s = c0;")
    L.append("    " + " ".join(f"s = _mm512_add_ps(s, c{i});" for i in range(1, 12)))
    L.append(f"    return _mm512_reduce_add_ps(s);")
    L.append(f"}}")
    L.append("")
    L.append(f"const reptile_microkernels reptile_microkernels_avx512bf16 = {{")
    L.append(f'    .name = "avx512bf16", .lanes = 16, .fused = 1, .peak_loop = peak_loop_bf16,')
    for R, V in SHAPES:
        L.append(f"    .rows_{R}x{V*16} = rows_{R}x{V*16}_bf16, .outer_{R}x{V*16} = outer_{R}x{V*16}_bf16,")
    L.append(f"}};")
    return L


out = ["// GENERATED by scripts/generate_microkernels.py — do not edit by hand.",
       "//",
       "// Register-blocked microkernels of the matrix products, one set per instruction set; each set is",
       "// compiled for its own instructions (a `target` attribute), and reptile_kernels.c picks one at run",
       "// time. Rows kernel: C[r] (+)= bias + sum over taps t and k < depth of A[t*R + r][k] * B[t*tap_stride +",
       "// k*ldb ..< +columns]. Outer kernel: C[r] (+)= sum over j < count of A[j][a_offset + r] * B[j][0 ..<",
       "// columns], a sum of outer products (weight gradients); with `resume` the sums start from C's values.",
       "// The bf16 kernels (x86-64 with AVX512-BF16) take A and B as pairs of bf16 per 32-bit word.",
       "#include \"CReptileKernels.h\"",
       "",
       "#pragma clang fp contract(off)  // a multiply-add is fused only where written so",
       "",
       "typedef float rv16 __attribute__((vector_size(64), aligned(4)));  // aligned(4): unaligned loads and stores",
       "typedef float rv8 __attribute__((vector_size(32), aligned(4)));",
       "typedef float rv4 __attribute__((vector_size(16), aligned(4)));",
       ""]
for isa, guard, target, width, registers, fused in ISAS:
    out.append(f"#if {guard}")
    out += kernels(isa, target, width, registers, fused)
    out.append(f"#endif")
    out.append("")
out.append("#if defined(__x86_64__)")
out.append("#include <immintrin.h>")
out.append("")
out += bf16_kernels()
out.append("#endif")
out.append("")
path = os.path.join(os.path.dirname(__file__), "..", "Sources", "CReptileKernels", "microkernels.c")
with open(path, "w") as f:
    f.write("\n".join(out) + "\n")
print("wrote", os.path.normpath(path))
