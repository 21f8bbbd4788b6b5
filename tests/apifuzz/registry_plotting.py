"""Fuzz entries for dlnlib.plotting and its topic modules (agd, balance, endtoend, gradients, saxe).

Valid calls draw on axes of figures made here with ``matplotlib.figure.Figure`` (not registered with pyplot, so
nothing piles up in ``plt.get_fignums()``), one per entry, on tiny data; the result objects (TrainResult,
DriftLadder, EquivalenceResult, DepthStudy) come from dlnlib's own functions at tiny sizes. ``savefig`` writes
into a temporary folder, never into the repository's ``figures/``.
"""

import atexit
import dataclasses
import functools
import os
import shutil
import tempfile

import numpy as np
import torch
from matplotlib.figure import Figure

import dlnlib
from dlnlib import balance, endtoend, plotting, reproduce, saxe
from dlnlib.plotting import agd as agdplot
from dlnlib.plotting import balance as balplot
from dlnlib.plotting import endtoend as e2eplot
from dlnlib.plotting import gradients as gradplot
from dlnlib.plotting import saxe as saxeplot

from .common import CHAIN, Entry

F64 = torch.float64
NAN, INF = float("nan"), float("inf")


def _ax():
    return Figure(figsize=(2.0, 1.5)).subplots()


def _axes(n):
    return list(Figure(figsize=(2.0 * n, 1.5)).subplots(1, n))


def _clears(*axes):
    """An Entry check that accepts any result and empties ``axes``: repeated calls that draw (valid or acceptable
    values) would otherwise pile artists onto the same axes and slow every later call down."""

    def check(out):
        for ax in axes:
            ax.clear()
        return True

    return check


def _r(*shape, seed=0, low=0.1):
    """Positive float64 data (losses, drifts, norms) of ``shape``, reproducible from ``seed``."""
    return low + torch.rand(*shape, generator=torch.Generator().manual_seed(seed), dtype=F64)


# ------------------------------------------------------------------------------------------ result objects
X2, Y2, _ = dlnlib.data.teacher_regression(2, 2, 6, seed=3, device="cpu")
LOSS = dlnlib.SquaredError(X2, Y2)
BATCHED = dlnlib.init_chain([2, 2, 2], "gaussian", scale=0.3, batch=(3,), seed=4, device="cpu")
TRAIN = dlnlib.gradient_descent(BATCHED, LOSS, lr=0.1, steps=4)
FLOW = dlnlib.gradient_flow(CHAIN, dlnlib.SquaredError(torch.ones(3, 2, dtype=F64), torch.ones(3, 2, dtype=F64)),
                            [0.0, 0.1])
NO_LOSS = dataclasses.replace(TRAIN, history={})
LADDER = balance.drift_ladder([w[:2] for w in BATCHED], LOSS,
                                     torch.tensor([0.05, 0.1], dtype=F64), 0.2)
EQ = endtoend.equivalence_gap([w[:2] for w in BATCHED], LOSS, [0.1, 0.05], 0.2, points=2)
_gen = torch.Generator().manual_seed(0)
_Xs = torch.randn(12, 2, generator=_gen, dtype=F64)
_ys = _Xs @ torch.tensor([[1.0], [-0.5]], dtype=F64) + 0.3 * torch.randn(12, 1, generator=_gen, dtype=F64)
STUDY = reproduce.depth_study(
    _Xs, _ys, [float(endtoend.lp_optimum(dlnlib.LpLoss(_Xs, _ys, p))[1]) for p in (2, 4)], depths=(1, 2),
    seeds=2, steps=20, coarse_steps=10, record_every=10)
_t = np.linspace(0.0, 2.0, 21)
FLOW3 = (_t, *(x.numpy() for x in saxe.ab_trajectory(-1.2, 1.4, 1.0, _t, rtol=1e-8, atol=1e-10)))
GD3 = (0.15 * np.arange(14), *(x.numpy() for x in saxe.ab_gradient_descent(-1.2, 1.4, 1.0, 0.15, 13)))


