"""Slider UIs driven without a browser, and the plotting helpers (divergence drawn as a mark, not NaN)."""

import numpy as np
import pytest
import torch

import dlnlib
from dlnlib.plotting import plot_losses, savefig
from dlnlib.widgets.gradients import scalar_chain_demo, scalar_chain_paths
from dlnlib.widgets.tour import depth_demo


def drive(handle, name, values):
    """Set a slider to each value; return the rendered PNG after each change."""
    images = []
    for v in values:
        handle.sliders[name].value = v
        images.append(bytes(handle.image.value))
    return images


def test_encode_png_round_trips_exactly():
    import io

    from PIL import Image

    from dlnlib.widgets import encode_png

    rng = np.random.default_rng(0)
    for shape in [(1, 1, 4), (3, 7, 4), (50, 31, 4)]:
        rgba = rng.integers(0, 256, shape, dtype=np.uint8)
        png = encode_png(rgba)
        decoded = Image.open(io.BytesIO(png))
        assert decoded.mode == "RGBA" and decoded.size == (shape[1], shape[0])
        assert np.array_equal(np.asarray(decoded), rgba)
    flat = np.full((400, 900, 4), 255, np.uint8)  # a white figure: 1.44 MB of pixels, 7 kB of PNG
    assert len(encode_png(flat)) < 10_000
    with pytest.raises(ValueError, match="rgba"):
        encode_png(np.ones((4, 4, 3), np.uint8))


def test_slider_figure_redraws_only_what_update_touches():
    """A line that update moves becomes animated and is drawn over the kept background; a change of the axes'
    limits redraws the background (the ticks change); both pictures equal a full draw."""
    import io

    from PIL import Image

    from dlnlib.widgets import SliderFigure, float_slider, make_figure

    fig, axes = make_figure(1, 1, figsize=(4.0, 3.0))
    ax = axes[0, 0]
    (static,) = ax.plot([0, 1], [0, 1], color="0.5")
    (moving,) = ax.plot([], [], color="tab:red", lw=3)

    def update(a, zoom):
        moving.set_data([0, 1], [a, 1 - a])
        if ax.get_xlim() != (0.0, zoom):
            ax.set_xlim(0.0, zoom)

    h = SliderFigure(fig, axes, {"a": float_slider("a", 0.2, 0.0, 1.0, 0.1),
                                 "zoom": float_slider("zoom", 1.0, 1.0, 2.0, 0.5)}, update)
    assert moving.get_animated() and not static.get_animated()
    draws = []
    canvas_draw = h.fig.canvas.draw
    h.fig.canvas.draw = lambda: (draws.append(1), canvas_draw())[1]

    def same_as_full_draw():
        shown = np.asarray(Image.open(io.BytesIO(bytes(h.image.value))))
        return np.array_equal(shown, np.asarray(Image.open(io.BytesIO(h._render(full=True)))))

    h.sliders["a"].value = 0.7
    assert draws == [] and same_as_full_draw()  # only the red line was drawn again
    draws.clear()
    h.sliders["zoom"].value = 2.0
    assert draws[:1] == [1] and same_as_full_draw()  # new limits: the background was drawn again


def test_depth_demo_redraws_for_every_depth_and_scale():
    h = depth_demo()
    images = [bytes(h.image.value)] + drive(h, "depth", [1, 2, 5, 8]) + drive(h, "scale", [0.1, 0.6, 1.2])
    assert all(img[:4] == b"\x89PNG" for img in images)
    assert len(set(images)) == len(images)  # every setting changed the picture
    assert len(h.timings_ms) == 1 + 7
    assert "diverged" in h.status.value


@pytest.mark.parametrize("depth", [1, 4, 8])
def test_depth_demo_sweep_is_depth_experiment_trial_by_trial(depth):
    """The demo computes every init std of a depth in one batched run: each scale's slice holds the same numbers
    as depth_experiment at that scale (a run whose trials all diverge ends early and records its last step; the
    batched run goes on, NaN for those trials)."""
    from dlnlib.widgets.tour import SCALE_STEP, _depth_sweep, depth_experiment

    sweep = _depth_sweep(depth, 24)
    for k in (0, 5, 23):
        with torch.no_grad():
            one = depth_experiment(depth, round((k + 1) * SCALE_STEP, 10))
        alone, batched = one.history["loss"], sweep.history["loss"][:, k]
        common = torch.isin(one.steps, sweep.steps)
        rows = torch.isin(sweep.steps, one.steps)
        assert torch.equal(alone[common].nan_to_num(-1.0), batched[rows].nan_to_num(-1.0))
        assert alone[~common].isnan().all() and batched[~rows & (sweep.steps > one.steps.max())].isnan().all()
        assert torch.equal(one.diverged_at, sweep.diverged_at[k])
        assert torch.equal(one.final_loss, sweep.final_loss[k])


