#include <arm_neon.h>

#include "edgert/qs8-pool.h"

#include "../qs8-common/qs8-neon.h"
#include "../common/window.h"

/* Per output pixel, 16 channels at a time: vmaxq_s8 over the in-bounds taps (no padding reads),
 * then the [qmin, qmax] clamp. */
void edgert_qs8_maxpool__neon(const edgert_qs8_pool_args* a, size_t oy0, size_t oy1) {
  const size_t C = a->C;
  const int8x16_t qmin = vdupq_n_s8((int8_t)a->out.qmin), qmax = vdupq_n_s8((int8_t)a->out.qmax);
  for (size_t oy = oy0; oy < oy1; oy++) {
    size_t ky0, ky1;
    edgert_tap_range(oy, a->SH, a->DH, a->pad_top, a->KH, a->H, &ky0, &ky1);
    for (size_t ox = 0; ox < a->OW; ox++) {
      size_t kx0, kx1;
      edgert_tap_range(ox, a->SW, a->DW, a->pad_left, a->KW, a->W, &kx0, &kx1);
      int8_t* out = a->output + (oy * a->OW + ox) * C;
      for (size_t c = 0; c < C; c += 16) {
        const size_t lanes = C - c;
        int8x16_t m = vdupq_n_s8(-128);
        for (size_t ky = ky0; ky < ky1; ky++) {
          const int8_t* row = a->input + (oy * a->SH + ky * a->DH - a->pad_top) * a->W * C + c;
          for (size_t kx = kx0; kx < kx1; kx++)
            m = vmaxq_s8(m, qs8n_load16(row + (ox * a->SW + kx * a->DW - a->pad_left) * C, lanes));
        }
        qs8n_store16(out + c, vminq_s8(vmaxq_s8(m, qmin), qmax), lanes);
      }
    }
  }
}
