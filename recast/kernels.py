"""Helpers for the numba kernels.

:func:`borrowed`: a call between compiled functions that passes an array costs an atomic
increment and decrement of the array's reference count (numba's runtime keeps one per
allocation), and on paths that run for every particle of every event that was most of the time
they took. A kernel that receives an array from its caller (so the array lives at least as long
as the call) can work on a *borrowed* view instead: the same data, shape and strides without a
reference to count, whose passing costs nothing. Borrowed views must never leave the call that
made them (not returned, not stored in something that outlives it). This avoids inlining the
callees on numba's IR, which made the HepMC3 kernel take minutes to compile.
"""

from __future__ import annotations

from numba.extending import intrinsic
from numba.np.arrayobj import make_array, populate_array


@intrinsic
def borrowed(typingctx, array):
    """``array`` without its reference count (see the module docstring)."""

    def codegen(context, builder, signature, args):
        source = make_array(array)(context, builder, value=args[0])
        view = make_array(array)(context, builder)
        populate_array(view, data=source.data, shape=source.shape, strides=source.strides,
                       itemsize=source.itemsize, meminfo=None)
        return view._getvalue()

    return array(array), codegen