def test_scalar_chain_demo_redraws_and_reports_divergence():
    h = scalar_chain_demo()
    images = [bytes(h.image.value)] + drive(h, "eta", [0.05, 0.4, 1.2]) + drive(h, "w1", [-1.5, 0.7])
    images += drive(h, "w2", [0.3])
    assert len(set(images)) == len(images)
    h.sliders["w1"].value, h.sliders["w2"].value, h.sliders["eta"].value = 1.5, 1.8, 1.2
    assert "diverged at step" in h.status.value


def test_scalar_chain_flow_conserves_and_gd_drifts_like_eta():
    flow, gd_small, _, _ = scalar_chain_paths(0.1, 1.8, 0.02)
    _, gd_big, _, _ = scalar_chain_paths(0.1, 1.8, 0.2)
    inv = lambda p: p[:, 0] ** 2 - p[:, 1] ** 2  # noqa: E731
    assert np.abs(inv(flow) - inv(flow)[0]).max() < 1e-7  # the flow is solved at rtol 1e-8: 3.6e-9 measured
    drift_small, drift_big = abs(inv(gd_small)[-1] - inv(gd_small)[0]), abs(inv(gd_big)[-1] - inv(gd_big)[0])
    assert 5 < drift_big / drift_small < 20  # roughly proportional to eta (factor 10)


@pytest.mark.parametrize("start", [(0.1, 1.8), (1.5, -0.3), (-2.0, 2.0), (0.0, 0.1), (2.0, 2.0)])
def test_scalar_chain_flow_is_gradient_flow(start):
    """The demo's flow (the gradient written out, NumPy right-hand side) is dlnlib's gradient_flow: identical on this
    machine; 1e-12 leaves room for torch and NumPy rounding a product differently elsewhere."""
    from dlnlib.widgets.gradients import _flow_path, _scalar_problem

    w1, w2 = start
    for x, y in ((1.0, 1.0), (-0.5, 2.0)):
        chain, loss = _scalar_problem(w1, w2, x, y)
        ref = dlnlib.gradient_flow(chain, loss, np.linspace(0.0, 6.0, 120), rtol=1e-8, atol=1e-10)
        ref = np.stack([ref.chains[0][:, 0, 0].numpy(), ref.chains[1][:, 0, 0].numpy()], axis=1)
        assert np.abs(_flow_path(w1, w2, x, y, 6.0) - ref).max() < 1e-12


def test_plot_losses_stops_diverged_curves(tmp_path, monkeypatch):
    import matplotlib

    matplotlib.use("Agg")
    X, Y, _ = dlnlib.data.teacher_regression(3, 2, 30, seed=0, device="cpu")
    loss = dlnlib.SquaredError(X, Y)
    lam = float(torch.linalg.eigvalsh(loss.sigma_xx).max())
    lr = torch.tensor([0.5 / lam, 3.0 / lam], dtype=torch.float64)
    res = dlnlib.gradient_descent(dlnlib.init_chain([3, 2], "zero", batch=(2,), device="cpu"), loss,
                                  lr=lr, steps=200, record_every=1)
    ax = plot_losses(res, individual=2)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "diverged: 1 of 2 trials" in labels
    for line in ax.get_lines():
        assert np.all(np.isfinite(np.asarray(line.get_ydata(), dtype=float)))
    monkeypatch.setenv("DLNLIB_FIGURES", str(tmp_path))
    p1 = savefig(ax.figure, "99_test")
    first = p1.read_bytes()
    p2 = savefig(ax.figure, "99_test")
    assert p2 == tmp_path / "99_test.png" and first == p2.read_bytes()  # deterministic bytes
    with pytest.raises(ValueError, match=r"name: got '../x'"):
        savefig(ax.figure, "../x")


