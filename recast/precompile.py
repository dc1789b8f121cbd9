"""Ahead-of-time compilation of recast's numba kernels: the first run after ``pip install`` loads
them as a warm run does instead of compiling them (about 20 s of CPU).

``pip install .`` builds a wheel, and the build (``build_backend/recast_backend.py``) runs
``python -m recast.precompile build``: every kernel signature listed in
``kernel_signatures.json`` is compiled into the wheel's ``recast/_kernels``, where numba finds
them (:class:`recast.cache.ShippedKernels`). They are compiled for the CPU of the machine that
builds the wheel and for the numba it builds with; numba checks both (and a hash of each source
file) when it loads a kernel, and compiles whatever does not match, as without this.

``python -m recast.precompile harvest`` is the developer's step after changing a kernel: it runs
the commands users run (``recast run`` on Pythia, HepMC3 plain and gzip, HepMC2, both readers,
both detector cards), each with an empty cache, and lists what numba compiled for them in
``kernel_signatures.json``. ``tests/test_precompile.py`` checks that the same commands compile
nothing when run from a built wheel.
"""

from __future__ import annotations

import argparse
import base64
import gzip
import importlib
import json
import os
import pickle
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .cache import PACKAGE_DIR, SHIPPED_KERNELS

SIGNATURES = PACKAGE_DIR / "kernel_signatures.json"
MANIFEST = "MANIFEST.json"  # in SHIPPED_KERNELS: what the build compiled, for which numba and CPU


def workloads(workdir: Path) -> list[list[str]]:
    """The ``recast`` commands whose kernels are compiled ahead of time (their arguments after
    ``recast``), on files they make in ``workdir``; the first one writes the events the others
    read. :func:`prepare_inputs` makes the HepMC2 and gzip copies after it."""
    card = workdir / "gtt_2000_1.slha"
    plain = workdir / "gtt.hepmc"
    common = ["--xsec-fb", "1", "-q"]
    return [
        ["run", "all", "--slha", str(card), "-n", "200", "--hepmc-out", str(plain), "-q",
         "--out", str(workdir / "pythia")],
        ["run", "all", "--events", str(plain.with_suffix(".hepmc.gz")), *common, "--out", str(workdir / "gz")],
        ["run", "all", "--events", str(workdir / "gtt.hepmc2"), *common, "--out", str(workdir / "hepmc2")],
        ["run", "all", "--events", str(plain), "--reader", "pyhepmc", *common, "--out", str(workdir / "pyhepmc")],
        ["run", "all", "--events", str(plain), "--detector", "truth", *common, "--out", str(workdir / "truth")],
        ["run", "all", "--events", str(plain), "--detector", "atlas-run2", *common,
         "--out", str(workdir / "atlas-run2")],
    ]


def write_card(workdir: Path) -> None:
    from .slha import simplified_model

    (workdir / "gtt_2000_1.slha").write_text(simplified_model("gtt", 2000, 1))


def prepare_inputs(workdir: Path) -> None:
    """The gzip and HepMC2 copies of the events the first workload wrote."""
    import pyhepmc

    plain = workdir / "gtt.hepmc"
    with open(plain, "rb") as src, gzip.open(plain.with_suffix(".hepmc.gz"), "wb", compresslevel=1) as dst:
        shutil.copyfileobj(src, dst)
    with pyhepmc.open(plain) as events, pyhepmc.open(workdir / "gtt.hepmc2", "w", format="HepMC2") as out:
        for event in events:
            out.write(event)


