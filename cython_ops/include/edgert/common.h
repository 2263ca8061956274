/* Shared definitions for every edgert kernel family.
 *
 * Layout conventions (all fp32 kernels):
 *   - activations are NHWC, batch handled by the caller (kernels see one image);
 *   - every kernel takes an output clamp [min, max] so Relu/Relu6/Clip fuse for free
 *     (pass -INFINITY/+INFINITY for none);
 *   - kernels never allocate and never spawn threads: the operator layer splits work
 *     into ranges (rows, channels) and calls the kernel once per range.
 */
#ifndef EDGERT_COMMON_H
#define EDGERT_COMMON_H

#include <stddef.h>
#include <stdint.h>

#if defined(__x86_64__) || defined(_M_X64)
#define EDGERT_ARCH_X86_64 1
#else
#define EDGERT_ARCH_X86_64 0
#endif

#if defined(__aarch64__)
#define EDGERT_ARCH_ARM64 1
#else
#define EDGERT_ARCH_ARM64 0
#endif

#define EDGERT_RESTRICT __restrict__
#define EDGERT_INLINE static inline __attribute__((always_inline))
#define EDGERT_ALIGN(n) __attribute__((aligned(n)))

static inline size_t edgert_round_up(size_t n, size_t q) { return (n + q - 1) / q * q; }
static inline size_t edgert_divide_round_up(size_t n, size_t q) { return (n + q - 1) / q; }
static inline size_t edgert_min_sz(size_t a, size_t b) { return a < b ? a : b; }
static inline size_t edgert_max_sz(size_t a, size_t b) { return a > b ? a : b; }

/* Output clamp fused into every producer kernel. */
typedef struct {
  float min;
  float max;
} edgert_f32_minmax_params;

#endif /* EDGERT_COMMON_H */