def press(handle, a, b, kind="button_press", buttons=1):
    """What ipympl's front-end sends when the mouse acts at data point (a, b) of the phase plane."""
    x, y = handle.axes[0].transData.transform((a, b))
    handle.canvas.manager.handle_json({"type": kind, "x": float(x), "y": float(handle.fig.bbox.height - y),
                                       "button": 0, "buttons": buttons, "modifiers": []})


def test_clickable_phase_portrait_starts_where_clicked():
    import matplotlib

    from dlnlib.widgets.saxe import clickable_phase_portrait

    backend = dict.__getitem__(matplotlib.rcParams, "backend")
    h = clickable_phase_portrait()
    assert dict.__getitem__(matplotlib.rcParams, "backend") == backend  # static figures stay static
    assert h.start == (-1.2, 1.4) and "conserved a² − b² = -0.52" in h.status.value
    flow_before = np.array(h.view.flow_line.get_data())
    press(h, 0.5, -1.0)
    press(h, 0.5, -1.0, kind="button_release", buttons=0)
    assert h.start == (0.5, -1.0) and h.clicks == 1
    flow = np.array(h.view.flow_line.get_data())
    assert flow.shape == flow_before.shape and not np.allclose(flow, flow_before)
    assert np.allclose(flow[:, 0], [0.5, -1.0], rtol=0, atol=1e-15)  # the trajectory starts at the click
    # on its conserved hyperbola (ODE: 9.6e-10 measured)
    assert np.abs(flow[0] ** 2 - flow[1] ** 2 - (0.25 - 1.0)).max() < 5e-8
    assert "start (a₀, b₀) = (0.5, -1); conserved a² − b² = -0.75" in h.status.value
    assert "with a² − b² = -0.75; GD (67 steps) ends at" in h.status.value
    press(h, 1.0, 1.0, kind="motion_notify", buttons=0)  # hovering does not move the start
    assert h.start == (0.5, -1.0)
    press(h, 1.2, 0.3, kind="motion_notify", buttons=1)  # dragging does
    assert h.start == (1.2, 0.3) and h.clicks == 2
    x, y = h.axes[1].transData.transform((5.0, 0.0))  # a click on the right panel is ignored
    h.canvas.manager.handle_json({"type": "button_press", "x": float(x), "y": float(h.fig.bbox.height - y),
                                  "button": 0, "buttons": 1, "modifiers": []})
    assert h.start == (1.2, 0.3)
    h.sliders["eta"].value = 1.0
    h.click(2.0, -2.0)
    assert "diverged" in h.status.value


