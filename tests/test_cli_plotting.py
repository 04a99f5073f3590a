"""floss_ref.cli.plotting: plot_history draws the histories of small runs into a PNG."""

import pytest

from conftest import SMALL
from floss_ref.runs.run import Run, TrainConfig


def test_history_plot(tmp_path):
    pytest.importorskip("matplotlib")
    from floss_ref.cli.plotting import plot_history
    runs = [Run(TrainConfig(task="binary_xor", delay=2, protocol=p, **SMALL)).train()
            for p in ("none", "prefloss")]
    out = tmp_path / "h.png"
    plot_history([r.history for r in runs], ["none", "prefloss"], out, title="test")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
