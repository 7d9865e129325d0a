// Compiles the loops of the header named by ISA_BODY once per instruction set (portable, and on
// x86-64 also AVX2 and AVX-512), each variant suffixed by its set, and defines PICK(f, ...) to call
// the variant the microkernels chose at run time. Define ISA_BODY, then include this file once.

#define SUFFIX generic
#define TARGET
#define VW 4
#include ISA_BODY
#undef SUFFIX
#undef TARGET
#undef VW

#if defined(__x86_64__)
#define SUFFIX avx512
#define TARGET __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl")))
#define VW 16
#include ISA_BODY
#undef SUFFIX
#undef TARGET
#undef VW
#define SUFFIX avx2
#define TARGET __attribute__((target("avx2")))
#define VW 8
#include ISA_BODY
#undef SUFFIX
#undef TARGET
#undef VW
static int lanes(void) { return reptile_microkernels_selected()->lanes; }
#define PICK(f, ...) (lanes() == 16 ? f##_avx512(__VA_ARGS__) : lanes() == 8 ? f##_avx2(__VA_ARGS__) : f##_generic(__VA_ARGS__))
#else
#define PICK(f, ...) f##_generic(__VA_ARGS__)
#endif
