/* NEON row reductions (edgert/f32-rownorm.h): 4 lanes, sums widened to double 2 lanes at a time
 * (rownorm-impl.h). */
#define ROWNORM_INSTNORM edgert_f32_instnorm__neon
#define ROWNORM_SOFTMAX edgert_f32_softmax__neon
#define ROWNORM_VEXP edgert_f32_vexp__neon
#include "rownorm-impl.h"
