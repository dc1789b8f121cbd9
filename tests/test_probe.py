"""recast probe: known answers on models and events built here (a network that reads one input
only, a linear model whose worst case is a corner of the budget box, a one-tree BDT whose split
makes a convention flip move a hand-counted number of events, inputs outside a declared
domain), the bad inputs in one line, the engine's domain tally and 'recast run''s warning,
'recast limit --ml-unc', and the command on the three analyses with their page in Chromium."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import awkward as ak
import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from recast import analysis as ana_mod
from recast import detector, engine, probe, schemas
from recast.analysis import Analysis, Cut, ModelUse, Option, ScoreCut, SignalRegion
from recast.cli import main
from recast.errors import AnalysisError, ModelError
from recast.models import card as card_mod
from recast.models import runtime
from recast.models.tmva import read_xml, to_onnx
from recast.objects import ObjectConfig, leading_slots
from recast.probe import collect, domain, perturb, report

ANA_ID = "TOY-PROBE"
INPUTS = ["jetPt0", "jetEta0", "jetPt1", "jetEta1", "met"]
CARD = """schema: recast-detector
schema_version: 1
name: toy-budget
title: constant jet energy-scale uncertainty and eta resolution
momentum_unit: GeV
sources: {toy: made up for the test}
jets:
  energy_scale_uncertainty: {form: constant, value: 0.05, source: toy}
  eta_resolution: {form: constant, value: 0.01, source: toy}
met:
  soft_term_resolution: {form: constant, value: 10.0, source: toy}
