"""The examples in the public docstrings run and give what they show."""

from __future__ import annotations

import doctest
import importlib
import warnings

import pytest


@pytest.mark.parametrize("module", ["recast.analysis", "recast.engine", "recast.validation.rule",
                                    "recast.validation.limits"])
def test_docstring_examples(module):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the toy events have no decay history, and say so
        result = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
