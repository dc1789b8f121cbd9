"""The argument parser of every command; usage errors in one line like every other input problem."""

from __future__ import annotations

import argparse

from .. import __version__
from . import data, info, limit, probe, run, scan, validate
from .common import EXIT_INPUT, positive_int


class Parser(argparse.ArgumentParser):
    """argparse, with a usage error reported in one line like every other input problem."""

    def error(self, message: str):
        self.exit(EXIT_INPUT, f"recast: error: {message} (see '{self.prog} --help')\n")


def _add_generation(p: argparse.ArgumentParser, events_default: int | None) -> None:
    from ..events.pythia import PROCESSES

    p.add_argument("--process", default="gluino-pair", choices=sorted(PROCESSES),
                   help="production process for Pythia (default: gluino-pair)")
    p.add_argument("-n", "--nevents", type=positive_int, default=events_default,
                   help="events to generate (default 5000; with --events or --lhe: read at most this many, "
                        "default all)")
    p.add_argument("--seed", type=int, default=1,
                   help="seed for Pythia and for the per-event random streams (default: 1)")
    p.add_argument("--chunk-size", type=positive_int, default=1000,
                   help="events per columnar batch (default 1000)")
    p.add_argument("--pythia-setting", action="append", default=[], metavar="'KEY = VALUE'",
                   help="extra Pythia setting (repeatable), e.g. 'SpaceShower:pTmaxMatch = 1'; recorded in the results")


def _process_names() -> list[str]:
    from ..events.pythia import PROCESSES

    return sorted(PROCESSES)