"""


@pytest.fixture
def budget_card(tmp_path) -> str:
    path = tmp_path / "toy-budget.yaml"
    path.write_text(CARD)
    return str(path)


def _variables(obj, opt):
    pts, etas = leading_slots(obj.jets.pt, 2), leading_slots(obj.jets.eta, 2)
    return {"jetPt0": pts[:, 0], "jetEta0": etas[:, 0], "jetPt1": pts[:, 1], "jetEta1": etas[:, 1],
            "met": np.asarray(obj.met.pt, dtype=np.float64), "nj": ak.to_numpy(ak.num(obj.jets))}


def toy_analysis(card_path: str, threshold: float = 0.5, op: str = ">", models=None) -> Analysis:
    """One jet, one ML region (MET > 100 and the score cut); option eta_pad disputes the second
    jet's eta of one-jet events (the card's padding, or 0 as a peer would)."""
    def uses(opt):
        pad = (("jetEta1", 0.0),) if opt["eta_pad"] == "zero" else ()
        return (ModelUse(card="TOY", score="s", pad=pad),)

    return Analysis(
        id=ANA_ID, title="toy", arxiv="-", sqrt_s_tev=13.0, luminosity_ifb=1.0,
        preselection=(Cut(">= 1 jet", "nj >= 1"),),
        signal_regions=(SignalRegion("SR-ML", (Cut("MET", "met > 100"),
                                               ScoreCut("score", score="s", threshold=threshold, op=op))),
                        SignalRegion("SR-MET", (Cut("MET", "met > 300"),))),
        variables=_variables, object_config=lambda opt: ObjectConfig(),
        options=(Option("eta_pad", "card", "eta of an absent second jet: the card's padding or 0", ("card", "zero")),
                 Option("met_cut", 100.0, "a number: never flipped", bounds=(0.0, 1000.0)),
                 detector.option(card_path)),
        models=models if models is not None else uses)


def toy_card(domains=None, files=None, perturbation=None, disputed=None, pads=None, fold_rule=None, fmt="onnx",
             tensors=("x", "y")):
    files = files or {"all": "toy.onnx"}
    inputs = []
    for name in INPUTS:
        row = {"name": name, "unit": "GeV" if "Pt" in name or name == "met" else ""}
        if (pads or {}).get(name) is not None:
            row["pad"] = pads[name]
        if (domains or {}).get(name) is not None:
            row["domain"] = domains[name]
        inputs.append(row)
    doc = {"id": "TOY", "analysis": ANA_ID, "format": fmt, "files": files,
           "signature": {"input": tensors[0], "output": tensors[1], "n_outputs": 1}, "inputs": inputs,
           "conventions": {"phi_range": "not used", "btag_encoding": "not used"}, "outputs": {"node": 0},
           "golden_unavailable": "a model built in the test"}
    if fold_rule:
        doc["folds"] = {"rule": fold_rule}
    if domains:
        doc["training_domain"] = {"source": "declared by the test"}
    if perturbation:
        doc["perturbation"] = perturbation
    if disputed:
        doc["disputed"] = disputed
    return card_mod.parse(doc, "toy card")


def linear_onnx(weights, bias=0.0, sigmoid=False) -> onnx.ModelProto:
    """y = (sigmoid of) x . weights + bias, x float32 [N, len(weights)]."""
    w = np.asarray(weights, np.float32).reshape(-1, 1)
    nodes = [helper.make_node("MatMul", ["x", "W"], ["z0"]),
             helper.make_node("Add", ["z0", "b"], ["z" if sigmoid else "y"])]
    if sigmoid:
        nodes.append(helper.make_node("Sigmoid", ["z"], ["y"]))
    graph = helper.make_graph(nodes, "toy", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", len(w)])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 1])],
                              [numpy_helper.from_array(w, "W"),
                               numpy_helper.from_array(np.array([bias], np.float32), "b")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def loaded(card, models: dict) -> runtime.LoadedModel:
    sessions = {fold: ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"])
                for fold, m in models.items()}
    return runtime.LoadedModel(card, sessions, {fold: Path(f"{fold}.onnx") for fold in models})


def prepared(ana, options, model):
    """What probe.prepare gives, for a model that is not in any registry."""
    found = {"TOY": model}
    flips, skipped = collect.prepare_flips(ana, options, found)
    return collect.select_models(ana, options, found), flips, skipped


def random_events(build, n=400, seed=3):
    rng = np.random.default_rng(seed)
    events = []
    for i in range(n):
        pts = np.sort(rng.uniform(30, 600, 2))[::-1]
        jets = [build.jet(float(pts[0]), float(rng.uniform(-2.5, 2.5)), 0.1)]
        if i % 3:
            jets.append(build.jet(float(pts[1]), float(rng.uniform(-2.5, 2.5)), 2.0))
        events.append({"jets": jets, "met": float(rng.uniform(0, 500)), "met_phi": 0.0})
    return build.objects(events)


def run_probe(ana, model, chunks, **kw):
    options = ana.resolve_options()
    return probe.probe(ana, options, chunks, prepared=prepared(ana, options, model), **kw)


# -- a network that reads input k only ------------------------------------------------------------------


@pytest.mark.parametrize("k", [0, 4])
def test_a_network_of_one_input_has_importance_and_gradient_on_that_input_only(build, budget_card, k):
    weights = np.zeros(len(INPUTS))
    weights[k] = 0.05
    bias = -0.05 * (250.0 if k == 0 else 200.0)
    card = toy_card(pads={"jetPt1": 0.0, "jetEta1": -3.0})
    model = loaded(card, {"all": linear_onnx(weights, bias, sigmoid=True)})
    ana = toy_analysis(budget_card)
    objects = random_events(build)
    result = run_probe(ana, model, [objects], repeats=4, seed=7)
    (m,) = result["models"]
    by_name = {r["name"]: r for r in m["importance"]}
    for name, row in by_name.items():
        if name == INPUTS[k]:
            assert row["mean_abs_score_change"] > 0.05 and row["mean_abs_gradient"] > 0
            change = row["regions"]["SR-ML"]
            assert change["efficiency_change"] != 0 or change["efficiency_change_sd"] > 0
        else:  # the network ignores it: exactly nothing moves
            assert row["mean_abs_score_change"] == 0.0 and row["mean_score_change"] == 0.0
            assert row["mean_abs_gradient"] == 0.0
            assert row["regions"]["SR-ML"] == {"efficiency_change": 0.0, "efficiency_change_sd": 0.0}
    # the gradient of sigmoid(0.05 x_k + b) is 0.05 s (1 - s): its mean over the events reaching the model
    x = _variables(objects, {})[INPUTS[k]]
    s = 1 / (1 + np.exp(-(0.05 * x + bias)))
    assert by_name[INPUTS[k]]["mean_abs_gradient"] == pytest.approx(np.mean(0.05 * s * (1 - s)), rel=2e-3)


# -- a linear model: the worst case is the corner of the budget box -----------------------------------


def test_linear_model_worst_case_band_is_the_analytic_corner(build, budget_card):
    weights = [1.0, 2.0, -0.5, 0.0, 0.01]  # jetPt0, jetEta0, jetPt1, jetEta1, met
    perturbation = {"jets": {"pt": "jetPt{k}", "eta": "jetEta{k}"},
                    "inputs": {"jetPt{k}": "jet-energy-scale", "jetEta{k}": "jet-eta-resolution", "met": "met"}}
    card = toy_card(pads={"jetPt1": 0.0, "jetEta1": -3.0}, perturbation=perturbation)
    threshold = 300.0
    model = loaded(card, {"all": linear_onnx(weights)})
    ana = toy_analysis(budget_card, threshold=threshold)
    objects = random_events(build, n=600)
    v = _variables(objects, {})
    pt0, eta0, pt1, met = v["jetPt0"], v["jetEta0"], np.nan_to_num(v["jetPt1"]), v["met"]
    has1 = ~np.isnan(v["jetPt1"])
    eta1 = np.where(has1, v["jetEta1"], -3.0)
    score = pt0 + 2 * eta0 - 0.5 * pt1 + 0.01 * met
    # every budget by hand: 5 % of each jet's pT, eta by 0.01, MET by 5 % (the jets' mean scale
    # uncertainty, 5 % here) plus the 10 GeV soft term; an absent jet does not move
    reach = 0.05 * pt0 + 2 * 0.01 + 0.5 * 0.05 * pt1 + 0.01 * (0.05 * met + 10.0)
    assert not np.isnan(eta1).any()
    rest = met > 100
    n = len(met)
    expected = {"efficiency": np.sum(rest & (score > threshold)) / n,
                "efficiency_up": np.sum(rest & (score + reach > threshold)) / n,
                "efficiency_down": np.sum(rest & (score - reach > threshold)) / n}
    assert expected["efficiency_up"] > expected["efficiency"] > expected["efficiency_down"]  # the test can fail
    for steps in (0, 3):
        result = run_probe(ana, model, [objects], steps=steps, repeats=1)
        (region,) = result["regions"]
        for key, value in expected.items():
            assert region["band"][key] == pytest.approx(value, abs=1e-12), (steps, key)
        up = expected["efficiency_up"] / expected["efficiency"] - 1
        assert result["ml_uncertainty"]["SR-ML"]["up"] == pytest.approx(up)
    # event by event: the highest and lowest scores are the corners s +- reach
    options = ana.resolve_options()
    (sample,) = collect.collect(ana, options, [objects], collect.select_models(ana, options, {"TOY": model})).samples
    eps, notes = perturb.budgets(sample, detector.load(budget_card))
    assert notes == []
    high, low = perturb.extreme_scores(sample, eps, np.arange(len(score)), steps=2)
    np.testing.assert_allclose(high, score + reach, rtol=1e-6, atol=1e-4)
    np.testing.assert_allclose(low, score - reach, rtol=1e-6, atol=1e-4)
    budgets = {b["name"]: b for b in result["models"][0]["budgets"]}
    assert budgets["jetPt0"]["mean_relative_budget"] == pytest.approx(0.05)
    assert budgets["jetEta0"]["mean_budget"] == pytest.approx(0.01)


def test_the_search_never_leaves_the_box_and_keeps_the_nominal_score(build, budget_card):
    """A model whose best point is inside the box (a peak at jetPt0 = 300 GeV): the highest score
    found never exceeds the peak, the lowest never the nominal."""
    card = toy_card(pads={"jetPt1": 0.0, "jetEta1": -3.0},
                    perturbation={"jets": {"pt": "jetPt{k}", "eta": "jetEta{k}"},
                                  "inputs": {"jetPt{k}": "jet-energy-scale"}})
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 5])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 1])
    # y = -|x0 - 300|
    nodes = [helper.make_node("Slice", ["x", "s", "e", "a"], ["x0"]), helper.make_node("Sub", ["x0", "c"], ["d"]),
             helper.make_node("Abs", ["d"], ["ad"]), helper.make_node("Neg", ["ad"], ["y"])]
    inits = [numpy_helper.from_array(np.array([0], np.int64), "s"),
             numpy_helper.from_array(np.array([1], np.int64), "e"),
             numpy_helper.from_array(np.array([1], np.int64), "a"),
             numpy_helper.from_array(np.array([300.0], np.float32), "c")]
    net = helper.make_model(helper.make_graph(nodes, "peak", [x], [y], inits),
                            opset_imports=[helper.make_opsetid("", 13)])
    net.ir_version = 8
    model = loaded(card, {"all": net})
    ana = toy_analysis(budget_card, threshold=-20.0)
    objects = random_events(build, n=300)
    options = ana.resolve_options()
    got = collect.collect(ana, options, [objects], collect.select_models(ana, options, {"TOY": model}))
    (sample,) = got.samples
    eps, _ = perturb.budgets(sample, detector.load(budget_card))
    rows = np.arange(len(sample.raw))
    high, low = perturb.extreme_scores(sample, eps, rows, steps=4)
    pt0 = sample.raw[:, 0]
    assert (high <= 1e-4).all() and (high >= sample.score - 1e-4).all() and (low <= sample.score + 1e-4).all()
    # the exact extremes: the point of the box [0.95, 1.05] x pT nearest to / farthest from 300
    nearest = np.clip(300.0, 0.95 * pt0, 1.05 * pt0)
    farthest = np.where(np.abs(0.95 * pt0 - 300) > np.abs(1.05 * pt0 - 300), 0.95 * pt0, 1.05 * pt0)
    np.testing.assert_allclose(low, -np.abs(farthest - 300), atol=1e-3)
    inside = np.abs(pt0 - 300) < 0.05 * pt0
    assert np.mean(np.abs(high[~inside] + np.abs(nearest[~inside] - 300)) < 1e-3) == 1.0  # corners: exact
    assert np.max(high[inside]) <= 1e-4 and np.mean(high[inside] > -0.5 * 0.05 * pt0[inside]) == 1.0  # PGD climbs


# -- a one-tree BDT and a convention flip -----------------------------------------------------------------


def one_tree_bdt(tmp_path) -> onnx.ModelProto:
    """TMVA Grad BDT, one tree on input 3 (jetEta1): jetEta1 >= -2.9 gives tanh(2), else tanh(-2)."""
    nodes = ('<Node pos="s" depth="0" NCoef="0" IVar="3" Cut="-2.9000000953674316e+00" cType="1" res="0.0" rms="0.0" '
             'purity="0.5" nType="0">'
             '<Node pos="l" depth="1" NCoef="0" IVar="-1" Cut="0.0" cType="1" res="-2.0" rms="0.0" purity="0.1" '
             'nType="-99"/>'
             '<Node pos="r" depth="1" NCoef="0" IVar="-1" Cut="0.0" cType="1" res="2.0" rms="0.0" purity="0.9" '
             'nType="-99"/></Node>')
    variables = "".join(f'<Variable VarIndex="{i}" Expression="{n}" Label="{n}" Title="{n}" Unit="" Internal="{n}" '
                        f'Type="F" Min="-5" Max="5000"/>' for i, n in enumerate(INPUTS))
    xml = (f'<?xml version="1.0"?><MethodSetup Method="BDT::Toy"><GeneralInfo><Info name="AnalysisType" '
           f'value="Classification"/></GeneralInfo><Options><Option name="BoostType">Grad</Option></Options>'
           f'<Variables NVar="{len(INPUTS)}">{variables}</Variables><Transformations NTransformations="0"/>'
           f'<Weights NTrees="1" AnalysisType="1"><BinaryTree type="DecisionTree" boostWeight="1.0" itree="0">{nodes}'
           f'</BinaryTree></Weights></MethodSetup>')
    path = tmp_path / "one_tree.xml"
    path.write_text(xml)
    return to_onnx(read_xml(path))


def test_one_tree_bdt_convention_flip_moves_the_hand_counted_events(build, budget_card, tmp_path):
    # 10 two-jet events (eta of the second jet within +-2.5: score tanh 2), 8 of them with MET > 100;
    # 6 one-jet events (padded eta -3 < -2.9: score tanh -2), 4 of them with MET > 100.
    events = [{"jets": [build.jet(300, 0.5, 0.0), build.jet(100, -2.0 + 0.4 * i, 1.0)],
               "met": 150.0 if i < 8 else 50.0, "met_phi": 0.0} for i in range(10)]
    events += [{"jets": [build.jet(300, 0.5, 0.0)], "met": 150.0 if i < 4 else 50.0, "met_phi": 0.0} for i in range(6)]
    objects = build.objects(events)
    disputed = [{"name": "eta-pad-0", "description": "a peer pads the absent jet's eta with 0",
                 "pad": {"jetEta1": 0.0}}]
    card = toy_card(pads={"jetPt1": 0.0, "jetEta1": -3.0}, disputed=disputed, domains={"jetEta1": [-3.0, 2.8]},
                    fmt="tmva-xml", tensors=("features", "score"))
    model = loaded(card, {"all": one_tree_bdt(tmp_path)})
    ana = toy_analysis(budget_card, threshold=0.9)
    result = run_probe(ana, model, [objects], repeats=2)
    assert result["models"][0]["kind"] == "boosted decision trees"
    assert result["models"][0]["importance"][3]["mean_abs_gradient"] is None
    (region,) = result["regions"]
    assert region["efficiency"] == pytest.approx(8 / 16) and region["n_events"] == 8
    flips = {(f["name"], f["value"]): f for f in result["conventions"]["flips"]}
    for key in (("eta_pad", "zero"), ("eta-pad-0", "eta-pad-0")):  # the analysis option and the card's dispute
        row = flips[key]["regions"]["SR-ML"]
        assert row["efficiency"] == pytest.approx(12 / 16)
        assert row["change"] == pytest.approx(4 / 16) and row["change_err"] == pytest.approx(math.sqrt(4) / 16)
        assert row["relative_change"] == pytest.approx(0.5)
    assert flips[("eta_pad", "zero")]["kind"] == "analysis option"
    assert flips[("eta-pad-0", "eta-pad-0")]["kind"] == "model card"
    assert {r["name"] for r in result["conventions"]["not_flipped"]} == {"met_cut", "detector"}
    # the flipped option feeds eta 0 to one-jet events: inside the domain [-3, 2.8] like the padding
    assert flips[("eta_pad", "zero")]["regions"]["SR-ML"]["fraction_outside"] == 0.0


# -- the training domain ------------------------------------------------------------------------------------


def test_inputs_outside_a_declared_domain_are_counted(build, budget_card):
    # jetPt0 in [0, 500], jetEta0 per fold, met by moments (mean 200, width 20: outside beyond 100 GeV),
    # jetEta1 a set of values; an absent second jet (padded) is never outside
    events = [{"jets": [build.jet(pt, 0.2 if i % 2 else 1.5, 0.0)] + ([build.jet(40, 1.0, 1.0)] if i < 3 else []),
               "met": met, "met_phi": 0.0}
              for i, (pt, met) in enumerate([(100, 200), (600, 150), (700, 250), (200, 350), (300, 190),
                                             (450, 90), (550, 180), (120, 210), (130, 205), (140, 199)])]
    objects = build.objects(events)
    objects = dataclasses.replace(objects, weight=np.array([1, 2, 1, 1, 1, 1, 1, 1, 1, 1], float))
    domains = {"jetPt0": [0, 500], "jetEta0": {"even": [-1.0, 1.0], "odd": [-2.0, 2.0]},
               "met": {"mean": 200.0, "width": 20.0}, "jetEta1": {"values": [1.0]}}
    card = toy_card(pads={"jetPt1": 0.0, "jetEta1": -3.0}, domains=domains, files={"even": "a.onnx", "odd": "b.onnx"},
                    fold_rule="event-number-parity")
    net = linear_onnx([0.001, 0, 0, 0, 0])
    model = loaded(card, {"even": net, "odd": net})
    ana = toy_analysis(budget_card, threshold=0.0)
    result = run_probe(ana, model, [objects], repeats=1)
    dom = result["models"][0]["domain"]
    rows = {r["name"]: r for r in dom["inputs"]}
    # events 1 (600, weight 2), 2 (700), 6 (550): jetPt0 outside
    assert rows["jetPt0"]["n_outside"] == 3 and rows["jetPt0"]["fraction_outside"] == pytest.approx(4 / 11)
    # eta 1.5 lies outside the even fold's [-1, 1] only: events 0, 2, 4, 6, 8 have eta 1.5, event numbers 1, 3, 5, 7, 9
    # (odd): inside; none outside
    assert rows["jetEta0"]["n_outside"] == 0
    # met beyond 5 widths of 200 (100 .. 300): events 3 (350) and 5 (90)
    assert rows["met"]["n_outside"] == 2
    assert rows["jetEta1"]["n_outside"] == 0 and rows["jetEta1"]["n_present"] == 3
    # any input outside: events 1, 2, 3, 5, 6 (weights 2+1+1+1+1 of 11)
    assert dom["n_outside"] == 5 and dom["fraction_outside"] == pytest.approx(6 / 11)
    # the region's events before its score cut (MET > 100: all but event 5): 1, 2, 3, 6 outside, weights 5 of 10
    assert dom["regions"]["SR-ML"]["fraction_outside"] == pytest.approx(5 / 10)
    # the engine counts the same for 'recast run'
    options = ana.resolve_options()
    models = collect.select_models(ana, options, {"TOY": model})
    counts = engine.Counts.for_analysis(ana, options)
    engine.select(ana, objects, options, counts, models)
    assert counts.domain["SR-ML"].tolist() == [9, 4, 10.0, 5.0]
    assert domain.warning(counts.domain) == (
        "events outside the models' training domain (share of each region's events before its score cut): SR-ML 50 % "
        "of 9; 'recast probe' shows which inputs")
    assert domain.warning({"SR-ML": np.array([100, 5, 100.0, 5.0])}) is None  # 5 % is not above the threshold
    # counts of two chunks add up
    both = counts + counts
    assert both.domain["SR-ML"].tolist() == [18, 8, 20.0, 10.0]
    # the same events with the even fold's domain wider: nothing outside there
    row = np.array([[100, 1.5, np.nan, np.nan, 200]])
    assert card.outside(row, np.array([0])).tolist() == [[False, True, False, False, False]]


def test_card_domain_checks_fail_in_one_line():
    with pytest.raises(ModelError, match="inputs have a domain but the card has no training_domain.source"):
        doc = {"id": "T", "analysis": "A", "format": "onnx", "files": {"all": "t"}, "signature": {},
               "golden_unavailable": "x", "inputs": [{"name": "a", "domain": [0, 1]}],
               "conventions": {"phi_range": "-", "btag_encoding": "-"}, "outputs": {}}
        card_mod.parse(doc, "card.yaml")
    for domain_spec, message in (([1, 0], "empty"), ([None, None], "unbounded on both sides"),
                                 ({"values": []}, "non-empty"), ({"mean": 0, "width": 0}, "width must be positive"),
                                 ({"even": [0, 1]}, "domain keys"), ("wide", "domain must be")):
        with pytest.raises(ModelError, match=message):
            toy_card(domains={"met": domain_spec})
    with pytest.raises(ModelError, match="'range' is now 'domain'"):
        card_mod.parse({"id": "T", "analysis": "A", "format": "onnx", "files": {"all": "t"}, "signature": {},
                        "inputs": [{"name": "a", "range": [0, 1]}], "golden_unavailable": "x",
                        "conventions": {"phi_range": "-", "btag_encoding": "-"}, "outputs": {}}, "card.yaml")
    with pytest.raises(ModelError, match="'jetPhi{k}' matches no input"):
        toy_card(perturbation={"jets": {"pt": "jetPt{k}", "eta": "jetEta{k}"},
                               "inputs": {"jetPhi{k}": "jet-energy-scale"}})
    with pytest.raises(ModelError, match="budget 'jes' is not one of"):
        toy_card(perturbation={"jets": {"pt": "jetPt{k}", "eta": "jetEta{k}"}, "inputs": {"met": "jes"}})
    with pytest.raises(ModelError, match=r"disputed\[0\]: give exactly one of"):
        toy_card(disputed=[{"name": "x", "description": "y", "pad": {"met": 1}, "scale": {"met": 2}}])


def test_atlas_cards_state_their_training_domains_as_their_sources_give_them(tmp_path):
    """The BDT domains are each fold's XML Min/Max (float32 exactly); 2018-30's come from its
    configuration's moments (and azimuth ranges); 2019-04's n_jet is the network's N."""
    import os

    from recast.models.tmva_xml import read_xml as read_forest

    mirror = Path(os.environ["RECAST_DATA_MIRROR"]) / "ANA-SUSY-2018-22"
    for card in card_mod.cards("ANA-SUSY-2018-22").values():
        name = card.id.removeprefix("BDT-")
        for fold, weight in (("even", 1), ("odd", 2)):
            forest = read_forest(mirror / f"ZeroLepton2018-SRBDT-{name}_weight{weight}.xml")
            for spec, (var, _, lo, hi) in zip(card.inputs, forest.variables):
                assert spec.name == var
                d = spec.domain[fold]
                assert (np.float32(d.low), np.float32(d.high)) == (np.float32(lo), np.float32(hi)), (card.id, var)
    nn = runtime.with_normalisation(card_mod.card("ANA-SUSY-2018-30", "NN"))
    met = nn.inputs[nn.input_names.index("met")].domain["all"]
    assert met.kind == "moments" and met.mean == pytest.approx(272.2844, rel=1e-6) and met.sigmas == 5
    assert nn.inputs[nn.input_names.index("met_phi")].domain["all"].bounds() == (0.0, 6.2831854)
    for n in (4, 5, 6, 7, 8):
        c = card_mod.card("ANA-SUSY-2019-04", f"NN-{n}j")
        assert c.inputs[0].domain["all"].values == (float(n),)
        assert c.inputs[c.input_names.index("jet_btag_bin_0")].domain["all"].values == (1, 2, 3, 4, 5)