# ------------------------------------------------------------------------------------------ savefig, in a temp dir
FIG_DIR = tempfile.mkdtemp(prefix="dlnlib-fuzz-figures-")
atexit.register(shutil.rmtree, FIG_DIR, ignore_errors=True)
SMALL_FIG = Figure(figsize=(1.0, 1.0))
SMALL_FIG.subplots().plot([0, 1], [1, 0])


@functools.wraps(plotting.savefig)
def _savefig_in_temp_dir(fig, name, *, dpi=plotting.FIG_DPI):
    """``plotting.savefig`` with ``$DLNLIB_FIGURES`` pointing at a temporary folder for the call."""
    before = os.environ.get("DLNLIB_FIGURES")
    os.environ["DLNLIB_FIGURES"] = FIG_DIR
    try:
        return plotting.savefig(fig, name, dpi=dpi)
    finally:
        if before is None:
            os.environ.pop("DLNLIB_FIGURES", None)
        else:
            os.environ["DLNLIB_FIGURES"] = before


# ------------------------------------------------------------------------------------------ bad values per kind
_AX = _ax()
L4 = torch.tensor([1.0, 0.5, 0.1, 0.05], dtype=F64)
L5 = _r(5, seed=1)
T3 = [0.0, 0.5, 1.0]
PATH = np.stack([np.linspace(0.1, 1.0, 5), np.linspace(1.8, 1.0, 5)], axis=1)

KINDS = {
    # an Axes argument (None is valid where it means "a new figure", refused where an Axes is required)
    "plotting.axes": [None, 3, "abc", [], np.zeros(2), Figure(), [_AX, _AX]],
    "plotting.axes_pair": [None, _AX, [_AX], [_AX, 3], (_AX, _AX, _AX), "ab", 3, np.zeros(2)],
    "plotting.axes_list": [_AX, [_AX], [_AX, _AX, 3], [_AX] * 4, "abc", 3, np.zeros(3)],
    "plotting.figure": [_AX, 3, "abc", None, [], Figure().subfigures(1, 1)],
    "plotting.figsize": [(0, 3), (-1.0, 3.0), (NAN, 3.0), (INF, 3.0), (1e6, 1e6), "ab", 3, (1, 2, 3), None,
                         (True, 2.0), ("1", "2")],
    "plotting.color": ["notacolor", 3, [1, 2], (1, 2, 3, 4, 5), True, "C", (2.0, 0.0, 0.0)],
    "plotting.colors": ["red", 3, ["notacolor", "C1"], ["C0"], [], {"a": "C0"}, [None, None]],
    "plotting.ls": ["bogus", 3, [], (1, 2)],
    "plotting.lw": ["abc", NAN, -1.0, INF, [1.0], 1e300],
    "plotting.style": [3, "abc", {"bogus": 1}, {"lw": "abc"}, {"color": "notacolor"}, {"ls": "bogus"},
                       {"lw": NAN}, {"lw": -1.0}, {3: 1}, {"alpha": 2.0}],
    "plotting.styles": [3, "abc", [], {"not a label": {}}, {3: {}}],
    "plotting.mapping": [{}, [], "abc", None, 3, {3: L5}, L5],
    "plotting.limits": [(1.0, 0.0), (NAN, 1.0), (0.0, INF), "ab", 3, (1.0, 2.0, 3.0), [None], (True, 2.0)],
    "plotting.labels": ["ab", 3, ["a"], ["a", 3], [None, None], ("a", "b", "c")],
    "plotting.index": [(5,), (0, 0, 0), ("a",), 2.5, "abc", (-5,), [0], (True,), None],
    "plotting.ladder": [EQ, TRAIN, 3, None, "abc", dataclasses.replace(LADDER, drift=LADDER.drift * NAN),
                        dataclasses.replace(LADDER, lrs=-LADDER.lrs), dataclasses.replace(LADDER, slope=NAN),
                        dataclasses.replace(LADDER, times=LADDER.times[:1])],
    "plotting.study": [EQ, 3, None, "abc", dataclasses.replace(STUDY, gap=STUDY.gap * NAN),
                       dataclasses.replace(STUDY, gap=STUDY.gap[:, :1]),
                       dataclasses.replace(STUDY, steps=STUDY.steps[:1])],
    "plotting.results": [{}, {"a": LADDER}, {3: EQ}, [EQ], EQ, None,
                         {"a": dataclasses.replace(EQ, max_gap=EQ.max_gap * INF)},
                         {"a": dataclasses.replace(EQ, lrs=-EQ.lrs)}],
    "plotting.curve_list": [[], "abc", None, 3, [("a", L4)], [("a", L4, 3)], [("a", "abc", {})], [(3, L4, {})],
                            [("a", L4, {"label": "b"})], [("a", L4, {"bogus": 1})], [("a", [1.0, NAN, 1.0], {})],
                            [("a", torch.ones(4, 2), {})], [("a", [NAN, NAN], {})]],
    "plotting.panels": [[], "abc", None, 3, [{}], [{"title": "t"}], [{"title": "t", "curves": []}],
                        [{"title": 3, "curves": [("a", L4, {})]}],
                        [{"title": "t", "curves": [("a", L4, {})], "xlims": (0, 1)}],
                        [{"title": "t", "curves": [("a", L4, {})]}] * 13,
                        [{"title": "t", "curves": [("a", L4, {})], "logx": "yes"}],
                        [{"title": "t", "curves": [("a", L4, {})], "xlim": (1, 0)}]],
    "plotting.path3": [3, "abc", None, (FLOW3[0], FLOW3[1]), (*FLOW3, FLOW3[2]), (FLOW3[0], FLOW3[1][:-1], FLOW3[2]),
                       (FLOW3[0][::-1], FLOW3[1], FLOW3[2]), (FLOW3[0] * NAN, FLOW3[1], FLOW3[2]),
                       (FLOW3[0], np.r_[NAN, FLOW3[1][1:]], FLOW3[2]), (FLOW3[0], "abc", FLOW3[2]),
                       (FLOW3[0], FLOW3[1] * 1j, FLOW3[2]), {"t": FLOW3[0]}],
}

