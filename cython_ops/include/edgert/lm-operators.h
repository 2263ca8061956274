/* Threaded operator layer of the language-model kernels (edgert.lm): the f32-qwgemm GEMM/GEMV
 * (f32, int8 per-channel and 4-bit group weights) split over the thread pool.
 *
 *   kind EDGERT_QW_F32: w is float (N, K);  EDGERT_QW_QS8: int8 (N, K) + scale (N);
 *   EDGERT_QW_Q4: packed nibbles (N, K / 2) + scale (N, K / group).
 *   y (M, N) = x (M, K) W^T (+ bias).
 *
 * M == 1 (decode) splits the output rows into blocks of whole 4-row tiles, one or two per thread;
 * M > 1 splits the x rows.  Every output is one kernel call's sum, so results do not depend on
 * the thread count. */
#ifndef EDGERT_LM_OPERATORS_H
#define EDGERT_LM_OPERATORS_H

#include <stddef.h>

#include "edgert/threadpool.h"

#define EDGERT_QW_F32 0
#define EDGERT_QW_QS8 1
#define EDGERT_QW_Q4 2

void edgert_op_qwgemm(edgert_threadpool* pool, int kind, size_t M, size_t N, size_t K, size_t group,
                      const float* x, const void* w, const float* scale, const float* bias, float* y);

/* Name of the f32-qwgemm variant in use ("avx2", "neon", "scalar"). */
const char* edgert_qwgemm_variant(void);

#endif
