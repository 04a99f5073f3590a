"""validation/report.py: the graded claims table of REPRODUCTION.md is what the committed
results give, and a changed or damaged result file changes the table (so the check fails)."""

import importlib
import shutil
import sys

import numpy as np
import pytest

from script_runner import VALIDATION


@pytest.fixture
def report(monkeypatch):
    monkeypatch.syspath_prepend(str(VALIDATION))
    sys.modules.pop("report", None)
    return importlib.import_module("report")


def test_the_committed_table_is_what_the_committed_results_give(report, capsys):
    assert report.main(["--check"]) == 0, capsys.readouterr()


def _copy_results(report, tmp_path, monkeypatch):
    results = tmp_path / "results"
    shutil.copytree(report.RESULTS, results)
    monkeypatch.setattr(report, "RESULTS", str(results))
    return results


def test_a_changed_committed_value_fails_the_check(report, tmp_path, monkeypatch, capsys):
    """One test loss of a committed sweep result changed (its stored hash kept): the file
    no longer verifies, its row prints no number, and the check fails."""
    results = _copy_results(report, tmp_path, monkeypatch)
    path = results / "fig3_copy_xor" / "authors_k40" / "copy_d40_none_k40_N80_s0.npz"
    arrays = dict(np.load(path))
    arrays["summary/test_loss"] = np.array(0.001)
    np.savez(path, **arrays)
    lines, problems = report.table()
    assert any("copy_d40_none_k40_N80_s0" in p and "hash" in p for p in problems), problems
    assert report.main(["--check"]) == 1
    assert "differs" in capsys.readouterr().err


def test_a_changed_csv_value_changes_the_table(report, tmp_path, monkeypatch):
    results = _copy_results(report, tmp_path, monkeypatch)
    before, _ = report.table()
    path = results / "fig6_lstm_relu" / "lstm_app-b_target-1_lr0.001" / "fig6_lstm_relu_summary.csv"
    text = path.read_text().splitlines()
    fields = text[1].split(",")
    fields[4] = "-1.01"                                      # lambda1_after of network 0: now within 0.05 of -1
    text[1] = ",".join(fields)
    path.write_text("\n".join(text) + "\n")
    after, _ = report.table()
    assert after != before


def test_a_missing_file_is_named_with_its_row(report, tmp_path, monkeypatch, capsys):
    results = _copy_results(report, tmp_path, monkeypatch)
    (results / "fig3_copy_xor" / "authors_k40" / "manifest.json").unlink()
    lines, problems = report.table()
    row = [p for p in problems if "neither source" in p]
    assert row and "authors_k40/manifest.json is missing" in row[0]
    assert report.main([]) == 1
    assert "| **not graded** |" in capsys.readouterr().out
