/* AVX2 + FMA row reductions (edgert/f32-rownorm.h): 8 lanes, sums widened to double 4 lanes at
 * a time (rownorm-impl.h). */
#define ROWNORM_INSTNORM edgert_f32_instnorm__avx2
#define ROWNORM_SOFTMAX edgert_f32_softmax__avx2
#define ROWNORM_VEXP edgert_f32_vexp__avx2
#include "rownorm-impl.h"
