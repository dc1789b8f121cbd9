"""The detector stage between truth objects and the analyses, driven by a detector card.

    batch -> recast.objects.build_objects (truth objects)
          -> respond(objects, card, config, seed)   (this package)
          -> analysis variables, models, cuts

A card (``data/detectors/<name>.yaml``, or a user's YAML file) states jet energy scale and
resolution, acceptance and pile-up (JVT) efficiency, b-tagging efficiencies per true flavour and
working point with the pseudo-continuous tag bins, electron and muon efficiencies and
resolutions, and the soft term of the missing transverse momentum, as functions of pT, eta and
energy (:mod:`.functions`), each with its public source. ``truth`` changes nothing. The format and
its checks: :mod:`.card`; what the stage does: :mod:`.stage`; docs/guide.md, "Detector cards".

Analyses select a card with the option ``detector`` (:func:`option`), which the command line's
``--detector NAME|FILE`` sets for every analysis of a command; :func:`object_config` puts it
into the analysis' :class:`~recast.objects.ObjectConfig`, and :func:`build` is the one place
that turns a batch into reconstructed objects.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import awkward as ak

from ..analysis import Option
from ..objects import ObjectConfig, Objects, build_objects
from .card import Card, available_cards, canonical, cards_dir, load
from .stage import respond

TRUTH = "truth"
TRUTH_JET_PT_FRACTION = 0.5
"""With a card that changes jet momenta, truth jets are built down to this fraction of the
analysis' ``jet_pt_min`` and cut at ``jet_pt_min`` after the response, so that jets migrating
up across the threshold are not lost (a 20 GeV threshold: truth jets from 10 GeV)."""

__all__ = ["Card", "DetectorOption", "TRUTH", "available_cards", "build", "canonical", "cards_dir", "describe",
           "load", "object_config", "option", "respond"]


def build(batch: ak.Array, config: ObjectConfig, seed: int = 0) -> Objects:
    """The reconstructed objects of ``batch``: truth objects (:func:`~recast.objects.build_objects`)
    through the response of the card ``config.detector``."""
    card = load(config.detector)
    truth_config = config
    if card.jets is not None and card.jets.changes_momentum:
        truth_config = dataclasses.replace(config, jet_pt_min=config.jet_pt_min * TRUTH_JET_PT_FRACTION)
    return respond(build_objects(batch, truth_config, seed), card, config, seed)


def describe(ref: str) -> dict[str, str]:
    """The ``detector`` block of a result document: the card's name, file and sha256."""
    return load(ref).describe()


@dataclasses.dataclass(frozen=True)
class DetectorOption(Option):
    """The ``detector`` option: a shipped card's name or a card file. A value is checked when it
    is given (a bad card fails before any event) and recorded as the card's name, or as the file's
    absolute path."""

    def convert(self, raw: Any) -> str:
        text = str(raw).strip()
        load(text)
        return canonical(text)


def option(default: str = TRUTH, doc: str = "") -> DetectorOption:
    """The ``detector`` option for an analysis' ``options``, with the analysis' default card and
    the reason for it in ``doc``."""
    return DetectorOption("detector", default, doc or f"detector card: {', '.join(available_cards())} or a "
                                                      f"YAML file (docs/guide.md, 'Detector cards')")


def object_config(analysis, options: Mapping[str, Any]) -> ObjectConfig:
    """The analysis' object definitions for ``options``, with the card its ``detector`` option
    names (analyses without the option keep their ObjectConfig's, ``truth`` by default)."""
    config = analysis.object_config(dict(options))
    ref = options.get("detector")
    if ref is not None and ref != config.detector:
        config = dataclasses.replace(config, detector=str(ref))
    return config