# ------------------------------------------------------------------------------------------ entries
_VIEW = saxeplot.PhaseDemoView(_axes(2), lim=2.0, grid=5, t_max=2.0)
LAND, PLANE, PORTRAIT, VIEW_AXES, DEMO_AXES = _ax(), _ax(), _ax(), _axes(2), _axes(2)

ENTRIES = {
    # dlnlib.plotting
    "dlnlib.plotting.new_axes": Entry(plotting.new_axes, {"ax": _ax(), "figsize": (2.0, 1.5)},
                                      {"ax": "plotting.axes", "figsize": "plotting.figsize"}),
    "dlnlib.plotting.plot_losses": Entry(plotting.plot_losses, {"result": TRAIN, "ax": _ax(), "label": "run",
                                                                "individual": 1},
                                         {"result": "tensor", "steps": "times", "ax": "plotting.axes", "label": "text",
                                          "color": "plotting.color", "individual": "count", "band": "flag",
                                          "logy": "flag", "subtract": "number"},
                                         extra_bad={"result": [FLOW, LADDER, NO_LOSS, {"loss": L4}, [L4, L4[:2]]]}),
    "dlnlib.plotting.savefig": Entry(_savefig_in_temp_dir, {"fig": SMALL_FIG, "name": "99_fuzz", "dpi": 20},
                                     {"fig": "plotting.figure", "name": "path", "dpi": "count"},
                                     extra_bad={"name": ["", ".hidden", "a\\b", "a\x00b", "x" * 300, "fig.png",
                                                         "../x", "\n"]}),
    "dlnlib.plotting.figures_dir": Entry(plotting.figures_dir, {}, {}),
    # gradients (notebook 01)
    "dlnlib.plotting.gradients.plot_scalar_landscape": Entry(
        gradplot.plot_scalar_landscape, {"ax": LAND, "x": 1.0, "y": 1.0, "lim": 2.0, "levels": 3},
        {"ax": "plotting.axes", "x": "number", "y": "number", "lim": "positive", "levels": "count"},
        check=_clears(LAND)),
    "dlnlib.plotting.gradients.plot_path": Entry(
        gradplot.plot_path, {"ax": _ax(), "path": PATH, "start": True, "color": "tab:red", "lw": 1.0, "ls": "-"},
        {"ax": "plotting.axes", "path": "tensor", "start": "flag", "color": "plotting.color", "lw": "plotting.lw",
         "ls": "plotting.ls"},
        extra_bad={"path": [np.ones((3, 3)), PATH * NAN]}),
    # balance (notebook 03)
    "dlnlib.plotting.balance.plot_rescaling": Entry(
        balplot.plot_rescaling, {"cs": [0.5, 1.0, 2.0], "changes": {"relu": [0.0, 1e-16, 1e-3]}, "ax": _ax()},
        {"cs": "tensor", "changes": "plotting.mapping", "ax": "plotting.axes"},
        extra_bad={"cs": [[-1.0, 1.0, 2.0], [0.0, 1.0, 2.0]],
                   "changes": [{"relu": [NAN, 0.0, 0.0]}, {"relu": [1.0, 2.0]}, {"relu": [-1.0, 0.0, 0.0]},
                               {"relu": "abc"}, {"relu": [[0.0, 0.0, 0.0]]}]}),
    "dlnlib.plotting.balance.plot_drift": Entry(
        balplot.plot_drift, {"times": T3, "drift": _r(3, 2), "ax": _ax(), "label": "x", "color": "C1", "ls": "--"},
        {"times": "times", "drift": "tensor", "ax": "plotting.axes", "label": "text", "color": "plotting.color",
         "ls": "plotting.ls"},
        extra_bad={"times": [[0.0]], "drift": [-_r(3, 2)]}),
    "dlnlib.plotting.balance.plot_drift_ladder": Entry(
        balplot.plot_drift_ladder, {"ladder": LADDER, "ax": _ax(), "label": "x", "color": "C1", "predicted": 1.0},
        {"ladder": "plotting.ladder", "ax": "plotting.axes", "label": "text", "color": "plotting.color",
         "predicted": "positive"}),
    "dlnlib.plotting.balance.plot_band": Entry(
        balplot.plot_band, {"x": np.arange(4), "y": _r(4, 5), "ax": _ax(), "label": "x", "color": "C1", "logy": True,
                            "individual": 2, "ls": ":"},
        {"x": "tensor", "y": "tensor", "ax": "plotting.axes", "label": "text", "color": "plotting.color",
         "logy": "flag", "individual": "count", "ls": "plotting.ls"}),
    "dlnlib.plotting.balance.plot_layer_norms": Entry(
        balplot.plot_layer_norms, {"times": [0.0, 1.0, 2.0, 3.0], "norms_sq": _r(4, 3), "ax": _ax()},
        {"times": "times", "norms_sq": "tensor", "ax": "plotting.axes"},
        extra_bad={"norms_sq": [_r(4, 2, 3)]}),
    # endtoend (notebook 04)
    "dlnlib.plotting.endtoend.plot_iteration_histograms": Entry(
        e2eplot.plot_iteration_histograms,
        {"counts": {"a": torch.tensor([10, 20, -1]), "b": torch.tensor([5, 50])}, "ax": _ax(), "bins": 5,
         "colors": ["C0", "C1"]},
        {"counts": "plotting.mapping", "ax": "plotting.axes", "bins": "count", "colors": "plotting.colors"},
        extra_bad={"counts": [{"a": [1.5]}, {"a": [-3]}, {"a": [NAN]}, {"a": "abc"}, {"a": []}]}),
    "dlnlib.plotting.endtoend.plot_gap_ladder": Entry(
        e2eplot.plot_gap_ladder, {"results": {"balanced": EQ}, "ax": _ax(), "index": (1,)},
        {"results": "plotting.results", "ax": "plotting.axes", "index": "plotting.index"}),
    "dlnlib.plotting.endtoend.plot_gap_curves": Entry(
        e2eplot.plot_gap_curves, {"times": T3, "curves": {"a": [1.0, 0.5, INF]}, "ax": _ax(), "logy": True},
        {"times": "times", "curves": "plotting.mapping", "ax": "plotting.axes", "logy": "flag"},
        extra_bad={"curves": [{"a": [1.0, 2.0]}, {"a": [INF, INF, NAN]}, {"a": "abc"}, {"a": [[1.0, 2.0, 3.0]]}]}),
    "dlnlib.plotting.endtoend.plot_depth_curves": Entry(
        e2eplot.plot_depth_curves,
        {"curves": {"x": (torch.arange(3), torch.tensor([1.0, 1e-3, 0.0]))}, "ax": _ax(), "title": "t",
         "styles": {"x": {"ls": ":"}}},
        {"curves": "plotting.mapping", "ax": "plotting.axes", "title": "text", "styles": "plotting.styles"},
        extra_bad={"curves": [{"x": (torch.arange(3),)}, {"x": (torch.arange(3), torch.ones(2))},
                              {"x": ([2, 1, 0], [1.0, 1.0, 1.0])}, {"x": 3}, {"x": ([0, 1], [NAN, NAN])}],
                   "styles": [{"x": {"bogus": 1}}, {"x": 3}]}),
    "dlnlib.plotting.endtoend.plot_lp_study": Entry(
        e2eplot.plot_lp_study, {"study": STUDY, "p_index": 1, "ax": _ax(), "title": "p = 4"},
        {"study": "plotting.study", "p_index": "count", "ax": "plotting.axes", "title": "text"}),
    "dlnlib.plotting.endtoend.plot_completion_figures": Entry(
        e2eplot.plot_completion_figures,
        {"runs": {"up": (torch.arange(5), _r(5, 3, seed=2)), "down": (torch.arange(5), _r(5, 3, seed=3))},
         "axes": _axes(3), "particular": 1},
        {"runs": "plotting.mapping", "axes": "plotting.axes_list", "particular": "count"},
        extra_bad={"runs": [{"up": (torch.arange(5), _r(5))}, {"up": (torch.arange(5), _r(4, 3))},
                            {"up": (torch.arange(5), _r(5, 3) * NAN)}, {"up": _r(5, 3)},
                            {"up": (torch.arange(5), _r(5, 1))}]}),
    # agd (notebook 05)
    "dlnlib.plotting.agd.plot_curve": Entry(
        agdplot.plot_curve, {"ax": _ax(), "losses": torch.tensor([1.0, 0.5, 0.1, NAN]), "steps": None,
                             "label": "x", "floor": 1e-32, "color": "C1", "lw": 1.0, "ls": ":"},
        {"ax": "plotting.axes", "losses": "tensor", "steps": "times", "label": "text", "floor": "positive",
         "color": "plotting.color", "lw": "plotting.lw", "ls": "plotting.ls"},
        extra_bad={"losses": [[1.0, NAN, 1.0], [NAN, NAN], torch.ones(3, 2)],
                   "steps": [[0.0, 1.0, 2.0], [0.0, 1.0, 2.0, 3.0, 4.0]]}),
    "dlnlib.plotting.agd.plot_curves": Entry(
        agdplot.plot_curves, {"ax": _ax(), "curves": [("a", L4, {"lw": 1.0}), ("b", L5, {})], "tol": 1e-6,
                              "logx": False, "title": "t", "ylim": (1e-12, 10.0), "xlim": None, "legend": True},
        {"ax": "plotting.axes", "curves": "plotting.curve_list", "tol": "positive", "logx": "flag", "title": "text",
         "ylim": "plotting.limits", "xlim": "plotting.limits", "legend": "flag"},
        extra_bad={"ylim": [(0.0, 1.0), (-1.0, 1.0), None]}),
    "dlnlib.plotting.agd.plot_effective_paths": Entry(
        agdplot.plot_effective_paths, {"ax": _ax(), "paths": {"GD": PATH}, "target": [1.0, 2.0],
                                       "styles": {"GD": {"ls": ":"}}},
        {"ax": "plotting.axes", "paths": "plotting.mapping", "target": "tensor", "styles": "plotting.styles"},
        extra_bad={"paths": [{"GD": np.ones((5, 3))}, {"GD": PATH * NAN}, {"GD": [1.0, 2.0]}],
                   "styles": [{"GD": {"bogus": 1}}]}),
    "dlnlib.plotting.agd.plot_phases": Entry(
        agdplot.plot_phases, {"ax_parts": _ax(), "ax_align": _ax(), "outputs": _r(6, 2), "y": [1.0, 2.0], "stop": 5},
        {"ax_parts": "plotting.axes", "ax_align": "plotting.axes", "outputs": "tensor", "y": "tensor",
         "stop": "count"},
        extra_bad={"outputs": [_r(6, 11)], "y": [[[1.0], [2.0]]]}),
    "dlnlib.plotting.agd.plot_spectrum_band": Entry(
        agdplot.plot_spectrum_band, {"ax": _ax(), "eig": _r(5, 2), "label": "x", "color": "C0", "lw": 1.0},
        {"ax": "plotting.axes", "eig": "tensor", "label": "text", "color": "plotting.color", "lw": "plotting.lw"}),
    "dlnlib.plotting.agd.figure_pitfalls": Entry(
        agdplot.figure_pitfalls, {"plateau": {"a": L4}, "sigmoidal": {"b": L5}, "lp": {"p=4": L4 - 0.5},
                                  "tol": 1e-6},
        {"plateau": "plotting.mapping", "sigmoidal": "plotting.mapping", "lp": "plotting.mapping",
         "tol": "positive"},
        extra_bad={"lp": [{"p=4": [1.0, NAN, 1.0]}, {"p=4": "abc"}]}),
    "dlnlib.plotting.agd.figure1": Entry(
        agdplot.figure1, {"panels": [{"title": "t", "curves": [("a", L4, {})], "logx": True, "xlim": (0, 5)}],
                          "tol": 1e-6},
        {"panels": "plotting.panels", "tol": "positive"}),
    "dlnlib.plotting.agd.figure2": Entry(
        agdplot.figure2, {"paths": {"shallow GD": PATH, "AGD": PATH[::-1].copy()}, "target": [1.0, 2.0],
                          "outputs": _r(6, 2), "y": [1.0, 2.0], "stop": 5},
        {"paths": "plotting.mapping", "target": "tensor", "outputs": "tensor", "y": "tensor", "stop": "count"},
        extra_bad={"paths": [{"GD": np.ones((5, 3))}]}),
    "dlnlib.plotting.agd.figure3": Entry(
        agdplot.figure3, {"curves": [("GD", L4, {"lw": 1.0})], "theta3": {"GD": L5}, "spectra1": {"GD": _r(5, 2)},
                          "spectra2": {"AGD": _r(5, 2)}, "threshold": 4.47},
        {"curves": "plotting.curve_list", "theta3": "plotting.mapping", "spectra1": "plotting.mapping",
         "spectra2": "plotting.mapping", "threshold": "positive"},
        extra_bad={"theta3": [{"GD": L5 * NAN}, {"GD": _r(5, 2)}], "spectra1": [{"GD": L5}, {"GD": _r(1, 2)}]}),
    "dlnlib.plotting.agd.figure4_grid": Entry(
        agdplot.figure4_grid, {"datasets": {"d": {"GD": (L5, L5 * 2), "AGD": (L5 / 2, L5)}}, "checkpoints": (1, 3)},
        {"datasets": "plotting.mapping", "checkpoints": "numbers"},
        extra_bad={"datasets": [{"d": {"GD": (L5,)}}, {"d": {"GD": (L5, L5 * NAN)}}, {"d": 3}, {"d": {}},
                                {str(i): {"GD": (L5, L5)} for i in range(13)}, {"d": {"GD": (L5[:1], L5[:1])}}]}),
    # saxe (notebook 02)
    "dlnlib.plotting.saxe.plot_ab_plane": Entry(
        saxeplot.plot_ab_plane, {"s": 1.0, "ax": PLANE, "lim": 2.0, "field": "quiver", "density": 0.5, "grid": 5,
                                 "invariant_levels": (-0.5, 0.5), "tau": 1.0, "legend": True},
        {"s": "positive", "ax": "plotting.axes", "lim": "positive", "field": "name", "density": "positive",
         "grid": "count", "invariant_levels": "numbers", "tau": "positive", "legend": "flag"}, check=_clears(PLANE)),
    "dlnlib.plotting.saxe.plot_ab_path": Entry(
        saxeplot.plot_ab_path, {"ax": _ax(), "a": [0.1, 0.5, 1.0, NAN], "b": [1.8, 1.5, 1.0, NAN], "color": "C1",
                                "label": "GD", "markers": True, "lw": 1.0},
        {"ax": "plotting.axes", "a": "tensor", "b": "tensor", "color": "plotting.color", "label": "text",
         "markers": "flag", "lw": "positive"},
        extra_bad={"a": [[NAN, 0.5, 1.0, 1.0]]}),
    "dlnlib.plotting.saxe.plot_phase_portrait": Entry(
        saxeplot.plot_phase_portrait, {"s": 1.0, "starts": [(0.5, 0.2)], "t_max": 1.0, "ax": PORTRAIT, "lim": 2.0,
                                       "field": "none", "tau": 1.0},
        {"s": "positive", "starts": "tensor", "t_max": "positive", "ax": "plotting.axes", "lim": "positive",
         "field": "name", "tau": "positive"},
        extra_bad={"starts": [[0.1, 0.2, 0.3, 0.4], np.ones((2, 3))]}, check=_clears(PORTRAIT)),
    "dlnlib.plotting.saxe.plot_invariant": Entry(
        saxeplot.plot_invariant, {"t": T3, "values": [1.0, 1.0, 1.0], "ax": _ax(), "label": "x", "color": "C0",
                                  "markers": True},
        {"t": "times", "values": "tensor", "ax": "plotting.axes", "label": "text", "color": "plotting.color",
         "markers": "flag"}),
    "dlnlib.plotting.saxe.plot_mode_curves": Entry(
        saxeplot.plot_mode_curves, {"t": torch.linspace(0, 1, 5, dtype=F64), "u": _r(5, 2), "exact": _r(5, 2),
                                    "s": [2.0, 1.0], "ax": _ax(), "labels": ["a", "b"], "colors": ["C0", "C1"],
                                    "normalise": False},
        {"t": "times", "u": "tensor", "exact": "tensor", "s": "tensor", "ax": "plotting.axes",
         "labels": "plotting.labels", "colors": "plotting.colors", "normalise": "flag"},
        extra_bad={"t": [(torch.linspace(0, 1, 5, dtype=F64), [0.0, 1.0])], "exact": [_r(5, 3)]}),
    "dlnlib.plotting.saxe.PhaseDemoView": Entry(
        saxeplot.PhaseDemoView, {"axes": VIEW_AXES, "lim": 2.0, "grid": 5, "t_max": 2.0, "present": False},
        {"axes": "plotting.axes_pair", "lim": "positive", "grid": "count", "t_max": "positive", "present": "flag"},
        check=_clears(*VIEW_AXES)),
    "dlnlib.plotting.saxe.PhaseDemoView.update": Entry(
        _VIEW.update, {"s": 1.0, "a0": -1.2, "b0": 1.4, "eta": 0.15, "flow": FLOW3, "gd": GD3},
        {"s": "positive", "a0": "number", "b0": "number", "eta": "positive", "flow": "plotting.path3",
         "gd": "plotting.path3"},
        extra_bad={"flow": [(FLOW3[0], np.r_[FLOW3[1][:-1], NAN], FLOW3[2])]}),
    "dlnlib.plotting.saxe.PhaseDemoView.set_level": Entry(_VIEW.set_level, {"level": 2.0}, {"level": "number"},
                                                          extra_bad={"level": [3.0, 2.5, True]}),
    "dlnlib.plotting.saxe.draw_phase_demo": Entry(
        saxeplot.draw_phase_demo, {"axes": DEMO_AXES, "s": 1.0, "a0": -1.2, "b0": 1.4, "eta": 0.15, "flow": FLOW3,
                                   "gd": GD3, "lim": 2.0},
        {"axes": "plotting.axes_pair", "s": "positive", "a0": "number", "b0": "number", "eta": "positive",
         "flow": "plotting.path3", "gd": "plotting.path3", "lim": "positive"}, check=_clears(*DEMO_AXES)),
}

EXEMPT = {}
