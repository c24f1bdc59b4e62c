// FROST_CPU_CLONES: a hot loop compiled twice, x86-64-v3 (AVX2 + FMA, chosen by CPU features, not model:
// "arch=haswell" would leave AMD CPUs on the baseline) and baseline x86-64; the loader picks one at
// start-up (GCC target_clones: the run-time dispatch of DESIGN principle 10, no -march flag).
//
// Not in ThreadSanitizer builds (FROST_TSAN defines FROST_NO_CPU_CLONES): the loader runs each clone's
// resolver (an IFUNC) while relocating the library, before TSan's runtime is initialised, and the
// instrumented resolver crashes there. Those builds take the baseline loops.
#pragma once

#if defined(FROST_NO_CPU_CLONES)
#define FROST_CPU_CLONES
#else
#define FROST_CPU_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
#endif