# -- bad input -------------------------------------------------------------------------------------------------


def test_an_analysis_without_models_or_a_card_without_domain_is_one_line(budget_card, monkeypatch, capsys, tmp_path):
    plain = toy_analysis(budget_card, models=())
    with pytest.raises(AnalysisError, match="TOY-PROBE uses no machine-learned model .*nothing to probe"):
        probe.prepare(plain, plain.resolve_options())
    monkeypatch.setattr(ana_mod, "load", lambda name: plain)
    assert main(["probe", "TOY", "--events", "x.hepmc", "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("recast: error: TOY-PROBE uses no machine-learned model") and err.count("\n") == 1
    assert "Traceback" not in err
    with pytest.raises(ModelError, match="model card TOY states no training domain"):
        domain.require_domain(toy_card())
    # the command, with a model whose card states no domain
    bare = toy_analysis(budget_card)
    model = loaded(toy_card(pads={"jetPt1": 0.0, "jetEta1": -3.0}), {"all": linear_onnx([1, 0, 0, 0, 0])})
    monkeypatch.setattr(ana_mod, "load", lambda name: bare)
    monkeypatch.setattr(engine, "prepare_models",
                        lambda ana, opts, threads=1: engine.Models(loaded=[(u, model) for u in ana.model_uses(opts)]))
    assert main(["probe", "TOY", "--events", "x.hepmc", "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("recast: error: TOY: model card TOY states no training domain") and err.count("\n") == 1


def test_cli_bad_inputs(tmp_path, capsys, gtt_sample, monkeypatch):
    monkeypatch.setenv("RECAST_CACHE_DIR", str(tmp_path / "cache"))
    runtime._LOADED.clear()
    cases = [
        (["probe", "ANA-SUSY-2019-04", "--events", str(gtt_sample[1]), "--model", "NN-9j",
          "--out", str(tmp_path / "a")],
         "ANA-SUSY-2019-04 has no model NN-9j (its models: NN-4j, NN-5j, NN-6j, NN-7j, NN-8j)"),
        (["probe", "ANA-SUSY-2019-04", "--out", str(tmp_path / "b")], "give the events"),
        (["probe", "ANA-SUSY-2019-04", "--events", str(tmp_path / "missing.hepmc"), "--out", str(tmp_path / "c")],
         "missing.hepmc"),
    ]
    # ATLAS-SUSY-2018-30's network is in no mirror: the probe says so in one line
    cases.append((["probe", "ANA-SUSY-2018-30", "--events", str(gtt_sample[1]), "--out", str(tmp_path / "d")],
                  "ANA-SUSY-2018-30: cannot probe nn_gtt_2100_1: model NN unavailable"))
    for argv, message in cases:
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1 and err.startswith("recast: error:"), err


# -- the ATLAS analyses, the page, and the limits --------------------------------------------------------


@pytest.fixture(scope="module")
def probe_2018_22(gtt_sample, tmp_path_factory):
    out = tmp_path_factory.mktemp("probe") / "p22"
    assert main(["probe", "ANA-SUSY-2018-22", "--events", str(gtt_sample[1]), "--model", "BDT-GGd3", "--model",
                 "BDT-GGo4", "--repeats", "2", "--steps", "1", "-q", "--out", str(out)]) == 0
    return out


def test_probe_of_the_bdts_is_a_valid_document_and_its_numbers_are_the_engines(probe_2018_22, gtt_sample, tmp_path):
    doc = report.read(probe_2018_22 / "probe.json")
    schemas.validate(doc, "probe", "probe.json")
    assert [m["card"] for m in doc["models"]] == ["BDT-GGd3", "BDT-GGo4"]
    assert {r["name"] for r in doc["regions"]} == {"BDT-GGd3", "BDT-GGo4"}
    assert doc["events"]["n"] == 120 and doc["detector"]["name"] == "atlas-run2"
    # the same efficiencies as 'recast run' on the same events
    out = tmp_path / "r.json"
    assert main(["run", "ANA-SUSY-2018-22", "--events", str(gtt_sample[1]), "-q", "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    by_name = {sr["name"]: sr for sr in result["signal_regions"]}
    for r in doc["regions"]:
        assert r["efficiency"] == pytest.approx(by_name[r["name"]]["acc_eff"], rel=1e-6)  # 7 digits in the document
        assert r["band"]["efficiency_down"] <= r["efficiency"] <= r["band"]["efficiency_up"]
    flips = {(f["name"], f["value"]) for f in doc["conventions"]["flips"]}
    assert ("bdt_fold", "random") in flips and ("ggo3_sixth_jet", "pad-eta-0") in flips
    assert all(m["importance"][0]["mean_abs_gradient"] is None for m in doc["models"])  # no gradient of trees


def test_limit_adds_the_ml_band_and_refuses_a_foreign_probe(probe_2018_22, gtt_sample, tmp_path, capsys):
    result = tmp_path / "r.json"
    assert main(["run", "ANA-SUSY-2018-22", "--events", str(gtt_sample[1]), "-q", "--out", str(result),
                 "--xsec-fb", "0.5"]) == 0
    doc = json.loads((probe_2018_22 / "probe.json").read_text())
    target = max(doc["regions"], key=lambda r: r["efficiency"])["name"]
    assert doc["ml_uncertainty"][target]["up"] >= 0 >= doc["ml_uncertainty"][target]["down"]
    doc["ml_uncertainty"][target] = {"up": 0.2, "down": -0.3}
    forged = tmp_path / "probe.json"
    forged.write_text(json.dumps(doc))
    plain, with_ml = tmp_path / "plain.json", tmp_path / "ml.json"
    assert main(["limit", str(result), "--out", str(plain), "--upper-limits", "none"]) == 0
    assert main(["limit", str(result), "--ml-unc", str(forged), "--out", str(with_ml), "--upper-limits", "none"]) == 0
    a = {r["name"]: r for r in json.loads(plain.read_text())["limits"]["simplified"]["regions"]}
    b_doc = json.loads(with_ml.read_text())["limits"]["simplified"]
    b = {r["name"]: r for r in b_doc["regions"]}
    assert any(f"{target} (+20.0 % / -30.0 %)" in n for n in b_doc["notes"])
    assert a[target]["signal"][0] > 0
    assert 1e-4 < a[target]["cls_obs"] < b[target]["cls_obs"] < 0.9  # a signal uncertainty weakens the exclusion
    # pyhf's own CLs of the simplified likelihood written here with the band as a normsys
    import pyhf

    r = a[target]
    s_, ds = r["signal"][0], max(r["signal_err"][0], 1e-3 * r["signal"][0])  # fits.MC_ERR_FLOOR
    spec = {"channels": [{"name": "SR", "samples": [
        {"name": "signal", "data": [s_], "modifiers": [
            {"name": "mu", "type": "normfactor", "data": None}, {"name": "mc", "type": "shapesys", "data": [ds]},
            {"name": "ml", "type": "normsys", "data": {"hi": 1.2, "lo": 0.7}}]},
        {"name": "background", "data": r["background"], "modifiers": [
            {"name": "bkg", "type": "shapesys", "data": r["background_err"]}]}]}],
        "observations": [{"name": "SR", "data": [float(o) for o in r["observed"]]}],
        "measurements": [{"name": "m", "config": {"poi": "mu", "parameters": [{"name": "mu", "bounds": [[0, 100]]}]}}],
        "version": "1.0.0"}
    pyhf.set_backend("numpy")
    ws = pyhf.Workspace(spec)
    model = ws.model()
    assert float(pyhf.infer.hypotest(1.0, ws.data(model), model, test_stat="qtilde")) == pytest.approx(
        b[target]["cls_obs"], rel=2e-3)
    others = [n for n in a if n != target and a[n]["signal"][0] > 0]
    assert others and all(b[n]["cls_obs"] == pytest.approx(a[n]["cls_obs"], rel=1e-12) for n in others)
    capsys.readouterr()
    doc["analysis"]["options"]["bdt_fold"] = "random"
    forged.write_text(json.dumps(doc))
    assert main(["limit", str(result), "--ml-unc", str(forged)]) == 2
    err = capsys.readouterr().err
    assert "probed with bdt_fold='random', the result has bdt_fold='event-number-parity'" in err
    assert err.count("\n") == 1
    forged.write_text("{")
    assert main(["limit", str(result), "--ml-unc", str(forged)]) == 2
    assert "not a JSON file" in capsys.readouterr().err


def test_the_page_renders_in_headless_chromium(probe_2018_22, tmp_path, page_in_chromium):
    page = (probe_2018_22 / "report.html").read_text()
    seen = page_in_chromium(page, tmp_path, "probe")
    figures = sorted(p.name for p in (probe_2018_22 / "figures").iterdir())
    assert seen["images"] == seen["loaded"] == len(figures) >= 3 and min(seen["widths"]) > 300
    assert seen["h1"] == "ML robustness probe of ANA-SUSY-2018-22"
    assert seen["tables"] == page.count("<table>") and seen["cells"] == page.count("<td") > 40


def test_2019_04_networks_and_run_warning(gtt_sample, tmp_path, capsys, monkeypatch):
    out = tmp_path / "p19"
    assert main(["probe", "ANA-SUSY-2019-04", "--events", str(gtt_sample[1]), "--model", "NN-8j", "--repeats", "1",
                 "--steps", "0", "-q", "--out", str(out)]) == 0
    doc = report.read(out / "probe.json")
    (m,) = doc["models"]
    assert m["kind"] == "network" and all(r["mean_abs_gradient"] is not None for r in m["importance"])
    flips = {f["name"] for f in doc["conventions"]["flips"]}
    assert {"btag_encoding", "min_dr_leptons", "jet-eta-pad-1e-7", "lepton-in-GeV", "met-in-GeV", "phi-0-2pi"} <= flips
    assert {r["name"] for r in doc["conventions"]["not_flipped"]} == {"btag_mistag", "detector"}
    # 'recast run' warns in one line when a region's events lie outside the training domain
    from recast import pipeline

    real = pipeline.analyse

    def analyse(source, runs, **kw):
        real(source, runs, **kw)
        runs[0].counts.domain = {"1l-NN-6j": np.array([10, 3, 10.0, 3.0])}

    monkeypatch.setattr(pipeline, "analyse", analyse)
    capsys.readouterr()
    assert main(["run", "ANA-SUSY-2019-04", "--events", str(gtt_sample[1]), "-q"]) == 0
    lines = [line for line in capsys.readouterr().err.splitlines() if "training domain" in line]
    assert lines == ["recast: warning: ANA-SUSY-2019-04: events outside the models' training domain (share of each "
                     "region's events before its score cut): 1l-NN-6j 30 % of 10; 'recast probe' shows which inputs"]


def test_2018_30_with_the_stand_in_network(gtt_sample, tmp_path, standin):
    out = tmp_path / "p30"
    assert main(["probe", "ANA-SUSY-2018-30", "--events", str(gtt_sample[1]), "--repeats", "1", "--steps", "1",
                 "--no-conventions", "-q", "--out", str(out)]) == 0
    doc = report.read(out / "probe.json")
    assert len(doc["models"]) == 8 and {m["card"] for m in doc["models"]} == {"NN"}
    gtt = next(m for m in doc["models"] if m["score"] == "nn_gtt_2100_1")
    ranks = {r["name"]: r for r in gtt["importance"]}
    # the stand-in's node 0 reads met, met_phi and the parameters only (tests/conftest.py)
    assert ranks["met"]["mean_abs_score_change"] > 0 and ranks["small_R_jets_pt_0"]["mean_abs_score_change"] == 0
    assert ranks["small_R_jets_pt_0"]["mean_abs_gradient"] == 0 and ranks["met"]["mean_abs_gradient"] > 0
    assert ranks["mGluino"]["constant"] and ranks["mGluino"]["mean_abs_score_change"] == 0
    assert doc["conventions"]["flips"] == []


@pytest.mark.parametrize("aid", ["ANA-SUSY-2018-22", "ANA-SUSY-2018-30", "ANA-SUSY-2019-04"])
def test_committed_example_reports_are_valid_and_their_page_is_their_json(aid):
    """validation/reports/<ANA>/probe: a valid probe document of the analysis with every ML region, a README, and
    a page that is a function of the document (rendered again, the Markdown is the committed one)."""
    folder = Path(__file__).resolve().parents[1] / "validation" / "reports" / aid / "probe"
    doc = report.read(folder / "probe.json")
    ana = ana_mod.load(aid)
    assert doc["analysis"]["id"] == aid and doc["analysis"]["options"] == ana.resolve_options()
    assert {r["name"] for r in doc["regions"]} == {sr.name for sr in ana.signal_regions if sr.score_cut is not None}
    assert f"--out validation/reports/{aid}/probe" in (folder / "README.md").read_text()  # how to regenerate it
    assert report.render(doc)["report.md"] == (folder / "report.md").read_bytes()