def run_workloads(workdir: Path, env: dict[str, str]) -> None:
    """Every :func:`workloads` command in a fresh process with ``env``."""
    write_card(workdir)
    for i, args in enumerate(workloads(workdir)):
        subprocess.run([sys.executable, "-m", "recast.cli", *args], env=env, check=True, cwd=workdir,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        if i == 0:
            prepare_inputs(workdir)


def compiled_signatures(numba_cache: Path) -> list[dict]:
    """What numba's cache directory ``numba_cache`` (``NUMBA_CACHE_DIR``) holds for recast's
    kernels: one entry per function and signature, sorted."""
    from numba.core.caching import UserProvidedCacheLocator

    subdirs = {}  # numba's subdirectory name of each package directory -> its dotted module prefix
    for init in PACKAGE_DIR.rglob("__init__.py"):
        prefix = ".".join(("recast", *init.parent.relative_to(PACKAGE_DIR).parts))
        subdirs[UserProvidedCacheLocator.get_suitable_cache_subpath(str(init))] = prefix
    entries = []
    for index in sorted(numba_cache.glob("*/*.nbi")):
        prefix = subdirs.get(index.parent.name)
        if prefix is None:  # another package's kernels
            continue
        name = index.name.split("-")[0]  # <module>.<qualname>-<line>.pyXY.nbi
        module, function = name.split(".", 1)
        with open(index, "rb") as f:
            pickle.load(f)  # numba's version
            _stamp, overloads = pickle.loads(f.read())
        for key in overloads:
            signature = key[0]
            entries.append({"module": f"{prefix}.{module}", "function": function,
                            "signature": "(" + ", ".join(str(t) for t in signature) + ")",
                            "pickle": base64.b64encode(pickle.dumps(signature, protocol=4)).decode()})
    unique = {(e["module"], e["function"], e["signature"]): e for e in entries}
    return [unique[k] for k in sorted(unique)]


def harvest(out: Path = SIGNATURES) -> list[dict]:
    """Run :func:`workloads` with an empty cache and write what they compiled to ``out``."""
    with tempfile.TemporaryDirectory(prefix="recast-harvest-") as tmp:
        tmp = Path(tmp)
        env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
        env["RECAST_CACHE_DIR"] = str(tmp / "cache")
        env["NUMBA_CACHE_LOCATOR_CLASSES"] = "UserProvidedCacheLocator"  # not the shipped kernels
        run_workloads(tmp, env)
        entries = compiled_signatures(tmp / "cache" / "numba")
    out.write_text(json.dumps(entries, indent=1) + "\n")
    return entries


def build(signatures: Path = SIGNATURES) -> dict:
    """Compile every signature of ``signatures`` into :data:`recast.cache.SHIPPED_KERNELS` (what a
    wheel build runs, in a fresh process whose ``recast`` is the wheel's) and write its manifest.
    Returns the manifest: what compiled, what did not and why, the numba and CPU they are for."""
    shutil.rmtree(SHIPPED_KERNELS, ignore_errors=True)  # a reused build directory's old files
    SHIPPED_KERNELS.mkdir()
    os.environ["NUMBA_CACHE_LOCATOR_CLASSES"] = "recast.cache.ShippedKernels"  # only there
    import numba
    from numba.core.registry import cpu_target

    start = time.perf_counter()
    compiled, failed = [], []
    for entry in json.loads(signatures.read_text()):
        label = f"{entry['module']}.{entry['function']}{entry['signature']}"
        try:
            dispatcher = getattr(importlib.import_module(entry["module"]), entry["function"])
            dispatcher.compile(pickle.loads(base64.b64decode(entry["pickle"])))
        except Exception as exc:  # noqa: BLE001 - a kernel not compiled here is compiled at its first use
            failed.append({"kernel": label, "error": f"{type(exc).__name__}: {exc}"[:300]})
        else:
            compiled.append(label)
    manifest = {"numba": numba.__version__, "python": platform.python_version(),
                "cpu": cpu_target.target_context.codegen().magic_tuple()[1],
                "seconds": round(time.perf_counter() - start, 1), "compiled": compiled, "failed": failed}
    (SHIPPED_KERNELS / MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n")
    return manifest


SOURCE_TREE = ["recast", "analyses", "data", "build_backend", "pyproject.toml", "README.md", "MANIFEST.in"]


def install_wheel(source: Path, target: Path) -> float:
    """Build a wheel of the source tree ``source`` as ``pip install .`` does (kernels compiled in),
    from a copy of it and with this environment's packages (no build isolation), and install it
    alone into the directory ``target`` (what ``PYTHONPATH`` then points at): a fresh install, for
    tests and benchmarks. Returns the seconds the wheel took to build."""
    with tempfile.TemporaryDirectory(prefix="recast-wheel-") as tmp:
        tree = Path(tmp) / "source"
        tree.mkdir()
        for name in SOURCE_TREE:
            if (source / name).is_dir():
                shutil.copytree(source / name, tree / name, ignore=shutil.ignore_patterns("__pycache__", "_kernels"))
            else:
                shutil.copy2(source / name, tree / name)
        pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
        start = time.perf_counter()
        subprocess.run([*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", str(Path(tmp) / "dist"), str(tree)],
                       check=True, capture_output=True)
        seconds = time.perf_counter() - start
        (wheel,) = (Path(tmp) / "dist").glob("recast-*.whl")
        subprocess.run([*pip, "install", "--no-deps", "--target", str(target), str(wheel)], check=True,
                       capture_output=True)
    return seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m recast.precompile", description=__doc__.split("\n\n")[0])
    parser.add_argument("step", choices=["build", "harvest"],
                        help="build: compile the listed kernels into the package (a wheel build); "
                             "harvest: list what the usual commands compile (after changing a kernel)")
    args = parser.parse_args(argv)
    if args.step == "harvest":
        entries = harvest()
        print(f"{len(entries)} kernel signatures written to {SIGNATURES}")
        return 0
    manifest = build()
    print(f"recast: {len(manifest['compiled'])} numba kernels compiled ahead of time in {manifest['seconds']} s "
          f"for {manifest['cpu']} (numba {manifest['numba']}); {len(manifest['failed'])} left to their first use",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
