/* The kernels generated C embeds, compiled here with strict warnings so that they build on
 * their own, and callable from Swift (tests run each one against its Swift counterpart). */
#include "fk_arith.h"
#include "fk_float.h"
#include "fk_image.h"
#include "fk_int8.h"
#include "fk_weights.h"
