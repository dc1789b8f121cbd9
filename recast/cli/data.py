"""`recast data` (the external ATLAS files: list, fetch, verify, path, add) and `recast convert tmva`."""

from __future__ import annotations

import argparse
from pathlib import Path

from .common import EXIT_INPUT, say


def cmd_convert_tmva(args: argparse.Namespace) -> int:
    from ..models import tmva

    out = tmva.convert(Path(args.input), Path(args.output))
    info = tmva.model_info(out)
    say(f"converted {args.input} ({info.get('n_trees')} trees, {info.get('n_variables')} variables, "
         f"BoostType={info.get('boost_type')}) to {out}")
    return 0


def _data_analyses(names: list[str] | str | None) -> list[str]:
    from .. import artifacts

    if not names:
        return artifacts.analyses_with_artifacts()
    out = []
    for n in [names] if isinstance(names, str) else names:
        artifacts.registry(n)  # an unknown analysis is an input error
        out.append(artifacts.canonical_analysis(n))
    return out


def _human_size(n: int | None) -> str:
    if n is None:
        return "?"
    if n < 1000:
        return f"{n} B"
    value = float(n)
    for unit in ("kB", "MB", "GB"):
        value /= 1000
        if value < 1000 or unit == "GB":
            break
    return f"{value:.1f} {unit}"


def cmd_data_list(args: argparse.Namespace) -> int:
    from rich.table import Table

    from .. import artifacts, report

    table = Table(show_edge=False)
    for col in ("analysis", "id", "size", "where", "source"):
        table.add_column(col, no_wrap=col in ("analysis", "id", "where"))
    counts: dict[str, int] = {}
    for ana in _data_analyses(args.analysis):
        for a in artifacts.registry(ana):
            kind, path = artifacts.where(a)
            if path is not None and artifacts.problem(a, path):
                kind += " (mismatch)"
            counts[kind] = counts.get(kind, 0) + 1
            src = a.resource.label() if a.resource else "none: mirror or 'recast data add'"
            if a.alternatives:
                src += ", then " + ", ".join(r.label() for r, _ in a.alternatives)
            table.add_row(a.analysis, a.id, _human_size(a.size), kind, src)
    report.console().print(table)
    print(", ".join(f"{n} {k}" for k, n in sorted(counts.items())))
    return 0


def cmd_data_fetch(args: argparse.Namespace) -> int:
    from .. import artifacts
    from ..errors import ArtifactError

    ok = failed = 0
    for ana in _data_analyses(args.analyses):
        for a in artifacts.registry(ana):
            kind, _ = artifacts.where(a)
            try:
                path = artifacts.fetch(a, progress=not args.quiet)
            except ArtifactError as exc:
                say(f"error: {exc}")
                failed += 1
                continue
            ok += 1
            print(f"ok  {a.analysis}  {a.id}  {'downloaded' if kind == 'missing' else kind}  {path}")
    say(f"{ok} artifacts ready, {failed} failed")
    return EXIT_INPUT if failed else 0


def cmd_data_verify(args: argparse.Namespace) -> int:
    from .. import artifacts

    tally: dict[str, int] = {}
    for a, status, path in artifacts.verify(_data_analyses(args.analysis)[0] if args.analysis else None):
        tally[status] = tally.get(status, 0) + 1
        print(f"{status:8s}  {a.analysis}  {a.id}  {path or '-'}")
        if status == "mismatch":
            say(f"error: {artifacts.problem(a, path)}")
    say(", ".join(f"{n} {k}" for k, n in sorted(tally.items())))
    return EXIT_INPUT if tally.get("mismatch") else 0


def cmd_data_path(args: argparse.Namespace) -> int:
    from .. import artifacts

    print(artifacts.fetch(artifacts.get(args.analysis, args.id)))
    return 0


def cmd_data_add(args: argparse.Namespace) -> int:
    from .. import artifacts

    a = artifacts.add(Path(args.file), args.analysis)
    print(f"{args.file}: {a.analysis} {a.id} ({a.checksum()}) -> {a.cache_path}")
    return 0
