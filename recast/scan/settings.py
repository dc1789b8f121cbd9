"""What every point of a scan shares (:class:`Settings`), and what decides whether a finished
point can be reused (:func:`settings_hash`): nevents, seed, process, analyses, resolved options,
Pythia settings, cross-section settings and the SLHA text (and, for events grids, the events
file's identity; for detector cards other than truth, the card's sha256, so that an edited card
file is never taken for the one a point ran with; for a point of several generation blocks, their
seeds and sizes)."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import RecastError
from .grid import GridPoint


@dataclass(frozen=True)
class Settings:
    """What every point of a scan shares besides its card, seed and event count."""

    analyses: tuple[str, ...]
    options: Mapping[str, Mapping[str, Any]]  # analysis id -> resolved options
    pythia_settings: tuple[str, ...] = ()
    xsec_fb: float | None = None
    xsec_unc: bool = False
    upper_limits: str = "none"  # the decision needs CLs only; a multi-bin upper limit costs 20-90 s
    chunk_size: int = 1000

    def to_dict(self) -> dict[str, Any]:
        return {"analyses": list(self.analyses), "options": {k: dict(v) for k, v in self.options.items()},
                "pythia_settings": list(self.pythia_settings), "xsec_fb": self.xsec_fb, "xsec_unc": self.xsec_unc,
                "upper_limits": self.upper_limits, "chunk_size": self.chunk_size}


def resolve_settings(analyses: Sequence[str], options: Mapping[str, str] | None = None,
                     analysis_options: Mapping[str, Mapping[str, str]] | None = None, **kw) -> Settings:
    """Check the analyses (unknown names fail here, before anything runs) and resolve options:
    ``options`` apply to every analysis that declares them (an option none declares is an
    error), ``analysis_options`` to one analysis each."""
    from .. import pipeline

    if not analyses:
        raise RecastError("--analyses: give at least one analysis")
    loaded = pipeline.load_analyses(analyses)
    per = pipeline.resolve_options(loaded, options, analysis_options)
    return Settings(analyses=tuple(a.id for a in loaded), options=per, **kw)


def sha256_text(text: str | None) -> str | None:
    """The SHA-256 of an SLHA card's text (None without one), as the point files record it."""
    return hashlib.sha256(text.encode()).hexdigest() if text is not None else None


def _file_identity(path: str) -> dict[str, Any]:
    """An events file as the reuse check knows it: path, size and modification time (hashing
    gigabytes of events on the client for every rerun would cost more than it protects)."""
    try:
        st = os.stat(path)
    except OSError:
        return {"path": path, "size": None, "mtime_ns": None}
    return {"path": path, "size": st.st_size, "mtime_ns": st.st_mtime_ns}


def settings_hash(point: GridPoint, settings: Settings) -> str:
    """What decides whether a finished point can be reused."""
    payload = {"nevents": point.nevents, "seed": point.seed, "process": point.process,
               "slha_sha256": sha256_text(point.slha_text), **settings.to_dict()}
    if point.events is not None:  # only for events grids: the hashes of SLHA grids stay as they were
        payload["events"] = _file_identity(point.events)
        payload["point_xsec_fb"] = point.xsec_fb
    blocks = _generation_blocks(point)
    if blocks:  # only then: points of one block are the single Pythia run they were, their hashes unchanged
        payload["generation_blocks"] = blocks
    cards = detector_hashes(settings.options)
    if cards:  # only then: the hashes of truth-level scans stay as they were
        payload["detector_sha256"] = cards
    payload["analyses"] = sorted(payload["analyses"])
    text = json.dumps(payload, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _generation_blocks(point: GridPoint) -> list[dict[str, int]] | None:
    """The seeds and sizes of a generated point's blocks when it has several (its events depend on
    them: :func:`recast.events.pythia.generation_blocks`), else None."""
    from .. import pipeline
    from ..events.pythia import generation_blocks

    if point.events is not None or not point.nevents:
        return None
    blocks = generation_blocks(point.nevents, point.seed, pipeline.BLOCK_EVENTS)
    return [b.to_dict() for b in blocks] if len(blocks) > 1 else None


def detector_hashes(options: Mapping[str, Mapping[str, Any]]) -> dict[str, str]:
    """Analysis id -> the sha256 of its detector card, for the analyses whose card is not truth."""
    from .. import detector

    return {aid: detector.load(opts["detector"]).sha256 for aid, opts in sorted(options.items())
            if opts.get("detector", detector.TRUTH) != detector.TRUTH}


def differences(prev: dict[str, Any], point: GridPoint, settings: Settings) -> list[str]:
    """What a finished point's settings and this run's differ in, in words (``key old -> new``)."""
    now = {"nevents": point.nevents, "seed": point.seed, "process": point.process,
           "SLHA card": sha256_text(point.slha_text), "events file": point.events, **settings.to_dict()}
    then = {"nevents": prev["point"].get("nevents"), "seed": prev["point"].get("seed"),
            "process": prev["point"].get("process"), "SLHA card": prev["point"].get("slha_sha256"),
            "events file": prev["point"].get("events"), **prev["settings"]}

    def show(key: str, value: Any) -> str:
        if key == "SLHA card":
            return "(none)" if value is None else value[:8]
        if isinstance(value, list):
            return ", ".join(map(str, value)) or "(none)"
        return str(value)

    out = [f"{key} {show(key, then.get(key))} -> {show(key, value)}" for key, value in now.items()
           if then.get(key) != value and not (key == "analyses" and set(then.get(key) or ()) == set(value))]
    return out or ["the events file (size or modification time), a detector card's contents or the generation "
                   "blocks (points above 5000 events are generated in blocks of their own seeds) changed"]

