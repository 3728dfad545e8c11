// Threads for generated loops and for BLAS calls, on croton's one pool (thread_pool.hpp).
#pragma once
#include <cstdint>
#include <type_traits>

#include "thread_pool.hpp"

// Threads for generated loops and BLAS splits, on croton's own pool (thread_pool.hpp).
// parallel_for splits [0, n) into chunks (two per thread) when the loop has more than
// CROTON_OMP_MIN_WORK units of work (elements x the ops' cost in adds; below that, starting the
// second thread costs more than it saves); the chunk body is an ordinary loop the compiler
// vectorizes. CROTON_OMP(x) is a pragma (`omp simd` only) when built with -fopenmp.
#define CROTON_PRAGMA(x) _Pragma(#x)
#if defined(_OPENMP)
#define CROTON_OMP(x) CROTON_PRAGMA(x)
#else
#define CROTON_OMP(x)
#endif
#ifndef CROTON_OMP_MIN_WORK
#define CROTON_OMP_MIN_WORK 32768
#endif

namespace croton {

// The threaded part, written once per translation unit: runs fn(ctx, lo, hi, c) on chunks
// c = 0, 1, ... of [0, n) (at most 64, in order of c they tile [0, n)) and returns the number of
// chunks, or runs nothing and returns 0 when the work is too small to share or the pool is busy
// (the caller then runs it alone). Kernels reach it through the templates below, which pass the
// loop as a type-erased function, so each loop body is compiled once.
// `min_work` and `chunks_per_thread` are the target's parallel policy (codegen/target.py:
// ParallelPolicy); generated code passes them only when they differ from these defaults.
__attribute__((noinline, noclone)) inline int parallel_chunks(
    int64_t n, int64_t work, ChunkFn fn, void* ctx, int64_t min_work = CROTON_OMP_MIN_WORK,
    int chunks_per_thread = 2) {
  const int threads = pool_threads();
  if (work > min_work && n > 1 && threads > 1) {
    int64_t chunks = int64_t(chunks_per_thread) * int64_t(threads);
    chunks = chunks < 64 ? chunks : 64;
    chunks = chunks < n ? chunks : n;
    if (ThreadPool::instance().run(n, int(chunks), fn, ctx)) return int(chunks);
  }
  return 0;
}

// One chunk of a loop, never inlined into its caller: the loop body is compiled once, in a
// small function the vectorizer handles (inlined into a large call_impl, g++ 12 left the
// serial loop scalar: tanhf per element instead of 16 at a time).
template <class Body>
__attribute__((noinline)) void run_chunk(void* ctx, int64_t lo, int64_t hi, int) {
  (*static_cast<Body*>(ctx))(lo, hi);
}

// body(lo, hi) over [0, n), in chunks shared by the pool's threads when `work` (elements x
// cost) is large enough.
template <class Body>
inline void parallel_for(int64_t n, int64_t work, Body&& body) {
  using B = std::remove_reference_t<Body>;
  if (parallel_chunks(n, work, &run_chunk<B>, &body) == 0 && n > 0) run_chunk<B>(&body, 0, n, 0);
}

// parallel_for under another parallel policy than the runtime's default (a target's own).
template <class Body>
inline void parallel_for_policy(int64_t min_work, int chunks_per_thread, int64_t n, int64_t work,
                                Body&& body) {
  using B = std::remove_reference_t<Body>;
  if (parallel_chunks(n, work, &run_chunk<B>, &body, min_work, chunks_per_thread) == 0 && n > 0)
    run_chunk<B>(&body, 0, n, 0);
}

// body(0, n) on the calling thread: the loop of a target that does not thread (the plan decided
// it; Target.threads == 1), compiled like one chunk of parallel_for.
template <class Body>
inline void serial_for(int64_t n, Body&& body) {
  using B = std::remove_reference_t<Body>;
  if (n > 0) run_chunk<B>(&body, 0, n, 0);
}

// parallel_reduce's result computed on the calling thread (one chunk).
template <class Acc, class Chunk, class Combine>
inline Acc serial_reduce(int64_t n, Acc identity, Chunk&& chunk, Combine&& combine) {
  return n > 0 ? combine(identity, chunk(int64_t(0), n)) : identity;
}

// The sum (or product: `combine`) of chunk(lo, hi) partial results over [0, n), threaded like
// parallel_for; partials are combined in chunk order, so results do not vary run to run.
template <class Acc, class Chunk, class Combine>
inline Acc parallel_reduce_policy(int64_t min_work, int chunks_per_thread, int64_t n, int64_t work,
                                  Acc identity, Chunk&& chunk, Combine&& combine) {
  struct Context {
    Chunk* chunk;
    Acc partial[64];
  } ctx{&chunk, {}};
  for (Acc& p : ctx.partial) p = identity;
  auto run = [](void* c, int64_t lo, int64_t hi, int t) __attribute__((noinline)) {
    auto* context = static_cast<Context*>(c);
    context->partial[t] = (*context->chunk)(lo, hi);
  };
  int used = parallel_chunks(n, work, run, &ctx, min_work, chunks_per_thread);
  if (used == 0 && n > 0) {
    run(&ctx, 0, n, 0);
    used = 1;
  }
  Acc acc = identity;
  for (int t = 0; t < used; ++t) acc = combine(acc, ctx.partial[t]);
  return acc;
}

// parallel_reduce_policy under the runtime's default policy.
template <class Acc, class Chunk, class Combine>
inline Acc parallel_reduce(int64_t n, int64_t work, Acc identity, Chunk&& chunk,
                           Combine&& combine) {
  return parallel_reduce_policy(CROTON_OMP_MIN_WORK, 2, n, work, identity,
                                static_cast<Chunk&&>(chunk), static_cast<Combine&&>(combine));
}

// The sum (Op '+') or product ('*') of acc and value(i) over [lo, hi), vectorized: in blocks
// of 4096 elements read in order, 32 partial results of type Block (lane j takes the elements
// j, j + 32, ...: a few SIMD registers, independent chains that keep the adders busy), folded
// into acc once per block. With Block float and Acc double (a float32 sum), each lane adds 128
// values in float: the error stays near NumPy's pairwise summation, at the speed of memory.
// One forward stream per thread: the hardware prefetcher follows it across pages (the former
// four streams 4 KB apart each started a new page every block, and ran sum(x**2) over 10M
// float32 in 1.6-1.8 ms on one core against 1.0-1.1 ms now).
template <class Block, char Op, class Acc, class Value>
__attribute__((always_inline)) inline Acc accumulate(int64_t lo, int64_t hi, Acc acc,
                                                  const Value& value) {
  static_assert(Op == '+' || Op == '*', "accumulate sums or multiplies");
  constexpr int64_t kBlock = 4096, kLanes = 32;
  const Block id = Op == '+' ? Block(0) : Block(1);
  int64_t b = lo;
  for (; b + kBlock <= hi; b += kBlock) {
    Block s[kLanes];
    for (int64_t j = 0; j < kLanes; ++j) s[j] = id;
    for (int64_t k = b; k < b + kBlock; k += kLanes) {
      CROTON_OMP(omp simd)
      for (int64_t j = 0; j < kLanes; ++j) {
        if constexpr (Op == '+') s[j] += value(k + j);
        else s[j] *= value(k + j);
      }
    }
    Block folded = id;
    for (int64_t j = 0; j < kLanes; ++j) {
      if constexpr (Op == '+') folded += s[j];
      else folded *= s[j];
    }
    acc = Op == '+' ? acc + static_cast<Acc>(folded) : acc * static_cast<Acc>(folded);
  }
  Block tail = id;
  if constexpr (Op == '+') {
    CROTON_OMP(omp simd reduction(+ : tail))
    for (int64_t i = b; i < hi; ++i) tail += value(i);
    return acc + static_cast<Acc>(tail);
  } else {
    CROTON_OMP(omp simd reduction(* : tail))
    for (int64_t i = b; i < hi; ++i) tail *= value(i);
    return acc * static_cast<Acc>(tail);
  }
}

}  // namespace croton
