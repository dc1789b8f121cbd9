"""How a check is judged: the verdicts and the :class:`Rule` a specification states (its ``rule:``
key). :mod:`recast.validation.compare` applies it to every check and sums the verdicts up per
region and for the analysis."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

VALIDATED, DISAGREES, INCONCLUSIVE, NOT_VALIDATED = "validated", "disagrees", "inconclusive", "not validated"

# The error of an empty recast count, in MC events: the one-sigma (68.27 % CL) Poisson upper limit
# on the mean when nothing is observed, -ln(1 - 0.6827). A zero has an error like any count; with
# none (or the zero a Gaussian sqrt(n) gives) an empty row would look precise.
ZERO_COUNT_EVENTS = -math.log(1.0 - 0.6827)


@dataclass(frozen=True)
class Rule:
    """How a check is judged. A check is one ratio r = recast / reference (the last row of a
    cutflow, the A x eff of a benchmark point or of a map cell) with its error sigma_r:

    - it **disagrees** when |r - 1| exceeds both ``tolerance`` and ``sigma`` x sigma_r: a
      significant deviation beyond the tolerance, however imprecise the check;
    - otherwise it is **inconclusive** when sigma_r exceeds ``tolerance`` (the MC statistics cannot
      tell whether r lies inside the tolerance, whatever its pull) or recast counts no event;
    - otherwise it is **validated**.

    A region disagrees when any of its checks does, is validated when none does and at least one
    is validated, and is inconclusive when all its checks are. A reference A x eff below
    ``min_reference`` is shown but not judged: the region has no sensitivity there and its MC
    statistics on both sides are poor.

    >>> rule = Rule()
    >>> rule.verdict(1.1, 0.05), rule.verdict(1.5, 0.1), rule.verdict(1.1, 0.3), rule.verdict(None, None)
    ('validated', 'disagrees', 'inconclusive', None)
    """

    tolerance: float = 0.20
    sigma: float = 2.0
    min_reference: float = 1e-3

    def text(self) -> str:
        tol, sig = f"{self.tolerance:.0%}", f"{self.sigma:g} sigma_r"
        return (f"a check (a cutflow's last row, an A x eff, a map cell) compares r = recast/ATLAS, its error sigma_r "
                f"from recast's MC statistics (and ATLAS' where its number of generated events is known; an empty "
                f"count's is the one-sigma Poisson bound of {ZERO_COUNT_EVENTS:.2f} MC events); it disagrees when "
                f"|r - 1| exceeds both {tol} and {sig}, is inconclusive otherwise when sigma_r > {tol} or recast "
                f"counts no event, and is validated otherwise; a region disagrees when one of its checks does, is "
                f"validated when none does and one is validated, and is inconclusive when all its checks are; "
                f"reference A x eff below {self.min_reference:g} not judged")

    def verdict(self, ratio: float | None, err: float | None) -> str | None:
        """``VALIDATED``, ``DISAGREES`` or ``INCONCLUSIVE`` for a ratio and its error; None when
        there is no ratio (no reference, or no cross section for a yield)."""
        if ratio is None or not math.isfinite(ratio):
            return None
        if err is None or not math.isfinite(err):
            return INCONCLUSIVE
        dev = abs(ratio - 1.0)
        if dev > self.tolerance and dev > self.sigma * err:
            return DISAGREES
        if err > self.tolerance or ratio == 0.0:
            return INCONCLUSIVE
        return VALIDATED


def summarise(checks: Sequence[tuple[str, str]]) -> dict[str, Any]:
    """The verdict of a region (or a sigma_UL plane) from its checks' ``(label, verdict)``: it
    disagrees when one check does, is validated when none does and one is validated, is
    inconclusive when all its checks are, and is not validated without a check."""
    failed = [c for c, v in checks if v == DISAGREES]
    unsure = [c for c, v in checks if v == INCONCLUSIVE]
    if not checks:
        verdict = NOT_VALIDATED
    elif failed:
        verdict = DISAGREES
    elif len(unsure) < len(checks):
        verdict = VALIDATED
    else:
        verdict = INCONCLUSIVE
    return {"status": verdict, "checks": len(checks), "failed": failed, "inconclusive": unsure}


def overall(entries: Mapping[str, Mapping[str, Any]], tolerance: float, no_reference: str = "",
            noun: str = "regions") -> tuple[str, str]:
    """The analysis' status and its label from its regions' (and planes') :func:`summarise`
    entries: validated when every compared one is, inconclusive when every compared one is,
    partly validated otherwise, not validated when nothing was compared."""
    compared = [k for k, v in entries.items() if v["checks"]]
    good = [k for k in compared if entries[k]["status"] == VALIDATED]
    unsure = [k for k in compared if entries[k]["status"] == INCONCLUSIVE]
    if not compared:
        return NOT_VALIDATED, ("not validated (no published reference)" if no_reference else NOT_VALIDATED)
    if len(good) == len(compared):
        return VALIDATED, VALIDATED
    if len(unsure) == len(compared):
        return INCONCLUSIVE, (f"inconclusive (MC errors above the {tolerance:.0%} tolerance in all "
                              f"{len(compared)} compared {noun})")
    return "partly validated", (f"partly validated ({len(good)} of {len(compared)} compared {noun}"
                                + (f"; {len(unsure)} inconclusive" if unsure else "") + ")")