def build_parser() -> argparse.ArgumentParser:
    from ..events.hepmc import FORWARD_PARENTS, MOMENTUM_UNITS, READERS
    from ..slha import SIMPLIFIED_MODELS

    parser = Parser(prog="recast", description="Recast LHC searches on truth-level events.")
    parser.add_argument("--version", action="version", version=f"recast {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of internal errors")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("list", help="list the available analyses")
    p.set_defaults(func=info.cmd_list)

    p = sub.add_parser("info", help="signal regions, published numbers and options of an analysis")
    p.add_argument("analysis")
    p.add_argument("--notes", action="store_true", help="also print the analysis' documentation")
    p.set_defaults(func=info.cmd_info)

    p = sub.add_parser("run", help="run analyses on HepMC events, on LHE events showered by Pythia, or on Pythia "
                                   "events from an SLHA point (one pass over the events for all analyses)")
    p.add_argument("analysis", nargs="*", metavar="ANA",
                   help="analyses to run (ids or aliases; 'all' for every one, see 'recast list')")
    p.add_argument("--analyses", nargs="+", metavar="ANA", help="the same, as an option (e.g. --analyses all)")
    p.add_argument("--events", help="HepMC3 or HepMC2 file, plain or .gz/.bz2/.xz/.zst")
    p.add_argument("--lhe", help="Les Houches Event file (plain or .gz), showered and hadronised by Pythia; "
                                 "beams, energy and cross section from the file")
    p.add_argument("--slha", help="SLHA model point: generate with Pythia (with --events: only look up the cross "
                                  "section; with --lhe: the decay tables)")
    _add_generation(p, None)
    p.add_argument("--max-events", type=positive_int, help=argparse.SUPPRESS)
    p.add_argument("--reader", choices=READERS, default="columnar",
                   help="HepMC parser: columnar (numba, default) or pyhepmc (HepMC3's own, the reference)")
    p.add_argument("--forward-parents", choices=FORWARD_PARENTS, default="keep",
                   help="HepMC3 particle lines naming a parent further down the event: keep the link "
                        "(default, as HepMC3 3.3 and the generator) or drop it (as HepMC3 3.2)")
    p.add_argument("--momentum-unit", type=str.upper, choices=MOMENTUM_UNITS,
                   help="HepMC momentum unit, overriding the one the file declares (default: as the file says)")
    p.add_argument("--allow-beam-mismatch", action="store_true",
                   help="run even if the HepMC file's beams or sqrt(s) are not the analysis' (a warning instead)")
    p.add_argument("--xsec-fb", type=float, help="signal cross section in fb (overrides SLHA and tables)")
    p.add_argument("-O", "--option", action="append", metavar="[ANA:]NAME=VALUE",
                   help="set an analysis option (see 'recast info ANA'): for every analysis that has it, or ANA only")
    p.add_argument("--detector", metavar="NAME|FILE",
                   help="detector card for every analysis: a shipped card (see 'recast info ANA') or a YAML file "
                        "(default: each analysis' own, its 'detector' option)")
    p.add_argument("--out", help="write the results JSON here (atomically); with several analyses a directory "
                                 "(DIR/<ANA>.json each)")
    p.add_argument("--hepmc-out", help="with --slha or --lhe: also write the generated events as HepMC3")
    p.add_argument("--dump-features", metavar="FILE",
                   help="write every model's exact inputs, fold and score per event (.parquet or .npz)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar and no tables")
    p.add_argument("--limit", action="store_true",
                   help="also compute CLs and limits (simplified likelihoods; OUT.limits.json with --out)")
    p.add_argument("--xsec-unc", action="store_true", help="with --limit: include the cross-section uncertainty")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--workers", type=positive_int,
                       help="with --slha: generate the point's blocks of 5000 events on this many local worker "
                            "processes (default: in this process; the results are the same)")
    where.add_argument("--scheduler", metavar="ADDRESS", help="with --slha: the blocks on an existing Dask scheduler")
    p.set_defaults(func=run.cmd_run)

    p = sub.add_parser("probe", help="how far an analysis' ML selections can be trusted on these events: training "
                                     "domain, feature importance, convention sensitivity and a worst-case band")
    p.add_argument("analysis", metavar="ANA", help="analysis id or alias (one with machine-learned models)")
    p.add_argument("--events", help="HepMC3 or HepMC2 file, plain or .gz/.bz2/.xz/.zst")
    p.add_argument("--slha", help="SLHA model point: generate with Pythia")
    _add_generation(p, None)
    p.add_argument("--max-events", type=positive_int, help=argparse.SUPPRESS)
    p.add_argument("--reader", choices=READERS, default="columnar", help="HepMC parser (as for 'recast run')")
    p.add_argument("--forward-parents", choices=FORWARD_PARENTS, default="keep", help=argparse.SUPPRESS)
    p.add_argument("--momentum-unit", type=str.upper, choices=MOMENTUM_UNITS,
                   help="HepMC momentum unit, overriding the one the file declares")
    p.add_argument("--allow-beam-mismatch", action="store_true",
                   help="probe even if the HepMC file's beams or sqrt(s) are not the analysis' (a warning instead)")
    p.add_argument("-O", "--option", action="append", metavar="NAME=VALUE",
                   help="set an analysis option (see 'recast info ANA'); the conventions are flipped around these")
    p.add_argument("--detector", metavar="NAME|FILE",
                   help="detector card (default: the analysis' own); its jet energy-scale uncertainty and "
                        "resolutions are the budget of the worst-case shifts")
    p.add_argument("--model", action="append", metavar="CARD",
                   help="probe only this model card (repeatable; default: every model the analysis uses)")
    p.add_argument("--repeats", type=positive_int, default=3,
                   help="permutations per input for the permutation importance (default 3)")
    p.add_argument("--steps", type=int, default=3, help="PGD steps after the FGSM step (default 3; 0: FGSM only)")
    p.add_argument("--no-conventions", action="store_true",
                   help="do not rerun the selection with each analysis option flipped (faster)")
    p.add_argument("--out", metavar="DIR",
                   help=f"output directory: probe.json, report.html, report.md, figures/ (default: "
                        f"./{probe.PROBE_OUT}/<ANA>)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar and no table")
    p.set_defaults(func=probe.cmd_probe)

    p = sub.add_parser("limit", help="CLs, r and upper limits of a results file or of a table of signal yields "
                                     "(simplified and/or full likelihoods)")
    p.add_argument("results", metavar="FILE",
                   help="a results JSON written by 'recast run --out', or your own signal yields: a CSV with the "
                        "header 'region,yield[,yield_err][,analysis]' or a recast-yields JSON "
                        "(recast/schemas/yields-1.schema.json); expected events at the analysis' luminosity")
    p.add_argument("--analysis", metavar="ANA", help="the analysis of a yields table that does not name it")
    p.add_argument("--likelihood", choices=("simplified", "full", "both"), default="simplified",
                   help="simplified per-region likelihoods, the published full ones where they exist, or both")
    p.add_argument("--xsec-unc", action="store_true", help="include the cross-section uncertainty in the signal")
    p.add_argument("--ml-unc", metavar="PROBE.json",
                   help="add the ML-selection robustness band of 'recast probe' (its probe.json, made with the "
                        "result's options and detector card) to the signal uncertainty of the ML regions")
    p.add_argument("--upper-limits", choices=("none", "best", "all"), default="best",
                   help="95%% CL upper limits on mu: for the deciding region (default), every region (slower) "
                        "or none")
    p.add_argument("--out", help="write the limits JSON here (atomically)")
    p.set_defaults(func=limit.cmd_limit)

    p = sub.add_parser("generate", help="generate events with Pythia 8 from an SLHA point (or shower an LHE file) "
                                        "into a HepMC3 file")
    p.add_argument("--slha", help="SLHA model point (with --lhe: the decay tables)")
    p.add_argument("--lhe", help="Les Houches Event file (plain or .gz) to shower and hadronise instead")
    _add_generation(p, None)
    p.add_argument("-o", "--output", required=True, help="output file (.hepmc, .hepmc.gz, .bz2, .xz, .zst)")
    p.set_defaults(func=run.cmd_generate)

    p = sub.add_parser("make-slha", help="write a simplified-model SLHA card (gluino, squark or stop pairs; "
                                         "R-parity conserving and violating)")
    p.add_argument("model", choices=sorted(SIMPLIFIED_MODELS),
                   help="; ".join(f"{k}: {v}" for k, v in SIMPLIFIED_MODELS.items()).replace("%", "%%"))
    p.add_argument("--m-gluino", type=float, help="gluino mass in GeV (models with a gluino parent)")
    p.add_argument("--m-squark", type=float, help="mass of the degenerate light-flavour squarks in GeV (sqq, t6ww)")
    p.add_argument("--m-stop", type=float, help="stop mass in GeV (t2tt, rpv-stop, rpv-stop-higgsino)")
    p.add_argument("--m-parent", type=float, help="the produced sparticle's mass in GeV, whichever it is")
    p.add_argument("--m-lsp", type=float, required=True,
                   help="the LSP's mass in GeV: neutralino 1 (the stop in rpv-gtbs)")
    p.add_argument("--m-chargino", type=float,
                   help="t5ww, t6ww: chargino-1 mass in GeV (default: halfway between the parent and the LSP)")
    p.add_argument("-o", "--output", default="-", help="output file (default: stdout)")
    p.set_defaults(func=run.cmd_make_slha)

    p = sub.add_parser("convert", help="convert a preserved model to ONNX")
    formats = p.add_subparsers(dest="format", required=True, metavar="FORMAT")
    q = formats.add_parser("tmva", help="TMVA BDT weight file (XML) to ONNX (TreeEnsembleRegressor)")
    q.add_argument("input", metavar="IN.xml", help="TMVA MethodBDT weight file")
    q.add_argument("output", metavar="OUT.onnx", help="ONNX model to write (atomically)")
    q.set_defaults(func=data.cmd_convert_tmva)

    p = sub.add_parser("data", help="the external ATLAS files (models, workspaces, cards): list, fetch, verify")
    actions = p.add_subparsers(dest="data_command", required=True, metavar="ACTION")
    q = actions.add_parser("list", help="the registered files and where each is found (mirror, cache, missing)")
    q.add_argument("analysis", nargs="?")
    q.set_defaults(func=data.cmd_data_list)
    q = actions.add_parser("fetch", help="make every file (of the given analyses) available: mirror, cache or download")
    q.add_argument("analyses", nargs="*", metavar="ANA")
    q.add_argument("-q", "--quiet", action="store_true", help="no download progress bar")
    q.set_defaults(func=data.cmd_data_fetch)
    q = actions.add_parser("verify", help="re-hash every copy present in the mirror and the cache")
    q.add_argument("analysis", nargs="?")
    q.set_defaults(func=data.cmd_data_verify)
    q = actions.add_parser("path", help="print the path of one file, fetching it if needed")
    q.add_argument("analysis")
    q.add_argument("id", help="the file name, as in 'recast data list'")
    q.set_defaults(func=data.cmd_data_path)
    q = actions.add_parser("add", help="register a copy you obtained yourself (matched by checksum)")
    q.add_argument("file")
    q.add_argument("--analysis", help="only match the files of this analysis")
    q.set_defaults(func=data.cmd_data_add)

    p = sub.add_parser("validate", help="compare an analysis with ATLAS' published cutflows and A x eff: a report")
    p.add_argument("analysis", help="analysis id or alias")
    p.add_argument("--spec", help="the specification (default: the one shipped with recast, "
                                  "data/<ANA>/validation_spec.yaml)")
    p.add_argument("--points", nargs="+", metavar="NAME",
                   help="only these points (a grid's or a sigma_UL plane's name: all its points)")
    p.add_argument("-n", "--nevents", type=positive_int, help="events per point (default: each point's own)")
    p.add_argument("--detector", metavar="NAME|FILE",
                   help="detector card for every point, overriding the specification's: a shipped card (see "
                        "'recast info ANA') or a YAML file (default: the analysis' own, its 'detector' option)")
    p.add_argument("--compare-detector", action="append", default=[], metavar="NAME|FILE",
                   help="also run every point with this detector card, on the same events, as a column beside "
                        "(repeatable; added to the specification's 'detectors'; the status stays that of the "
                        "point's own card)")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--workers", type=positive_int, help="local worker processes (default: min(2, cores))")
    where.add_argument("--scheduler", metavar="ADDRESS", help="an existing Dask scheduler instead")
    p.add_argument("--out", metavar="DIR",
                   help=f"report directory: report.html, report.md, summary.json, the status (validation.json), "
                        f"figures/ (default: ./{validate.VALIDATION_OUT}/<ANA> in the current directory; the repository's "
                        f"committed validation/reports/ only with --store-status)")
    p.add_argument("--store-status", action="store_true",
                   help="for developers regenerating the committed report: also store the status in recast's "
                        "data/<ANA>/validation.json, which 'recast list' and 'recast info' show (needs every point "
                        "of the specification at its own number of events or more)")
    p.add_argument("--rerun", action="store_true",
                   help="run every point again, even those finished earlier with the same settings (kept in the "
                        "report directory's points/)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar and no line per point")
    p.set_defaults(func=validate.cmd_validate)

    p = sub.add_parser("scan", help="run a grid of model points through analyses on Dask, one results directory")
    p.add_argument("grid", metavar="GRID",
                   help="a directory or glob of SLHA files, or a YAML template over a mass grid, e.g. "
                        "{model: gqq, m_gluino: [1800, 2200], m_lsp: [100, 600], nevents: 5000, seed: 1}; or "
                        "existing events: a directory or glob of HepMC files (NAME.slha beside NAME.hepmc.gz gives "
                        "masses and cross section) or a YAML listing {points: [{events: FILE, xsec_fb: X, m_parent: "
                        "M, m_lsp: M}, ...]}")
    p.add_argument("--analyses", nargs="+", required=True, metavar="ANA", help="analyses to run on every point")
    p.add_argument("-n", "--nevents", type=positive_int,
                   help="events per point (default: the template's, else 5000; events grids: all of each file)")
    p.add_argument("--seed", type=int, help="grid seed; each point's seed derives from it and the point "
                                            "(default: the template's, else 1)")
    p.add_argument("--process", choices=_process_names(),
                   help="production process (default: the template model's, else gluino-pair)")
    p.add_argument("--chunk-size", type=positive_int, default=1000, help="events per columnar batch (default 1000)")
    p.add_argument("--pythia-setting", action="append", default=[], metavar="'KEY = VALUE'",
                   help="extra Pythia setting for every point (repeatable)")
    p.add_argument("-O", "--option", action="append", metavar="[ANA:]NAME=VALUE",
                   help="analysis option: for every analysis that has it, or for ANA only")
    p.add_argument("--detector", metavar="NAME|FILE",
                   help="detector card for every analysis: a shipped card (see 'recast info ANA') or a YAML file "
                        "(default: each analysis' own, its 'detector' option)")
    p.add_argument("--xsec-fb", type=float, help="one cross section in fb for every point (overrides SLHA and tables)")
    p.add_argument("--xsec-unc", action="store_true", help="include the cross-section uncertainty in the limits")
    p.add_argument("--upper-limits", choices=("none", "best", "all"), default="none",
                   help="95%% CL upper limits on mu per point: none (default: CLs decides, and a multi-bin "
                        "limit costs 20-90 s), the deciding region, or every region")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--workers", type=positive_int,
                       help="local worker processes, one thread each (default: min(2, cores))")
    where.add_argument("--scheduler", metavar="ADDRESS",
                       help="an existing Dask scheduler, e.g. tcp://host:8786, instead of a local cluster")
    p.add_argument("--out", required=True, metavar="DIR",
                   help="results directory: points/<name>.json, summary.json, summary.csv (reruns skip finished points)")
    p.add_argument("--replace", action="store_true",
                   help="rerun points that DIR holds finished with other settings (otherwise an error: results are "
                        "never replaced silently)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar and no line per point")
    p.set_defaults(func=scan.cmd_scan)

    p = sub.add_parser("plot-exclusion", help="draw a scan in the (m_parent, m_LSP) plane with its CLs = 0.05 contour")
    p.add_argument("dir", metavar="DIR", help="a scan's results directory (with summary.json)")
    p.add_argument("--out", metavar="PREFIX", help="write PREFIX.png and PREFIX.pdf (default: DIR/exclusion)")
    p.set_defaults(func=scan.cmd_plot_exclusion)
    return parser
