"""The user cache: downloaded artifacts, converted models and compiled numba kernels live here,
never in the repository.

``$RECAST_CACHE_DIR`` overrides the platform's user cache directory (``platformdirs``).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import platformdirs


def cache_root() -> Path:
    """``$RECAST_CACHE_DIR``, else the platform's user cache directory for recast (not created)."""
    return Path(os.environ.get("RECAST_CACHE_DIR") or platformdirs.user_cache_dir("recast"))


def cache_dir(*parts: str) -> Path:
    """``<cache>/<parts...>``, created on first use."""
    path = cache_root().joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path


def use_numba_cache() -> None:
    """Where numba finds and keeps the compiled kernels (``cache=True``): first the kernels a wheel
    build compiled into the installed package (:class:`ShippedKernels`), then ``<cache>/numba``
    unless ``NUMBA_CACHE_DIR`` names another place.

    numba's own default is a ``__pycache__`` beside each source file, or its user-wide directory
    when the installation is read-only: here one place holds what a first run compiles for every
    later run, child processes (Dask workers) included, and ``RECAST_CACHE_DIR`` moves it with the
    rest. ``NUMBA_CACHE_LOCATOR_CLASSES``, if set, is left as it is (numba's own list of where to
    look; without ``recast.cache.ShippedKernels`` in it the shipped kernels are not used). Called
    when ``recast`` is imported, before any kernel is defined.

    Both are environment variables because numba reads its configuration from the environment
    again whenever a ``NUMBA_`` variable changes (a worker limiting its threads does); child
    processes inherit them. A child that caches numba kernels where ``recast`` cannot be imported
    (another environment) must unset ``NUMBA_CACHE_LOCATOR_CLASSES``: numba refuses a locator it
    cannot import.
    """
    _numba_setting("CACHE_DIR", str(cache_root() / "numba"))
    _numba_setting("CACHE_LOCATOR_CLASSES", LOCATORS)


def _numba_setting(name: str, value: str) -> None:
    """``NUMBA_<name> = value`` unless the environment sets it already: read by numba when it is
    imported, here and in children, and told to numba's configuration directly if numba was
    imported first (a numba without that setting ignores it)."""
    if os.environ.get(f"NUMBA_{name}"):
        return
    os.environ[f"NUMBA_{name}"] = value
    config = sys.modules.get("numba.core.config")
    if config is not None and hasattr(config, name) and not getattr(config, name):
        setattr(config, name, value)


PACKAGE_DIR = Path(__file__).resolve().parent
"""The installed recast package (its source directory in a source tree)."""
SHIPPED_KERNELS = PACKAGE_DIR / "_kernels"
"""Where a wheel build puts the kernels it compiled (``python -m recast.precompile``); absent in a
source tree."""

# numba's own locators (numba.core.caching, 0.68), after the shipped kernels
LOCATORS = ("recast.cache.ShippedKernels,UserProvidedCacheLocator,InTreeCacheLocator,UserWideCacheLocator,"
            "IPythonCacheLocator,ZipCacheLocator")


def _shipped_kernels_locator():
    """:class:`ShippedKernels`, made when numba asks for it (importing numba's caching module
    here would make ``import recast`` import numba)."""
    from numba.core import caching

    class ShippedKernels(caching._SourceFileBackedLocatorMixin, caching._CacheLocator):
        """A numba cache locator for recast's own kernels: ``recast/_kernels/<subpackage>``
        inside the installed package, which a wheel build filled (:mod:`recast.precompile`).

        numba checks a cached kernel against a hash of its source file's contents, its own
        version and the machine's CPU, so the files stay valid where the wheel installs them;
        whatever does not match (another CPU, another numba) is compiled and saved here as numba
        would in ``__pycache__``. Not used where the directory does not exist (a source tree) or
        cannot be written (a read-only installation): the next locator (the user cache) is.
        """

        def __init__(self, py_func, py_file):
            self._py_file = py_file
            self._lineno = py_func.__code__.co_firstlineno
            relative = Path(py_file).resolve().parent.relative_to(PACKAGE_DIR)
            self._cache_path = str(SHIPPED_KERNELS.joinpath(".".join(relative.parts) or "recast"))

        def get_cache_path(self):
            return self._cache_path

        @classmethod
        def from_function(cls, py_func, py_file):
            if not SHIPPED_KERNELS.is_dir() or PACKAGE_DIR not in Path(py_file).resolve().parents:
                return None
            return super().from_function(py_func, py_file)

    return ShippedKernels


def __getattr__(name: str):
    if name == "ShippedKernels":
        cls = _shipped_kernels_locator()
        globals()[name] = cls
        return cls
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
