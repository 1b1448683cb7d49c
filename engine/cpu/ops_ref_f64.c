/* ops_ref_f64.c — the scalar reference ops in double precision (see ops_ref.c). */
#define BB_REF_F64
#include "ops_ref.c"
