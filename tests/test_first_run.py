"""The first run after installing: what numba compiles, and that a run with an empty user cache
gives what a warm one gives."""

from __future__ import annotations

import numba
import pytest

from recast.events import _hepmc_text as text
from recast.events.hepmc import first_call_arguments, kernel_for


def _helpers() -> dict[str, numba.core.registry.CPUDispatcher]:
    return {name: f for name, f in vars(text).items() if isinstance(f, numba.core.registry.CPUDispatcher)}


@pytest.mark.parametrize("fmt", ["hepmc3", "hepmc2"])
def test_the_reader_kernels_compile_each_helper_once(fmt):
    """Counters that start as the literal 0 made numba compile the helpers they are passed to once
    for the literal's type and again for int64 (and a count given as a literal, once per count):
    seconds of a first run. The kernel, compiled afresh here, asks each helper for one
    signature."""
    kernel = kernel_for(fmt)
    fresh = numba.njit(kernel.py_func)  # not cached: typing it asks the helpers for their signatures
    for helper in _helpers().values():
        helper.overloads.clear()  # forget what other tests in this process asked for
    assert fresh(*first_call_arguments())[0] == text.NEED_DATA
    asked = {name: len(f.overloads) for name, f in _helpers().items() if f.overloads}
    assert "_value" in asked and "_int" in asked  # the count has teeth: the helpers were asked
    assert {name: n for name, n in asked.items() if n > 1} == {}