def test_clickable_alignment_paths_start_where_clicked():
    import matplotlib

    from dlnlib import agd, data
    from dlnlib.widgets.agd import AlignmentClicker, clickable_alignment_paths, paths_from

    backend = dict.__getitem__(matplotlib.rcParams, "backend")
    h = clickable_alignment_paths()
    assert dict.__getitem__(matplotlib.rcParams, "backend") == backend  # static figures stay static
    assert h.start == (0.0, 0.0)
    # from the origin: notebook 05's Figure 2 runs (AGD's 321 iterations, GD's 6212 > the 1500 run here)
    assert "AGD (L = 2) reached it after 321 iterations, ends at (0.707, 7.07)" in h.status.value
    assert "shallow GD did not reach it in 1500 steps" in h.status.value
    before = [np.array(line.get_data()) for line in (h.gd_path, h.agd_path)]
    press(h, 1.5, 2.0)
    press(h, 1.5, 2.0, kind="button_release", buttons=0)
    assert h.start == (1.5, 2.0) and h.clicks == 1
    assert (h.sliders["w1"].value, h.sliders["w2"].value) == (1.5, 2.0)  # the sliders follow the click
    X, y = data.two_point_regression(0.01)
    start = torch.tensor([1.5, 2.0], dtype=torch.float64)
    gd = agd.shallow_gd(X, y, lr=0.1, steps=1500, record_weights=True, start=start)
    ag = agd.aligned_gd(X, y, depth=2, lr=0.1, steps=500, record_weights=True, start=start)
    gd_path, agd_path = (np.array(line.get_data()).T for line in (h.gd_path, h.agd_path))
    assert np.array_equal(gd_path, gd.history["weights"].numpy())  # the very runs, not a look-alike
    assert np.array_equal(agd_path, ag.history["weights"].numpy())
    assert gd_path[0].tolist() == agd_path[0].tolist() == [1.5, 2.0]  # both start at the click
    for old, new in zip(before, (gd_path.T, agd_path.T)):
        assert old.shape != new.shape or not np.allclose(old, new)
    assert np.array_equal(h.agd_loss.get_ydata(), np.maximum(ag.losses.numpy(), 1e-30))
    k = int(ag.iterations_to(1e-6))
    assert 0 < k < 500 and int(gd.iterations_to(1e-6)) == -1
    assert (f"AGD (L = 2) reached it after {k} iterations, ends at ({float(ag.weights[0]):.3g}, "
            f"{float(ag.weights[1]):.3g})") in h.status.value
    assert (f"shallow GD did not reach it in 1500 steps, ends at ({float(gd.weights[0]):.3g}, "
            f"{float(gd.weights[1]):.3g})") in h.status.value
    assert h.status.value.startswith("start (w₁, w₂) = (1.5, 2), η = 0.1; loss ≤ 1e-06:")
    # near the solution's w2 shallow GD gets there too, and the status gives its count
    h.click(0.3, 7.05)
    gd2 = agd.shallow_gd(X, y, lr=0.1, steps=1500, start=[0.3, 7.05])
    k_gd = int(gd2.iterations_to(1e-6))
    assert 0 < k_gd < 1500 and f"shallow GD reached it after {k_gd} iterations" in h.status.value
    assert h.runs[0].losses.tolist() == gd2.losses.tolist()
    press(h, 1.0, 1.0, kind="motion_notify", buttons=0)  # hovering does not move the start
    assert h.start == (0.3, 7.05) and h.clicks == 2
    press(h, -0.5, 9.0, kind="motion_notify", buttons=1)  # dragging does
    assert h.start == (-0.5, 9.0) and h.clicks == 3
    x, y_px = h.axes[1].transData.transform((100.0, 1e-3))  # a click on the loss panel is ignored
    h.canvas.manager.handle_json({"type": "button_press", "x": float(x), "y": float(h.fig.bbox.height - y_px),
                                  "button": 0, "buttons": 1, "modifiers": []})
    assert h.start == (-0.5, 9.0)
    h.sliders["w1"].value = 1.0  # the fallback: a slider sets the start without a click
    assert h.start == (1.0, 9.0) and h.clicks == 3 and "start (w₁, w₂) = (1, 9)" in h.status.value
    assert paths_from(1.0, 9.0) is h.runs  # cached
    hot = AlignmentClicker(0.5, 1.0, lr=2.5, gd_steps=100, agd_steps=50)  # above 2 / lambda_max = 2
    assert "shallow GD diverged at step 28, last finite point" in hot.status.value
    assert hot.marks.label.get_visible() and "shallow GD diverged at step 28" in hot.marks.label.get_text()
    for call, match in [(lambda: clickable_alignment_paths(w1=2.5), r"^w1: got 2.5"),
                        (lambda: clickable_alignment_paths(w2=0.03), r"^w2: got 0.03"),
                        (lambda: clickable_alignment_paths(lr=0.0), r"^lr: got 0.0"),
                        (lambda: AlignmentClicker(gd_steps=10**6), r"^gd_steps: got 1,000,000"),
                        (lambda: AlignmentClicker(tol=0.0), r"^tol: got 0"),
                        (lambda: AlignmentClicker(drag="yes"), r"^drag: got 'yes'"),
                        (lambda: paths_from(0.0, 0.0, depth=0), r"^depth: got 0"),
                        (lambda: h.click(0.0, 11.0), r"^w2: got 11.0")]:
        with pytest.raises(ValueError, match=match):
            call()


