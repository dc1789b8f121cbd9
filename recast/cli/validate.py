"""`recast validate`: an analysis against ATLAS' published cutflows and A x eff, as a report."""

from __future__ import annotations

import argparse
import contextlib
import time
from pathlib import Path

from .common import progress, say, with_detector

VALIDATION_OUT = "recast-validation"  # cmd_validate's default report directory: ./recast-validation/<ANA>


def cmd_validate(args: argparse.Namespace) -> int:
    from .. import analysis as ana_mod
    from .. import output, parallel, paths, validation
    from ..errors import RecastError
    from ..validation import limits, parts, resume
    from ..validation import report as validation_report
    from ..validation.planes import points_named

    ana = ana_mod.load(args.analysis)
    spec = validation.load_spec(Path(args.spec) if args.spec else validation.spec_path(ana.id), ana)
    points = spec.points
    if args.points:
        points = points_named(spec.planes, spec.grids, points, args.points)
        if points is None:
            groups = [g["name"] for g in spec.grids] + [pl.name for pl in spec.planes]
            known = {p.name for p in spec.points} | set(groups)
            unknown = [n for n in args.points if n not in known]
            single = [p.name for p in spec.points if p.grid is None and p.plane is None]
            raise RecastError(f"--points: {', '.join(unknown)} not in {spec.path} (points: {', '.join(single) or '-'}; "
                              f"grids and planes, each for all its points: {', '.join(groups) or '-'})")
    if args.detector is not None:
        card = with_detector({}, args.detector, [ana])["detector"]
        default = next(o.default for o in ana.options if o.name == "detector")
        if args.store_status and card != default:
            raise RecastError(f"--store-status: the stored status is that of {ana.id}'s default detector card "
                              f"({default}), not of --detector {args.detector}")
        for p in points:
            p.options = {**p.options, "detector": card}
    for ref in args.compare_detector:
        card = with_detector({}, ref, [ana])["detector"]
        if card not in spec.detectors:
            spec.detectors.append(card)
    fewer = bool(args.nevents) and any(args.nevents < p.nevents for p in points)
    if args.nevents:
        for p in points:
            p.nevents = args.nevents
    if not points and not spec.no_reference:
        raise RecastError(f"{spec.path}: no points to run")
    out = Path(args.out) if args.out else Path(VALIDATION_OUT) / ana.id
    # every output location is checked before the first event is generated
    committed = paths.committed_reports(out)
    if committed is not None and not args.store_status:
        raise RecastError(f"{out}: inside the repository's committed validation reports ({committed}); give another "
                          f"--out, or add --store-status to regenerate the committed report with the stored status")
    stored = None
    if args.store_status:
        if fewer:
            raise RecastError(f"--store-status: the stored status needs every point of {spec.path} with at least "
                              f"its number of events; -n asks for fewer")
        if len(points) < len(spec.points) and committed is None:
            raise RecastError(f"--store-status with --points regenerates one part of the committed reports "
                              f"(the other points come from the parts the stored status names): --out must lie in "
                              f"the repository's validation/reports/, not {out}")
        stored = output.prepare_file(paths.analysis_data_dir(ana.id) / validation.STATUS_FILE, "stored validation status")
    # where the status says its report is: relative to the checkout for a committed report
    report_at = out.resolve().relative_to(committed.parent.parent).as_posix() if committed else str(out.resolve())
    carried = None
    if stored is not None and len(points) < len(spec.points):  # checked before the first event is generated
        carried = parts.carry(spec, points, committed.parent.parent, report_at)
        say(f"the stored status also counts {len(carried.compared)} point(s) and {len(carried.planes)} plane(s) of "
            f"the committed report part(s) {', '.join(carried.reports)}")
    output.prepare_dir(out, "report directory")
    output.prepare_dir(out / "figures", "report's figures directory")
    output.prepare_dir(out / resume.POINTS_DIR, "report's finished points directory")

    runs: dict = {}
    start = time.perf_counter()
    todo = points
    if points and not args.rerun:
        runs, todo = resume.stored(out, spec, points, note=say)
        if runs:
            say(f"reusing {len(runs)} finished point(s) kept in {out / resume.POINTS_DIR} (--rerun runs them again)")
    if todo:
        where = parallel.describe(args.workers, args.scheduler)
        say(f"validating {ana.id}: {len(todo)} point(s), {sum(p.nevents for p in todo)} events in all, on {where}")
        by_name = {p.name: p for p in todo}
        with contextlib.ExitStack() as stack:
            bar = None if args.quiet else stack.enter_context(progress(len(todo), "validate"))
            task = bar.add_task("validate", total=len(todo), rate="") if bar else None

            def on_done(outcome: dict) -> None:
                try:  # kept as it finishes: an interrupted validation resumes from here
                    resume.store(out, spec, by_name[outcome["name"]], outcome)
                except output.OutputError as exc:
                    say(f"note: {exc}")
                line = (f"{outcome['name']}: FAILED: {outcome['error']}" if outcome.get("error")
                        else f"{outcome['name']}: done in {outcome['seconds']:.0f} s")
                if bar is not None:
                    bar.update(task, advance=1)
                    if not bar.disable:
                        bar.console.print(line, markup=False, highlight=False)
                        return
                if not args.quiet:
                    say(line)

            runs.update(validation.run_points(spec, todo, workers=args.workers, scheduler=args.scheduler,
                                              on_done=on_done))
    runs = {p.name: runs[p.name] for p in points}  # in the specification's order
    compared = {p.name: validation.compare_point(spec, p, runs[p.name]["result"], runs[p.name].get("by_detector"))
                for p in points if runs[p.name].get("result")}
    planes = limits.compare_planes(spec, runs)
    status = limits.with_planes(validation.status(spec, compared), planes, spec.rule)
    provenance = validation.provenance(spec, points, runs, args)
    if carried is None:
        status_doc = validation.status_document(ana.id, status, provenance, report_at)
    else:
        every, every_plane = parts.combined(compared, planes, carried)
        whole = limits.with_planes(validation.status(spec, every), every_plane, spec.rule)
        whole_prov = dict(provenance, points=list(carried.provenance.values()) + provenance["points"])
        status_doc = validation.status_document(ana.id, whole, whole_prov, report_at,
                                                reports=sorted({*carried.reports, report_at}))
    files = validation_report.save(out, validation_report.render(spec, runs, compared, status, provenance, status_doc,
                                                                 planes=planes))
    failed = [n for n, r in runs.items() if r.get("error")]
    if stored is not None and not failed:
        validation.write_status(stored, status_doc)
        for rel in carried.reports if carried else ():  # each part's copy of the status it contributes to
            validation.write_status(committed.parent.parent / rel / validation.STATUS_FILE, status_doc)
        say(f"stored the status in {stored}")
    elif stored is not None:
        say(f"note: the stored status in {stored} is unchanged: {len(failed)} point(s) failed")
    what = f": {spec.no_reference.rstrip('.')}" if not points and spec.no_reference else \
        f" in {time.perf_counter() - start:.0f} s"
    say(f"{ana.id}: {status['label']}{what}; wrote {files['report.html']}, {files['report.md']}, "
         f"{files['summary.json']}")
    if failed:
        raise RecastError(f"{len(failed)} of {len(points)} points failed (first: {failed[0]}: "
                          f"{runs[failed[0]]['error']}); the report shows them")
    return 0
