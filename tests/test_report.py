"""validation/report.py: the claims tables of REPRODUCTION.md are what the committed results
give, and a changed or damaged result file changes a table (so the check fails)."""

import importlib
import re
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


def test_every_table_stands_between_its_markers(report):
    """The three tables, each between its own markers, are what report.py generates."""
    text = (VALIDATION / "REPRODUCTION.md").read_text()
    generated, _ = report.tables()
    assert [name for name, _ in generated] == ["graded claims", "main-text claims", "appendix claims"]
    for name, lines in generated:
        begin, end = report.markers(name)
        assert text.count(begin) == 1 and text.count(end) == 1, name
        assert text.split(begin, 1)[1].split(end, 1)[0].strip("\n").splitlines() == lines, name


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


@pytest.mark.parametrize("rows, relpath, old, new", [
    ("APPENDIX_ROWS", "demo_seeds/demo_seeds.txt", "   4     0.505       0.990", "   4     0.505       0.890"),
    ("APPENDIX_ROWS", "fig5_k_delay/fig5_summary_quick_prefloss.csv", "30,32,2,0.990597", "30,32,2,0.590597"),
    ("APPENDIX_ROWS", "bench/bench_vs_jax_paper_run.txt", "19.9 s wall", "29.9 s wall"),
    ("MAIN_ROWS", "fig1b_targets/lr0.001_clip-none.txt", "0.1888", "0.0188"),
    ("MAIN_ROWS", "fig6_lstm_relu/lstm_lr0.001/fig6_lstm_relu_summary.csv", "-0.025503225268046166", "-0.5"),
])
def test_a_changed_value_changes_the_main_and_appendix_tables(report, tmp_path, monkeypatch, rows, relpath, old, new):
    results = _copy_results(report, tmp_path, monkeypatch)
    before, problems = report.table(getattr(report, rows))
    assert not problems
    path = results / relpath
    text = path.read_text()
    assert text.count(old) == 1
    path.write_text(text.replace(old, new))
    after, problems = report.table(getattr(report, rows))
    assert not problems and after != before


def test_a_changed_value_of_the_appendix_table_fails_the_check(report, tmp_path, monkeypatch, capsys):
    """The demo's last seed no longer holds: its row's verdict changes and --check fails,
    naming the table."""
    results = _copy_results(report, tmp_path, monkeypatch)
    path = results / "demo_seeds" / "demo_seeds.txt"
    path.write_text(path.read_text().replace("   4     0.505       0.990    yes", "   4     0.505       0.890     NO"))
    assert report.main(["--check"]) == 1
    err = capsys.readouterr().err
    assert "appendix claims" in err and "differs" in err


def test_a_hand_edit_of_a_table_fails_the_check(report, tmp_path, monkeypatch, capsys):
    copy = tmp_path / "REPRODUCTION.md"
    text = (VALIDATION / "REPRODUCTION.md").read_text()
    begin, end = report.markers("main-text claims")
    head, rest = text.split(begin, 1)
    table, tail = rest.split(end, 1)
    assert "0.996" in table
    copy.write_text(head + begin + table.replace("0.996", "0.969", 1) + end + tail)
    monkeypatch.setattr(report, "REPORT", str(copy))
    assert report.main(["--check"]) == 1
    assert "main-text claims" in capsys.readouterr().err


def test_a_missing_file_is_named_with_its_row(report, tmp_path, monkeypatch, capsys):
    results = _copy_results(report, tmp_path, monkeypatch)
    (results / "fig3_copy_xor" / "authors_k40" / "manifest.json").unlink()
    lines, problems = report.table()
    row = [p for p in problems if "neither source" in p]
    assert row and "authors_k40/manifest.json is missing" in row[0]
    assert report.main([]) == 1
    assert "| **not graded** |" in capsys.readouterr().out


def test_bad_evidence_of_the_appendix_table_is_named_and_the_other_rows_go_on(report, tmp_path, monkeypatch):
    """A missing output and a damaged one: each problem names its file and its row, those
    rows print no number, and the other rows keep theirs."""
    results = _copy_results(report, tmp_path, monkeypatch)
    (results / "demo_seeds" / "demo_seeds.txt").unlink()
    timing = results / "bench" / "bench_vs_jax_paper_run.txt"
    timing.write_text(timing.read_text().splitlines()[0] + "\n")     # the provenance line only
    lines, problems = report.table(report.APPENDIX_ROWS)
    assert any(p.startswith("the demo") and "demo_seeds.txt is missing" in p for p in problems), problems
    assert sum(p.startswith("App. F") and "bench_vs_jax_paper_run.txt" in p for p in problems) == 2, problems
    for prefix in ("| the demo", "| App. F: 500", "| App. F: \"only"):
        row = next(line for line in lines if line.startswith(prefix))
        assert "| evidence missing or damaged (see report.py's output) | **not graded** |" in row
        assert not re.search(r"\d\.\d", row.split("|")[4])
    sec7 = next(line for line in lines if line.startswith("| Sec. 7 control"))
    assert "0.996" in sec7


def test_rows_whose_evidence_is_not_committed_show_no_number(report):
    for rows in (report.MAIN_ROWS, report.APPENDIX_ROWS):
        lines, _ = report.table(rows)
        for row, line in zip(rows, lines[2:]):
            if row.measure is report.not_committed:
                cells = line.split(" | ")
                assert cells[3] == "-" and cells[4] == "**not run (evidence not committed)**", line
                assert f"command: `{row.command}`" in line and row.command.startswith("python validation/")


def _anchor(heading):
    """GitHub's anchor of a markdown heading."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_every_link_of_a_generated_row_leads_somewhere(report):
    text = (VALIDATION / "REPRODUCTION.md").read_text()
    anchors = {_anchor(line.lstrip("#")) for line in text.splitlines() if line.startswith("#")}
    generated, _ = report.tables()
    for _, lines in generated:
        for line in lines[2:]:
            if "| **not run** |" in line:      # its results folder does not exist yet
                continue
            for target in re.findall(r"\]\(([^)]+)\)", line):
                if target.startswith("#"):
                    assert target[1:] in anchors, (target, line[:60])
                else:
                    assert (VALIDATION / target.split("#")[0]).exists(), (target, line[:60])
