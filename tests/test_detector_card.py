"""Detector cards: the four function forms give the numbers written in the card, the formula
evaluator refuses anything outside its whitelist, the shipped cards load, and every malformed card
(missing field, wrong unit, efficiency outside [0, 1], edges that do not increase, working points
that do not nest, ...) is refused with one line naming the file and the field."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest
import yaml

from recast import detector
from recast.detector.card import FLAVOURS
from recast.detector.functions import FunctionError, compile_formula, parse
from recast.errors import DetectorCardError

FULL = Path(__file__).parent / "data" / "detector_full.yaml"


def full_doc() -> dict:
    return yaml.safe_load(FULL.read_text())


def write(tmp_path: Path, doc: dict, name: str = "card.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def refused(tmp_path: Path, doc: dict) -> str:
    """The one-line message a card is refused with, without the file name it starts with."""
    path = write(tmp_path, doc)
    with pytest.raises(DetectorCardError) as info:
        detector.load(path)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"{path.resolve()}: "), message
    return message[len(f"{path.resolve()}: "):]


# -- the forms ---------------------------------------------------------------------------------------


def test_binned_gives_its_values_and_the_under_and_overflow():
    fn = parse({"form": "binned", "variable": "pt", "edges": [20, 50, 100, 200], "values": [0.62, 0.70, 0.74],
                "overflow": 0.5, "source": "s"})
    pt = np.array([5.0, 20.0, 49.9, 50.0, 150.0, 199.9, 200.0, 3000.0])
    assert fn(pt, np.zeros(8), pt).tolist() == [0.62, 0.62, 0.62, 0.70, 0.74, 0.74, 0.5, 0.5]
    by_eta = parse({"form": "binned", "variable": "abs_eta", "edges": [0, 2.5, 4.5], "values": [1.02, 0.97],
                    "underflow": 9, "source": "s"})
    eta = np.array([-3.0, -1.0, 0.0, 2.49, 2.5, 4.6])
    assert by_eta(np.ones(6), eta, np.ones(6)).tolist() == [0.97, 1.02, 1.02, 1.02, 0.97, 0.97]


def test_binned2d_rows_are_y_bins_and_both_axes_are_clamped():
    fn = parse({"form": "binned2d", "x": "pt", "y": "abs_eta", "x_edges": [20, 100, 1000], "y_edges": [0, 1.5, 2.5],
                "values": [[0.12, 0.10], [0.14, 0.11]], "source": "s"})
    pt = np.array([30.0, 150.0, 30.0, 150.0, 5.0, 5000.0, 5000.0])
    eta = np.array([1.0, -1.0, 2.0, -2.0, 0.0, 0.0, 4.0])
    assert fn(pt, eta, pt).tolist() == [0.12, 0.10, 0.14, 0.11, 0.12, 0.10, 0.11]


def test_formula_uses_numpy_semantics():
    fn = parse({"form": "formula", "expression": "sqrt((5 / pt) ** 2 + 0.7 ** 2 / pt + 0.05 ** 2)", "source": "s"})
    pt = np.array([25.0, 1000.0])
    assert fn(pt, np.zeros(2), pt) == pytest.approx([np.sqrt(0.04 + 0.0196 + 0.0025),
                                                      np.sqrt(2.5e-5 + 4.9e-4 + 0.0025)], rel=1e-14)
    steps = parse({"form": "formula", "expression": "0.7 - 0.1 * (abs_eta > 1.37) + ((20 <= pt < 30) & (eta < 0))",
                   "source": "s"})
    pt, eta = np.array([25.0, 25.0, 40.0]), np.array([-2.0, 0.5, -0.5])
    assert steps(pt, eta, pt) == pytest.approx([1.6, 0.7, 0.7])
    energy = parse({"form": "formula", "expression": "where(energy > 100, -1 * -2, tanh(0)) + maximum(abs(eta), 1)",
                    "source": "s"})
    assert energy(np.ones(2), np.array([-3.0, 0.5]), np.array([150.0, 50.0])).tolist() == [5.0, 1.0]
    constant = parse({"form": "formula", "expression": "0.25", "source": "s"})
    assert constant(np.ones(3), np.zeros(3), np.ones(3)).tolist() == [0.25] * 3


@pytest.mark.parametrize("expression, message", [
    ("__import__('os')", "call of __import__ not allowed"),
    ("__import__('os').system('true')", "call of __import__('os').system not allowed"),
    ("pt.real", "'pt.real' is not allowed"),
    ("pt[0]", "'pt[0]' is not allowed"),
    ("x * 2", "unknown name 'x' (variables: pt, eta, abs_eta, energy)"),
    ("'1' + pt", "'1' is not a number"),
    ("True * pt", "True is not a number"),
    ("lambda: 1", "'lambda: 1' is not allowed"),
    ("exp(pt, 2)", "exp takes 1 positional argument"),
    ("where(pt > 1, 1)", "where takes 3 positional arguments"),
    ("sqrt(x=pt)", "sqrt takes 1 positional argument"),
    ("pt == 3", "only the comparisons < <= > >= are allowed"),
    ("pt | 1", "'pt | 1' is not allowed"),
    ("(pt := 3)", "'(pt := 3)' is not allowed"),
    ("np.exp(pt)", "call of np.exp not allowed"),
    ("pt +", "not a valid expression: invalid syntax"),
])
def test_formulas_outside_the_whitelist_are_refused(expression, message):
    with pytest.raises(FunctionError) as info:
        compile_formula(expression)
    assert str(info.value).startswith(message)
    assert info.value.field == "expression"


# -- the shipped cards and the test card --------------------------------------------------------------


def test_every_shipped_card_loads_and_is_named_after_its_file():
    assert "truth" in detector.available_cards()
    for name in detector.available_cards():
        card = detector.load(name)
        assert card.name == name and card.path == detector.cards_dir() / f"{name}.yaml"
        assert len(card.sha256) == 64 and card.title
    truth = detector.load("truth")
    assert truth.is_truth and truth.sources == {}


def test_the_full_test_card_loads_every_section():
    card = detector.load(FULL)
    assert not card.is_truth and card.name == "test-full" and card.path == FULL.resolve()
    assert card.jets.eta_max == 4.5 and card.jets.jvt.pt_max == 60 and card.jets.changes_momentum
    assert list(card.btagging.working_points) == ["WP-85", "WP-77", "WP-70", "WP-60"]
    assert set(card.btagging.working_points["WP-70"]) == set(FLAVOURS.values())
    assert card.electrons.eta_max == 2.47 and set(card.electrons.working_points) == {"Loose", "Medium", "Tight"}
    assert card.met.soft_term_resolution(np.ones(1), np.zeros(1), np.ones(1)).tolist() == [10.0]
    assert detector.load(str(FULL)) is card  # parsed once per process
    assert card.describe() == {"name": "test-full", "path": str(FULL.resolve()), "sha256": card.sha256}


def test_an_edited_card_file_is_read_again(tmp_path):
    doc = full_doc()
    path = write(tmp_path, doc)
    first = detector.load(path)
    doc["met"]["soft_term_resolution"]["value"] = 12
    write(tmp_path, doc)
    second = detector.load(path)
    assert second.sha256 != first.sha256
    assert second.met.soft_term_resolution(np.ones(1), np.zeros(1), np.ones(1)).tolist() == [12.0]


def test_numbers_in_exponent_notation_are_numbers(tmp_path):
    path = tmp_path / "card.yaml"
    path.write_text(FULL.read_text().replace("value: 0.001, source", "value: 1e-3, source"))
    assert "1e-3" in path.read_text()
    fn = detector.load(path).btagging.working_points["WP-60"][0]
    assert fn(np.ones(1), np.zeros(1), np.ones(1)).tolist() == [0.001]


def test_a_card_is_found_by_name_or_path_and_named_canonically(tmp_path, monkeypatch):
    assert detector.canonical("truth") == "truth"
    monkeypatch.chdir(FULL.parent)
    assert detector.canonical(FULL.name) == str(FULL.resolve())
    with pytest.raises(DetectorCardError) as info:
        detector.load("atlas-run3")
    assert str(info.value) == (f"detector card 'atlas-run3': neither a shipped card "
                               f"({', '.join(detector.available_cards())}) nor a file")
    with pytest.raises(DetectorCardError) as info:
        detector.load(tmp_path)
    assert str(info.value) == f"{tmp_path}: is a directory, not a detector card"


# -- malformed cards ---------------------------------------------------------------------------------


def test_missing_fields_are_named(tmp_path):
    doc = full_doc()
    del doc["title"]
    assert refused(tmp_path, doc) == "title: missing (required)"
    doc = full_doc()
    del doc["jets"]["energy_resolution"]["expression"]
    assert refused(tmp_path, doc) == "jets.energy_resolution.expression: missing (required)"
    doc = full_doc()
    del doc["btagging"]["working_points"]["WP-77"]["tau"]
    assert refused(tmp_path, doc) == "btagging.working_points.WP-77.tau: missing (required)"
    doc = full_doc()
    del doc["electrons"]["working_points"]["Loose"]["source"]
    assert refused(tmp_path, doc) == "electrons.working_points.Loose.source: missing (required)"
    doc = full_doc()
    del doc["muons"]["eta_max"]
    assert refused(tmp_path, doc) == "muons.eta_max: missing (required)"
    doc = full_doc()
    del doc["schema"]
    assert refused(tmp_path, doc) == "schema: missing (a detector card starts with 'schema: recast-detector')"


def test_a_momentum_unit_other_than_gev_is_refused(tmp_path):
    doc = full_doc()
    doc["momentum_unit"] = "MeV"
    assert refused(tmp_path, doc) == ("momentum_unit: 'MeV' is not accepted: cards are in GeV (convert its numbers "
                                      "and write 'momentum_unit: GeV')")


def test_efficiencies_outside_zero_one_are_refused_where_they_are(tmp_path):
    doc = full_doc()
    doc["btagging"]["working_points"]["WP-77"]["c"]["value"] = 1.2
    assert refused(tmp_path, doc) == "btagging.working_points.WP-77.c: efficiency 1.2 outside [0, 1] at value"
    doc = full_doc()
    doc["jets"]["jvt"]["efficiency"]["values"] = [0.85, -0.1]
    assert refused(tmp_path, doc) == ("jets.jvt.efficiency: efficiency -0.1 outside [0, 1] at pt in [40, 60) GeV "
                                      "(values[1])")
    doc = full_doc()
    doc["btagging"]["working_points"]["WP-70"]["b"]["overflow"] = 1.5
    assert refused(tmp_path, doc) == ("btagging.working_points.WP-70.b: efficiency 1.5 outside [0, 1] at "
                                      "pt >= 200 GeV (overflow)")
    doc = full_doc()
    doc["btagging"]["working_points"]["WP-70"]["c"]["values"][1][0] = 2
    assert refused(tmp_path, doc) == ("btagging.working_points.WP-70.c: efficiency 2 outside [0, 1] at "
                                      "pt in [20, 100) GeV, abs_eta in [1.5, 2.5) (values[1][0])")
    # a formula, on the grid: 1.001 - 1e-4 pT exceeds 1 below 10 GeV
    doc = full_doc()
    doc["btagging"]["working_points"]["WP-85"]["light"]["expression"] = "1.001 - 0.0001 * pt"
    assert refused(tmp_path, doc) == ("btagging.working_points.WP-85.light: efficiency 1.0009 outside [0, 1] at "
                                      "pt=1 GeV, eta=-2.5")
    doc = full_doc()
    doc["electrons"]["working_points"]["Tight"]["expression"] = "log(pt - 10)"
    assert refused(tmp_path, doc) == ("electrons.working_points.Tight: efficiency is nan (not a finite number) at "
                                      "pt=1 GeV, eta=-2.47")


def test_resolutions_and_scales_must_be_physical(tmp_path):
    doc = full_doc()
    doc["electrons"]["energy_resolution"]["value"] = -0.02
    assert refused(tmp_path, doc) == "electrons.energy_resolution: resolution -0.02 negative at value"
    doc = full_doc()
    doc["jets"]["energy_scale"]["values"] = [1.02, 0]
    assert refused(tmp_path, doc) == ("jets.energy_scale: energy scale 0 not positive at abs_eta in [2.5, 4.5) "
                                      "(values[1])")
    doc = full_doc()
    doc["muons"]["momentum_resolution"]["expression"] = "0.01 - 1e-4 * pt"
    message = refused(tmp_path, doc)
    assert message.startswith("muons.momentum_resolution: resolution -0.") and "at pt=" in message
    doc = full_doc()
    doc["jets"]["eta_max"] = -1
    assert refused(tmp_path, doc) == "jets.eta_max: -1 is less than or equal to the minimum of 0"


def test_bin_edges_must_increase_and_values_match_them(tmp_path):
    doc = full_doc()
    doc["btagging"]["working_points"]["WP-70"]["b"]["edges"] = [20, 50, 40, 200]
    assert refused(tmp_path, doc) == ("btagging.working_points.WP-70.b.edges: not strictly increasing (40 after 50 "
                                      "at index 2)")
    doc = full_doc()
    doc["jets"]["jvt"]["efficiency"]["edges"] = [20, 20, 60]
    assert refused(tmp_path, doc) == "jets.jvt.efficiency.edges: not strictly increasing (20 after 20 at index 1)"
    doc = full_doc()
    doc["btagging"]["working_points"]["WP-70"]["b"]["values"] = [0.62, 0.70]
    assert refused(tmp_path, doc) == "btagging.working_points.WP-70.b.values: 2 values for 4 edges (need 3)"
    doc = full_doc()
    doc["electrons"]["working_points"]["Loose"]["values"] = [[0.90, 0.95]]
    assert refused(tmp_path, doc) == ("electrons.working_points.Loose.values: 1 rows for 3 y_edges (need one row per "
                                      "y bin, 2)")
    doc = full_doc()
    doc["electrons"]["working_points"]["Loose"]["values"][1] = [0.85]
    assert refused(tmp_path, doc) == "electrons.working_points.Loose.values[1]: 1 values for 3 x_edges (need 2)"
    doc = full_doc()
    doc["electrons"]["working_points"]["Loose"]["y_edges"] = [0, 2.47, 1.37]
    assert refused(tmp_path, doc) == ("electrons.working_points.Loose.y_edges: not strictly increasing (1.37 after "
                                      "2.47 at index 2)")


def test_unknown_fields_and_forms_are_refused(tmp_path):
    doc = full_doc()
    doc["jets"]["energy_smearing"] = doc["jets"].pop("energy_resolution")
    assert refused(tmp_path, doc) == "jets.energy_smearing: unknown field"
    doc = full_doc()
    doc["photons"] = {"eta_max": 2.37}
    assert refused(tmp_path, doc) == "photons: unknown field"
    doc = full_doc()
    doc["met"]["soft_term_resolution"]["form"] = "spline"
    assert refused(tmp_path, doc) == ("met.soft_term_resolution.form: 'spline' is not one of ['constant', 'binned', "
                                      "'binned2d', 'formula']")
    doc = full_doc()
    doc["met"]["soft_term_resolution"]["edges"] = [0, 1]
    assert refused(tmp_path, doc) == "met.soft_term_resolution.edges: unknown field"
    doc = full_doc()
    doc["jets"]["energy_scale"]["variable"] = "eta"
    assert refused(tmp_path, doc) == "jets.energy_scale.variable: 'eta' is not one of ['pt', 'abs_eta', 'energy']"
    doc = full_doc()
    doc["jets"]["energy_resolution"]["expression"] = "exp(pt) ** open('x')"
    assert refused(tmp_path, doc) == ("jets.energy_resolution.expression: call of open not allowed (functions: sqrt, "
                                      "exp, log, tanh, abs, minimum, maximum, where)")
    doc = full_doc()
    doc["schema_version"] = 2
    path = write(tmp_path, doc)
    with pytest.raises(DetectorCardError) as info:
        detector.load(path)
    assert str(info.value) == (f"{path.resolve()}: detector schema version 2 is not supported (this recast reads "
                               f"version 1)")


def test_working_points_must_nest(tmp_path):
    doc = full_doc()
    doc["btagging"]["working_points"]["WP-77"]["b"]["value"] = 0.9
    assert refused(tmp_path, doc) == ("btagging.pseudo_continuous: WP-85.b efficiency 0.85 is below WP-77.b's 0.9 at "
                                      "pt=1 GeV, eta=-2.5 (the points must nest, listed loosest first)")
    doc = full_doc()  # WP-70's b efficiency is 0.74 in [100, 200) GeV only
    doc["btagging"]["working_points"]["WP-77"]["b"]["value"] = 0.73
    assert refused(tmp_path, doc) == ("btagging.pseudo_continuous: WP-77.b efficiency 0.73 is below WP-70.b's 0.74 "
                                      "at pt=100 GeV, eta=-2.5 (the points must nest, listed loosest first)")
    doc = full_doc()
    doc["btagging"]["pseudo_continuous"] = ["WP-85", "WP-70", "WP-77", "WP-60"]
    assert refused(tmp_path, doc).startswith("btagging.pseudo_continuous: WP-70.b efficiency 0.62 is below WP-77.b's "
                                             "0.77")
    doc = full_doc()
    doc["btagging"]["pseudo_continuous"] = ["WP-85", "WP-75"]
    assert refused(tmp_path, doc) == ("btagging.pseudo_continuous[1]: 'WP-75' is not one of the card's working points "
                                      "(WP-85, WP-77, WP-70, WP-60)")
    doc = full_doc()
    doc["muons"]["working_points"]["Tight"]["value"] = 0.97
    assert refused(tmp_path, doc) == ("muons.working_points: Medium efficiency 0.96 is below Tight's 0.97 at pt=1 GeV, "
                                      "eta=-2.7 (Loose >= Medium >= Tight)")
    doc = full_doc()  # Loose is 0.85 for 5 < pT < 20 GeV, |eta| > 1.37 (and below 5 GeV, clamped)
    doc["electrons"]["working_points"]["Medium"]["value"] = 0.86
    assert refused(tmp_path, doc) == ("electrons.working_points: Loose efficiency 0.85 is below Medium's 0.86 at "
                                      "pt=1 GeV, eta=-2.47 (Loose >= Medium >= Tight)")


def test_broken_yaml_is_refused_in_one_line(tmp_path):
    path = tmp_path / "card.yaml"
    path.write_text(FULL.read_text().replace("  eta_max: 2.7\n", "  eta_max: 2.7\n  eta_max: 2.5\n"))
    line = path.read_text().splitlines().index("  eta_max: 2.7") + 2  # the second eta_max of muons
    with pytest.raises(DetectorCardError) as info:
        detector.load(path)
    assert str(info.value) == f"{path.resolve()}: not valid YAML: key 'eta_max' given twice (line {line})"
    path.write_text("schema: recast-detector\njets: [1, 2\n")
    with pytest.raises(DetectorCardError) as info:
        detector.load(path)
    assert str(info.value).startswith(f"{path.resolve()}: not valid YAML: ") and "\n" not in str(info.value)
    path.write_text("- 1\n- 2\n")
    with pytest.raises(DetectorCardError) as info:
        detector.load(path)
    assert str(info.value) == (f"{path.resolve()}: not a detector card (expected a mapping starting with "
                               f"'schema: recast-detector')")
    path.write_text("schema: recast-result\n")
    with pytest.raises(DetectorCardError) as info:
        detector.load(path)
    assert str(info.value) == f"{path.resolve()}: not a recast detector file (schema 'recast-result')"


def test_a_card_without_sections_is_truth(tmp_path):
    doc = {k: full_doc()[k] for k in ("schema", "schema_version", "name", "title", "momentum_unit", "sources")}
    card = detector.load(write(tmp_path, doc))
    assert card.is_truth
    doc["jets"] = {"eta_max": 2.5}
    assert not detector.load(write(tmp_path, copy.deepcopy(doc), "other.yaml")).is_truth


def test_the_docstring_examples_run():
    import doctest

    import recast.detector.functions

    result = doctest.testmod(recast.detector.functions, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
