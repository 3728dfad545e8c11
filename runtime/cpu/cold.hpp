// CROTON_COLD_BEGIN / CROTON_COLD_END bracket runtime code whose speed does not depend on the
// optimizer (BLAS and LAPACK drivers, index bookkeeping, error paths): g++ compiles it at -O1,
// which takes a third of the -O3 time in every generated translation unit that includes it.
// Hot loops (elementwise, reductions, convolutions) stay outside, at the flags' level.
#pragma once

#if defined(__GNUC__) && !defined(__clang__) && !defined(CROTON_NO_COLD)
#define CROTON_COLD_BEGIN _Pragma("GCC push_options") _Pragma("GCC optimize(\"O1\")")
#define CROTON_COLD_END _Pragma("GCC pop_options")
#else
#define CROTON_COLD_BEGIN
#define CROTON_COLD_END
#endif
