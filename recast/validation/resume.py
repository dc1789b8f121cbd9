"""Resumable validations: every finished point is kept in the report directory, and a rerun with
the same settings reuses it instead of generating it again (as ``recast scan`` reuses its points).

Each point that ran without error is stored as ``<report>/points/<name>.json.gz`` (its outcome:
the result document, the results with the detector cards shown beside, the seconds it took) with
the hash of what decides them (:func:`settings_hash`: the analysis, the point's process, events,
seed, SLHA card text, cross section, resolved options, the contents of its detector card and of
the cards beside it, the order of any reordered cutflow, and the seeds and sizes of its generation
blocks when it has several). A
point whose stored hash differs, or whose file cannot be read, runs again and replaces it; failed
points always run again. ``recast validate --rerun`` ignores what is stored.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ..errors import RecastError
from .spec import Benchmark, Spec

POINTS_DIR = "points"  # in the report directory


def settings_hash(spec: Spec, point: Benchmark) -> str:
    """What decides a point's results (see the module docstring), hashed (16 hex digits)."""
    from .. import detector
    from ..events.pythia import generation_blocks
    from ..scan.settings import detector_hashes, sha256_text
    from .run import slha_text

    ana = spec.analysis
    options = ana.resolve_options(dict(point.options))
    try:
        card = sha256_text(slha_text(point, ana.id))
    except (RecastError, OSError):  # the run will fail and say why; nothing is stored for it
        card = None
    payload = {"analysis": ana.id, "process": point.process, "nevents": point.nevents, "seed": point.seed,
               "slha": point.slha, "slha_sha256": card, "cross_section_fb": point.cross_section_fb,
               "options": options, "detector_sha256": detector_hashes({ana.id: options}),
               "cards_beside": {c: detector.load(c).sha256 for c in spec.detectors if c != options.get("detector")},
               "cutflow_order": {sr: cf.steps() for sr, cf in sorted(point.cutflows.items())}}
    blocks = generation_blocks(point.nevents, point.seed)
    if len(blocks) > 1:  # only then: a point of one block is the single Pythia run it was, its hash unchanged
        payload["generation_blocks"] = [b.to_dict() for b in blocks]
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:16]


def point_file(out_dir: Path, name: str) -> Path:
    """Where a finished point is kept."""
    return Path(out_dir) / POINTS_DIR / f"{name}.json.gz"


def stored(out_dir: Path, spec: Spec, points: Sequence[Benchmark],
           note: Callable[[str], None] | None = None) -> tuple[dict[str, dict[str, Any]], list[Benchmark]]:
    """(the outcomes of the points finished earlier with the same settings, by name; the points
    still to run). ``note`` hears of a stored file that cannot be read (that point runs again)."""
    from .. import schemas

    done: dict[str, dict[str, Any]] = {}
    todo: list[Benchmark] = []
    for p in points:
        path = point_file(out_dir, p.name)
        if not path.is_file():
            todo.append(p)
            continue
        try:
            doc = json.loads(gzip.decompress(path.read_bytes()))
            outcome = doc["outcome"]
            schemas.validate(outcome["result"], "result", path)
        except (OSError, EOFError, ValueError, KeyError, TypeError, RecastError) as exc:
            if note:
                note(f"{path}: unreadable ({' '.join(str(exc).split())[:120]}); running {p.name} again")
            todo.append(p)
            continue
        if doc.get("settings_hash") == settings_hash(spec, p) and outcome.get("error") is None:
            done[p.name] = outcome
        else:
            todo.append(p)
    return done, todo


def store(out_dir: Path, spec: Spec, point: Benchmark, outcome: Mapping[str, Any]) -> Path | None:
    """Keep a point that ran without error (``output.save``: atomic); None for a failed point."""
    from .. import __version__, output
    from ..results import encode

    if outcome.get("error") is not None or outcome.get("result") is None:
        return None
    doc = {"name": point.name, "settings_hash": settings_hash(spec, point), "recast_version": __version__,
           "outcome": dict(outcome)}
    return output.save(point_file(out_dir, point.name), gzip.compress(encode(doc), mtime=0),
                       f"finished validation point {point.name}")
