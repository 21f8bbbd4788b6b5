"""Fuzz entries for dlnlib.widgets: the slider builders, their pieces and the data they precompute.

Valid calls are tiny (a few steps, small widths, 2-inch figures at low dpi) so that the property tests stay fast.
"""

import ipywidgets as w
import numpy as np
import torch
from matplotlib.figure import Figure

import dlnlib
from dlnlib import widgets as wd
from dlnlib.widgets import agd, balance, endtoend, gradients, saxe, tour

from .common import Entry

F64 = torch.float64


def _axes(n=1, size=(2.0, 1.5)):
    fig = Figure(figsize=size)
    axes = fig.subplots(1, n, squeeze=False)[0]
    return fig, list(axes)


FIG, (AX,) = _axes()


def _ax():
    return _axes()[1][0]


OTHER_FIG, (OTHER_AX,) = _axes()
SLIDER = wd.int_slider("depth N", 3, 1, 8)


def _update(depth):
    return f"depth {depth}"


def _slider_figure():
    fig, (ax,) = _axes()
    return fig, ax


SF_FIG, SF_AX = _slider_figure()

# balance: artists and a result of 2 trials, 5 steps
BAL_FIG, BAL_AXES = _axes(2)
ARTISTS = balance.setup_axes(BAL_FIG, BAL_AXES, trials=2, steps=5)
BAL_RESULT = balance.factorisation_experiment(0.2, 0.1, 1.0, 0.0, trials=2, steps=5)
BAL_RESULT_3 = balance.factorisation_experiment(0.2, 0.1, 1.0, 0.0, trials=3, steps=5)

# tour: a depth-2 result
TOUR_RESULT = tour.depth_experiment(2, 0.3, width=2, trials=2, steps=5)
OTHER_RESULT = dlnlib.gradient_descent(dlnlib.init_chain([2, 2], "gaussian", seed=0, device="cpu"),
                                       dlnlib.SquaredError(torch.eye(2, dtype=F64), torch.eye(2, dtype=F64)),
                                       lr=0.1, steps=2)

MARKS = wd.DivergenceMarks(_axes()[1][0], 1.0)
LP_VIEW = endtoend.LpView(_axes()[1][0], steps=5)
GAP_VIEW = endtoend.EquivalenceView(_axes()[1][0])
DEPTH_VIEW = saxe.DepthView(_axes()[1][0], 3, 10.0)
CLICKER = saxe.PhasePortraitClicker()
ALIGN = agd.AlignmentClicker(gd_steps=20, agd_steps=10)

KINDS = {
    "widgets.axes": [3, "abc", None, [], FIG, torch.ones(2, dtype=F64)],
    "widgets.figure": [3, "abc", None, [], AX, OTHER_FIG],
    "widgets.rgba": [3, "abc", None, [], np.ones((4, 4, 3), np.uint8), np.ones((4, 4, 4)),
                     np.zeros((0, 4, 4), np.uint8), np.ones((4, 4), np.uint8), [[[0, 0, 0, 255]]]],
    "widgets.figsize": [(0.0, 3.0), (-1.0, 3.0), (float("nan"), 3.0), (float("inf"), 3.0), (3.0,), "ab", None,
                        (1e6, 1e6), (3.0, 3.0, 3.0), 3, (True, 3.0), ("a", "b")],
    "widgets.format": [3, None, "abc", "%", ".3q", b".3g", ""],
    "widgets.options": [[], "abc", None, 3, [float("nan"), 0.2], [0.2, 0.2], [0.2, "a"], [True, 0.2], [[0.2], [0.3]],
                        [1j, 0.2], [float("inf"), 0.2]],
    "widgets.slider": [3, "abc", None, [], w.Checkbox(value=True), w.Text("a"), w.IntRangeSlider()],
    "widgets.sliders": [{}, {"depth": 3}, [SLIDER], "abc", None, {3: SLIDER}, {"not a name": SLIDER},
                        {"depth": w.Button()}],
    "widgets.curve": [np.ones((4, 1)), np.ones(3), "abc", None, 3, [], torch.ones(4, dtype=torch.complex128),
                      np.array(["a"] * 4), [[1.0, 2.0], [3.0]], np.ones(4, dtype=bool), [1.0, None, 2.0, 3.0]],
    "widgets.events": [3, "abc", None, [(float("nan"), "a")], [(1.0,)], [(1.0, 3)], [("a", "b")], [(1.0, "a", 2)],
                       {"x": 1}, [3.0], [(float("inf"), "a")]],
    "widgets.result": [3, "abc", None, [], OTHER_RESULT, {"loss": torch.ones(3, dtype=F64)}],
    "widgets.artists": [3, "abc", None, {}, {"panels": [], "settings": None}, [], {"panels": 3, "settings": 3}],
    "widgets.depths": [[], [3], [0, 2], [2.5, 3], "abc", None, [2, 10**6], [2, 2, 3], 3, [True, 2], [-1, 2]],
}

