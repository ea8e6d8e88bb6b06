/* The public weft headers must not include <uv.h>; this one is found first. */
#error "weft.h must not include uv.h"