def test_text_stamps_replay_the_same_pixels_as_matplotlib():
    """Texts drawn again from the kept glyph images (rotated ones too) look exactly as matplotlib draws them;
    mathtext with a fraction (which also draws a rule) is not kept."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from dlnlib.widgets import _TextStamps, present_style

    def picture(stamps=None, times=1):
        with present_style():
            fig = Figure(figsize=(4.0, 3.0), dpi=96)
            canvas = FigureCanvasAgg(fig)
            ax = fig.add_subplot()
            ax.set_title("depth 3, η = 0.05, init std 0.3")
            ax.text(0.1, 0.5, r"$\frac{a}{b}$ and ‖W‖", color="tab:red")
            ax.text(0.5, 0.2, "rotated", rotation=30)
            ax.legend(handles=ax.plot([0, 1], [0, 1], label="balanced: max 0.12"))
            for _ in range(times):
                if stamps is not None:
                    stamps.install(canvas.get_renderer())
                canvas.draw()
            return np.asarray(canvas.buffer_rgba()).copy()

    plain = picture()
    stamps = _TextStamps()
    replayed = picture(stamps, times=3)
    assert np.array_equal(plain, replayed)
    assert stamps.hits > 0 and stamps.misses > 0
    assert not any(key[0].startswith("$") for key in stamps.kept)
    kept_before = len(stamps.kept)
    picture(stamps, times=1)  # a new figure with the same texts at the same places: all drawn from the stamps
    assert len(stamps.kept) == kept_before


def test_slider_figure_redraws_only_the_axes_whose_limits_changed():
    """Two panels: new limits on the right one redraw that panel alone (its region wiped to the bare figure),
    the picture equal to a full draw; the left panel is drawn again only by a full draw."""
    import io

    from PIL import Image

    from dlnlib.widgets import SliderFigure, float_slider, make_figure, present_style

    fig, axes = make_figure(1, 2, figsize=(6.0, 3.0))
    left, right = axes[0]
    left.plot([0, 1], [0, 1])
    (curve,) = right.plot([], [], color="tab:red")

    def update(level):
        curve.set_data([0, 1], [0, level])
        if right.get_ylim() != (0.0, level):
            right.set_ylim(0.0, level)

    h = SliderFigure(fig, axes, {"level": float_slider("level", 1.0, 1.0, 1000.0, 1.0)}, update)
    drawn = []

    def counted(ax, name):
        draw = ax.draw

        def counting(renderer):
            drawn.append(name)
            return draw(renderer)

        ax.draw = counting

    counted(left, "left")
    counted(right, "right")
    for level in (7.0, 250.0, 3.0):
        drawn.clear()
        h.sliders["level"].value = level
        assert drawn == ["right"]
        shown = np.asarray(Image.open(io.BytesIO(bytes(h.image.value))))
        with present_style():
            full = np.asarray(Image.open(io.BytesIO(h._render(full=True))))
        assert np.array_equal(shown, full), level
        assert "left" in drawn


def test_slider_figure_keeps_a_background_per_view():
    """A panel whose scale returns to an earlier level finds that view's background kept (no axes drawn again); a
    static artist removed by update, or a change made from outside, is never covered up by a kept view: every picture
    is that of a full draw. keep_views draws the views it is given in advance."""
    import io

    from PIL import Image

    from dlnlib.widgets import SliderFigure, float_slider, make_figure, present_style

    fig, axes = make_figure(1, 2, figsize=(6.0, 3.0))
    left, right = axes[0]
    left.plot([0, 1], [0, 1])
    (curve,) = right.plot([], [], color="tab:red")
    (extra,) = right.plot([0, 1], [0.5, 0.5], color="tab:green")  # static, removed at level 9

    def update(level):
        curve.set_data([0, 1], [0, level])
        if right.get_ylim() != (0.0, 10.0 * level):
            right.set_ylim(0.0, 10.0 * level)
        if level == 9.0 and extra in right.lines:
            extra.remove()

    h = SliderFigure(fig, axes, {"level": float_slider("level", 1.0, 1.0, 9.0, 1.0)}, update)
    drawn = []
    draw = right.draw
    right.draw = lambda renderer: (drawn.append(1), draw(renderer))[1]

    def shown_is_full():
        shown = np.asarray(Image.open(io.BytesIO(bytes(h.image.value))))
        with present_style():
            full = np.asarray(Image.open(io.BytesIO(h._render(full=True))))
        return np.array_equal(shown, full)

    for level, kept in [(2.0, False), (1.0, True), (2.0, True), (3.0, False), (9.0, False), (1.0, False),
                        (2.0, False), (1.0, True)]:
        drawn.clear()
        h.sliders["level"].value = level
        assert (drawn == []) == kept, (level, drawn)
        assert shown_is_full(), level
    right.spines["top"].set_linewidth(4.0)  # from outside, between two moves: the kept views are dropped
    drawn.clear()
    h.sliders["level"].value = 2.0
    assert drawn and shown_is_full()

    h.keep_views(lambda: right.set_ylim(0.0, 70.0), lambda: right.set_ylim(0.0, 80.0))
    assert shown_is_full()
    for level in (7.0, 8.0):
        drawn.clear()
        h.sliders["level"].value = level
        assert drawn == [] and shown_is_full(), level
    with pytest.raises(TypeError, match="setters"):
        h.keep_views(3)
    with pytest.raises(ValueError, match="setters"):
        h.keep_views(*[lambda: None] * h.MAX_VIEWS)


def test_phase_portrait_scale_levels_are_kept_in_advance():
    """The phase portrait's right panel steps between a few scales; each one's background is drawn when the demo is
    built, so a move of the start that changes the scale draws no axes again."""
    from dlnlib.widgets.saxe import phase_portrait_demo

    h = phase_portrait_demo()
    right = h.fig.axes[1]
    drawn = []
    draw = right.draw
    right.draw = lambda renderer: (drawn.append(1), draw(renderer))[1]
    levels = set()
    for a0 in (-1.1, -1.0, -0.5, 0.0, 1.0, 2.0, -2.0):
        h.sliders["a0"].value = a0
        levels.add(right.get_ylim()[1])
    assert len(levels) >= 3 and drawn == []


def test_slider_figure_shown_after_savefig_keeps_its_fast_path():
    """A notebook may save or show a demo's figure before the widget (notebook 05 does both): that draws the figure
    at another dpi and flags it stale. Showing the widget redraws the kept background there and then, so the first
    slider move is a layered redraw (no axes drawn again), and the picture is still what a full draw gives."""
    import io

    from IPython.core.pylabtools import print_figure
    from PIL import Image

    from dlnlib.widgets import SliderFigure, float_slider, make_figure, present_style

    fig, axes = make_figure(1, 1, figsize=(4.0, 3.0))
    ax = axes[0, 0]
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 2)
    (curve,) = ax.plot([], [])

    def update(level):
        curve.set_data([0, 1], [0, level])
        return f"level {level:g}"

    h = SliderFigure(fig, axes, {"level": float_slider("level", 1.0, 0.0, 2.0, 0.1)}, update)
    ax.spines["top"].set_linewidth(4.0)  # changed from outside, in a way no kept view records
    fig.savefig(io.BytesIO(), format="png", dpi=150)
    print_figure(fig, "png", bbox_inches="tight")  # what the inline backend does with a figure shown in a cell
    assert fig.stale
    h._repr_mimebundle_()
    assert not fig.stale
    with present_style():
        full = np.asarray(Image.open(io.BytesIO(h._render(full=True))))
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(bytes(h.image.value)))), full)
    drawn = []
    draw = ax.draw
    ax.draw = lambda renderer: (drawn.append(1), draw(renderer))[1]
    h.sliders["level"].value = 1.5
    assert drawn == []  # the background was kept: only the curve was drawn over it
    shown = np.asarray(Image.open(io.BytesIO(bytes(h.image.value))))
    with present_style():
        full = np.asarray(Image.open(io.BytesIO(h._render(full=True))))
    assert np.array_equal(shown, full)


def test_depth_delay_grid_is_depth_curves():
    """The depth-delay demo solves all 96 slider pairs (s, log10 u0) at once: each curve agrees with depth_curves'
    own solve to the solver's tolerance (1.0e-5 measured: one error control for all pairs at rtol 1e-7), the half
    times (closed form) to rounding."""
    from dlnlib.widgets.saxe import _depth_curves, _depth_grid

    s_values = tuple(round(0.25 * k, 6) for k in range(1, 9))
    u0_values = tuple(round(-6.0 + 0.5 * k, 6) for k in range(12))
    t, curves, half = _depth_grid(s_values, u0_values)
    assert curves.shape == (400, 8, 12, 6) and half.shape == (8, 12, 6)
    for i, j in [(0, 0), (3, 6), (7, 11), (7, 0), (0, 11), (4, 2)]:
        t1, c1, h1 = _depth_curves(s_values[i], u0_values[j], 6, 40.0)
        assert np.array_equal(t, t1)
        assert np.abs(c1 - curves[:, i, j]).max() < 3e-5
        assert np.allclose(h1, half[i, j], rtol=1e-12, atol=0)
