/* Stand-in for bindings/swig/weft.i until it lands on main. */
#define WEFT_API
%rename("weft_future_get_state", %$isfunction) weft_future_state;
%include "weft/common.h"
%include "weft/loop.h"
%include "weft/future.h"
%include "weft/task.h"
%include "weft/combinators.h"
