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


def test_depth_demo_redraws_for_every_depth_and_scale():
    h = depth_demo()
    images = [bytes(h.image.value)] + drive(h, "depth", [1, 2, 5, 8]) + drive(h, "scale", [0.1, 0.6, 1.2])
    assert all(img[:4] == b"\x89PNG" for img in images)
    assert len(set(images)) == len(images)  # every setting changed the picture
    assert len(h.timings_ms) == 1 + 7
    assert "diverged" in h.status.value


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