BAD_UPDATES = [lambda depth: 3, lambda a, b: None, lambda: None]

ENTRIES = {
    # the pieces every builder is made of
    "dlnlib.widgets.DivergenceMarks": Entry(wd.DivergenceMarks, {"ax": _ax(), "y_top": 1.0},
                                            {"ax": "widgets.axes", "y_top": "number"}),
    "dlnlib.widgets.DivergenceMarks.update": Entry(MARKS.update, {"events": [(3.0, "run diverged at step 3")]},
                                                   {"events": "widgets.events"}),
    "dlnlib.widgets.divergence": Entry(wd.divergence, {"x": np.arange(4.0), "g": np.array([1.0, 2.0, np.nan, 4.0])},
                                       {"x": "tensor", "g": "widgets.curve"},
                                       extra_bad={"x": [np.array([0.0, np.nan, 2.0, 3.0]), "abcd"]}),
    "dlnlib.widgets.SliderFigure": Entry(wd.SliderFigure, {"fig": SF_FIG, "axes": SF_AX, "sliders": {"depth": SLIDER},
                                                           "update": _update, "dpi": 20},
                                         {"fig": "widgets.figure", "axes": "widgets.axes", "sliders": "widgets.sliders",
                                          "update": "callable", "dpi": "count"},
                                         extra_bad={"update": BAD_UPDATES, "axes": [OTHER_AX, [SF_AX, OTHER_AX]]}),
    "dlnlib.widgets.all_demos": Entry(wd.all_demos, {}, {}),
    "dlnlib.widgets.clear_data": Entry(wd.clear_data, {"ax": _ax()}, {"ax": "widgets.axes"}),
    "dlnlib.widgets.present_style": Entry(wd.present_style, {}, {}),
    "dlnlib.widgets.float_slider": Entry(wd.float_slider, {"description": "rate η", "value": 0.2, "lo": 0.0,
                                                           "hi": 1.0, "step": 0.1},
                                         {"description": "text", "value": "number", "lo": "number", "hi": "number",
                                          "step": "positive", "readout_format": "widgets.format",
                                          "continuous": "flag"},
                                         extra_bad={"value": [0.25, 1.1, -0.1]}),
    "dlnlib.widgets.int_slider": Entry(wd.int_slider, {"description": "depth N", "value": 3, "lo": 1, "hi": 8,
                                                       "step": 1},
                                       {"description": "text", "value": "count", "lo": "count", "hi": "count",
                                        "step": "count", "continuous": "flag"},
                                       extra_bad={"value": [9, 3.0], "lo": [8, 9], "step": [8]}),
    "dlnlib.widgets.selection_slider": Entry(wd.selection_slider, {"description": "rate η", "options": [0.1, 0.2],
                                                                   "value": 0.2},
                                             {"description": "text", "options": "widgets.options", "value": "number",
                                              "continuous": "flag"},
                                             extra_bad={"value": [True, 0.3]}),
    "dlnlib.widgets.slider_grid": Entry(wd.slider_grid, {"slider": SLIDER, "points": 3},
                                        {"slider": "widgets.slider", "points": "count"}, extra_bad={"points": [1]}),
    "dlnlib.widgets.light_log_axis": Entry(wd.light_log_axis, {"ax": _ax(), "axis": "y", "numticks": 4},
                                           {"ax": "widgets.axes", "axis": "name", "numticks": "count"}),
    "dlnlib.widgets.make_figure": Entry(wd.make_figure, {"nrows": 1, "ncols": 2, "figsize": (3.0, 2.0)},
                                        {"nrows": "count", "ncols": "count", "figsize": "widgets.figsize"}),
    "dlnlib.widgets.encode_png": Entry(wd.encode_png, {"rgba": np.full((3, 5, 4), 200, np.uint8)},
                                       {"rgba": "widgets.rgba"}),
    "dlnlib.widgets.render_png": Entry(wd.render_png, {"fig": FIG, "dpi": 20},
                                       {"fig": "widgets.figure", "dpi": "count"}),
    # agd
    "dlnlib.widgets.agd.log_slider": Entry(agd.log_slider, {"description": "rate η", "value": 0.1, "lo": 1e-3,
                                                            "hi": 2.5, "step": 0.05},
                                           {"description": "text", "value": "positive", "lo": "positive",
                                            "hi": "positive", "step": "positive", "continuous": "flag"},
                                           extra_bad={"value": [0.11, 5.0, 1e-4], "step": [10.0]}),
    "dlnlib.widgets.agd.agd_vs_gd": Entry(agd.agd_vs_gd, {"lr": 0.1, "depth": 2, "lambda2": 0.01, "steps": 5},
                                          {"lr": "positive", "depth": "count", "lambda2": "positive",
                                           "steps": "count"}),
    "dlnlib.widgets.agd.agd_demo": Entry(agd.agd_demo, {"lr": 0.1, "depth": 2, "lambda2": 0.01, "steps": 5,
                                                        "tol": 1e-6},
                                         {"lr": "number", "depth": "count", "lambda2": "number", "steps": "count",
                                          "tol": "positive"},
                                         extra_bad={"lr": [0.11, 10.0], "depth": [9]}),
    "dlnlib.widgets.agd.paths_from": Entry(agd.paths_from, {"w1": 0.5, "w2": 1.0, "lr": 0.1, "depth": 2,
                                                            "gd_steps": 20, "agd_steps": 10},
                                           {"w1": "number", "w2": "number", "lr": "positive", "depth": "count",
                                            "gd_steps": "count", "agd_steps": "count"},
                                           extra_bad={"w1": [2.5, -1.5], "w2": [10.5], "depth": [9],
                                                      "gd_steps": [20_001]}),
    "dlnlib.widgets.agd.AlignmentClicker": Entry(agd.AlignmentClicker, {"w1": 0.0, "w2": 0.0, "lr": 0.1, "depth": 2,
                                                                        "gd_steps": 20, "agd_steps": 10, "tol": 1e-6,
                                                                        "drag": True},
                                                 {"w1": "number", "w2": "number", "lr": "positive", "depth": "count",
                                                  "gd_steps": "count", "agd_steps": "count", "tol": "positive",
                                                  "drag": "flag"},
                                                 extra_bad={"w1": [0.005, 2.5], "w2": [0.03, 10.5],
                                                            "tol": [1e4, 1e-15], "agd_steps": [20_001]}),
    "dlnlib.widgets.agd.AlignmentClicker.click": Entry(ALIGN.click, {"w1": 0.5, "w2": 1.0},
                                                       {"w1": "number", "w2": "number"},
                                                       extra_bad={"w1": [2.5], "w2": [-2.5]}),
    "dlnlib.widgets.agd.clickable_alignment_paths": Entry(agd.clickable_alignment_paths, {"w1": 0.0, "w2": 0.0,
                                                                                          "lr": 0.1, "depth": 2},
                                                          {"w1": "number", "w2": "number", "lr": "positive",
                                                           "depth": "count"},
                                                          extra_bad={"w1": [0.005], "depth": [9]}),
    # balance
    "dlnlib.widgets.balance.factorisation_experiment": Entry(
        balance.factorisation_experiment, {"lr": 0.2, "scale": 0.1, "ratio": 1.0, "lam": 0.0, "trials": 2, "steps": 5},
        {"lr": "positive", "scale": "positive", "ratio": "positive", "lam": "number", "trials": "count",
         "steps": "count", "seed": "seed"}),
    "dlnlib.widgets.balance.setup_axes": Entry(balance.setup_axes, {"fig": BAL_FIG, "axes": BAL_AXES, "trials": 2,
                                                                    "steps": 5},
                                               {"fig": "widgets.figure", "axes": "widgets.axes", "trials": "count",
                                                "steps": "count"},
                                               extra_bad={"axes": [BAL_AXES[:1], [BAL_AXES[0], OTHER_AX]]}),
    "dlnlib.widgets.balance.draw_factorisation": Entry(
        balance.draw_factorisation, {"artists": ARTISTS, "result": BAL_RESULT, "lr": 0.2, "scale": 0.1, "ratio": 1.0,
                                     "lam": 0.0},
        {"artists": "widgets.artists", "result": "widgets.result", "lr": "positive", "scale": "positive",
         "ratio": "positive", "lam": "number"},
        extra_bad={"result": [BAL_RESULT_3]}),
    "dlnlib.widgets.balance.balance_demo": Entry(balance.balance_demo, {"lr": 0.2, "scale": 0.1, "ratio": 1.0,
                                                                        "lam": 0.0},
                                                 {"lr": "number", "scale": "number", "ratio": "number",
                                                  "lam": "number"},
                                                 extra_bad={"lr": [0.03, 0.52], "ratio": [0.2]}),
    # endtoend
    "dlnlib.widgets.endtoend.lp_sweep": Entry(endtoend.lp_sweep, {"p": 3, "depth": 2, "width": 3, "steps": 5,
                                                                  "record_every": 1},
                                              {"p": "positive", "depth": "count", "dataset": "name", "width": "count",
                                               "steps": "count", "record_every": "count", "seed": "seed"},
                                              extra_bad={"p": [1.5, 17]}),
    "dlnlib.widgets.endtoend.LpView": Entry(endtoend.LpView, {"ax": _ax(), "steps": 5, "top": 10.0},
                                            {"ax": "widgets.axes", "steps": "count", "top": "positive"}),
    "dlnlib.widgets.endtoend.LpView.update": Entry(LP_VIEW.update, {"depth": 1, "lr": 0.2, "p": 3, "scale": 0.01,
                                                                    "width": 3, "steps": 5},
                                                   {"depth": "count", "lr": "number", "p": "positive",
                                                    "scale": "number", "dataset": "name", "width": "count",
                                                    "steps": "count"},
                                                   extra_bad={"lr": [0.3], "scale": [0.02]}),
    "dlnlib.widgets.endtoend.draw_lp": Entry(endtoend.draw_lp, {"ax": _ax(), "depth": 1, "lr": 0.2, "p": 3,
                                                                "scale": 0.01, "width": 3, "steps": 5},
                                             {"ax": "widgets.axes", "depth": "count", "lr": "number", "p": "positive",
                                              "scale": "number", "dataset": "name", "width": "count",
                                              "steps": "count"}),
    "dlnlib.widgets.endtoend.lp_demo": Entry(endtoend.lp_demo, {"depth": 2, "lr": 0.2, "p": 3, "scale": 0.01,
                                                                "depths": (1, 2), "ps": (2, 3), "width": 3,
                                                                "steps": 5},
                                             {"depth": "count", "lr": "number", "p": "count", "scale": "number",
                                              "dataset": "name", "depths": "widgets.depths", "ps": "widgets.depths",
                                              "width": "count", "steps": "count"},
                                             extra_bad={"depth": [3], "ps": [(1, 2), (2, 17)]}),
    "dlnlib.widgets.endtoend.equivalence_sweep": Entry(endtoend.equivalence_sweep, {"depth": 2, "time": 0.1,
                                                                                    "points": 1},
                                                       {"depth": "count", "time": "positive", "points": "count",
                                                        "seed": "seed"},
                                                       extra_bad={"time": [0.15, 0.01], "points": [3]}),
    "dlnlib.widgets.endtoend.EquivalenceView": Entry(endtoend.EquivalenceView, {"ax": _ax(), "time": 2.0, "top": 10.0},
                                                     {"ax": "widgets.axes", "time": "positive", "top": "positive"},
                                                     extra_bad={"time": [1.0, 3.0]}),
    "dlnlib.widgets.endtoend.EquivalenceView.update": Entry(GAP_VIEW.update, {"depth": 2, "lr": 0.1, "scale": 0.3},
                                                            {"depth": "count", "lr": "number", "scale": "number"},
                                                            extra_bad={"lr": [0.2], "scale": [0.25]}),
    "dlnlib.widgets.endtoend.draw_equivalence": Entry(endtoend.draw_equivalence, {"ax": _ax(), "depth": 2, "lr": 0.1,
                                                                                  "scale": 0.3},
                                                      {"ax": "widgets.axes", "depth": "count", "lr": "number",
                                                       "scale": "number"}),
    "dlnlib.widgets.endtoend.equivalence_demo": Entry(endtoend.equivalence_demo, {"depth": 2, "lr": 0.1, "scale": 0.3,
                                                                                  "depths": (1, 2)},
                                                      {"depth": "count", "lr": "number", "scale": "number",
                                                       "depths": "widgets.depths"},
                                                      extra_bad={"depths": [list(range(1, 13))]}),
    # gradients
    "dlnlib.widgets.gradients.scalar_chain_paths": Entry(gradients.scalar_chain_paths, {"w1": 0.1, "w2": 1.8,
                                                                                        "eta": 0.2, "horizon": 2.0},
                                                         {"w1": "number", "w2": "number", "eta": "positive",
                                                          "x": "number", "y": "number", "horizon": "positive"},
                                                         extra_bad={"w1": [1e3], "eta": [1e-4], "horizon": [100.0]}),
    "dlnlib.widgets.gradients.scalar_chain_demo": Entry(gradients.scalar_chain_demo, {"w1": 0.1, "w2": 1.8,
                                                                                      "eta": 0.2},
                                                        {"w1": "number", "w2": "number", "eta": "number",
                                                         "x": "number", "y": "number"},
                                                        extra_bad={"w1": [0.15, 2.5], "eta": [0.01]}),
    # saxe
    "dlnlib.widgets.saxe.phase_demo_data": Entry(saxe.phase_demo_data, {"s": 1.0, "a0": -1.2, "b0": 1.4, "eta": 0.15,
                                                                        "t_max": 2.0},
                                                 {"s": "positive", "a0": "number", "b0": "number", "eta": "positive",
                                                  "t_max": "positive"},
                                                 extra_bad={"eta": [5.0]}),
    "dlnlib.widgets.saxe.phase_portrait_demo": Entry(saxe.phase_portrait_demo, {"s": 1.0, "a0": -1.2, "b0": 1.4,
                                                                                "eta": 0.15},
                                                     {"s": "number", "a0": "number", "b0": "number",
                                                      "eta": "number"}),
    "dlnlib.widgets.saxe.depth_curves": Entry(saxe.depth_curves, {"s": 1.0, "log10_u0": -3.0, "max_depth": 3,
                                                                  "t_max": 10.0},
                                              {"s": "positive", "log10_u0": "number", "max_depth": "count",
                                               "t_max": "positive"}),
    "dlnlib.widgets.saxe.DepthView": Entry(saxe.DepthView, {"ax": _ax(), "max_depth": 3, "t_max": 10.0},
                                           {"ax": "widgets.axes", "max_depth": "count", "t_max": "positive",
                                            "present": "flag"}),
    "dlnlib.widgets.saxe.DepthView.update": Entry(DEPTH_VIEW.update, {"s": 1.0, "log10_u0": -3.0, "depth": 2},
                                                  {"s": "positive", "log10_u0": "number", "depth": "count"},
                                                  extra_bad={"depth": [4]}),
    "dlnlib.widgets.saxe.draw_depth_curves": Entry(saxe.draw_depth_curves, {"ax": _ax(), "s": 1.0, "log10_u0": -3.0,
                                                                            "depth": 2},
                                                   {"ax": "widgets.axes", "s": "positive", "log10_u0": "number",
                                                    "depth": "count"}),
    "dlnlib.widgets.saxe.depth_delay_demo": Entry(saxe.depth_delay_demo, {"s": 1.0, "log10_u0": -3.0, "depth": 3},
                                                  {"s": "number", "log10_u0": "number", "depth": "count"}),
    "dlnlib.widgets.saxe.PhasePortraitClicker": Entry(saxe.PhasePortraitClicker, {"s": 1.0, "a0": -1.2, "b0": 1.4,
                                                                                  "eta": 0.15, "grid": 0.05},
                                                      {"s": "number", "a0": "number", "b0": "number",
                                                       "eta": "number", "grid": "positive"}),
    "dlnlib.widgets.saxe.PhasePortraitClicker.click": Entry(CLICKER.click, {"a": 0.5, "b": -1.0},
                                                            {"a": "number", "b": "number"}),
    "dlnlib.widgets.saxe.clickable_phase_portrait": Entry(saxe.clickable_phase_portrait, {"s": 1.0, "a0": -1.2,
                                                                                          "b0": 1.4, "eta": 0.15},
                                                          {"s": "number", "a0": "number", "b0": "number",
                                                           "eta": "number"}),
    # tour
    "dlnlib.widgets.tour.depth_experiment": Entry(tour.depth_experiment, {"depth": 2, "scale": 0.3, "width": 2,
                                                                          "trials": 2, "steps": 5},
                                                  {"depth": "count", "scale": "positive", "width": "count",
                                                   "trials": "count", "steps": "count", "lr": "positive",
                                                   "seed": "seed"}),
    "dlnlib.widgets.tour.draw_depth_experiment": Entry(tour.draw_depth_experiment, {"ax": _ax(), "result": TOUR_RESULT,
                                                                                    "depth": 2, "scale": 0.3},
                                                       {"ax": "widgets.axes", "result": "widgets.result",
                                                        "depth": "count", "scale": "positive"}),
    "dlnlib.widgets.tour.depth_demo": Entry(tour.depth_demo, {"depth": 2, "scale": 0.3},
                                            {"depth": "count", "scale": "number"}, extra_bad={"scale": [0.07, 1.25]}),
}

EXEMPT = {
    "dlnlib.widgets.endtoend.LpSweep": "a record that lp_sweep fills in (read-only mapping); students read it, never "
                                       "build it",
    "dlnlib.widgets.saxe.PhaseDemoData": "a record that phase_demo_data fills in (unpacks as flow, gd); students read "
                                         "it, never build it",
}
