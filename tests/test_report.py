"""validation/report.py: the claims tables of REPRODUCTION.md are what the committed results
give, and a changed or damaged result file changes a table (so the check fails)."""

import dataclasses
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
    """The three claims tables, the two tables on compute and Fig. 4's per-delay accuracy tables,
    each between its own markers, are what report.py generates."""
    text = (VALIDATION / "REPRODUCTION.md").read_text()
    generated, _ = report.tables()
    assert [name for name, _ in generated] == ["graded claims", "main-text claims", "appendix claims",
                                               "core hours", "runs to make", "binary XOR accuracy per delay",
                                               "spatial XOR accuracy per delay", "copy MSE per delay, mixed inputs",
                                               "copy MSE per delay, k = 75", "continuous XOR MSE per delay, k = 75",
                                               "Sec. 7 first episode", "Fig. 1B clipping"]
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
    _, problems = report.tables()       # the generated per-delay table of that sweep names it too
    assert any(p.startswith("the copy MSE per delay, mixed inputs table") and "copy_d40_none_k40_N80_s0" in p
               for p in problems), problems
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
    ("MAIN_ROWS", "fig6_lstm_relu/lstm_lr0.001/fig6_lstm_relu_summary.csv", "-0.02569965668174507", "-0.5"),
    ("APPENDIX_ROWS", "appK_convergence/appK_paper_runs.csv", "1,0,-0.416088,-0.404305", "1,0,-0.416088,-0.304305"),
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
        assert not re.search(r"\d\.\d", _cell(report, row, "our numbers"))
    sec7 = next(line for line in lines if line.startswith("| Sec. 7 control"))
    assert "0.996" in sec7


def test_rows_whose_evidence_is_not_committed_show_no_number(report):
    for rows in (report.MAIN_ROWS, report.APPENDIX_ROWS):
        lines, _ = report.table(rows)
        for row, line in zip(rows, lines[2:]):
            if row.measure is report.not_committed:
                assert _cell(report, line, "our numbers") == "-", line
                assert _cell(report, line, "verdict") == "**not run (evidence not committed)**", line
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


def _line(lines, prefix):
    return next(line for line in lines if line.startswith("| " + prefix))


def _cell(report, line, column):
    """The cell of ``column`` (one of report.COLUMNS) in a generated claims-table line."""
    cells = line[len("| "):-len(" |")].split(" | ")
    assert len(cells) == len(report.COLUMNS), line[:80]
    return cells[report.COLUMNS.index(column)]


def test_a_caveat_of_what_was_known_is_printed_after_the_verdict(report):
    """A graded row whose criterion was written with part of its evidence known says so after
    its verdict; a row not run yet prints no caveat."""
    lines, _ = report.table()
    rows = {row.claim: row for row in report.ROWS}
    assert sum(bool(row.known) for row in rows.values()) >= 4
    for row, line in zip(report.ROWS, lines[2:]):
        verdict = _cell(report, line, "verdict")
        if row.known and "**not run**" not in verdict:
            assert verdict.endswith(f"(caveat: {row.known})"), line[:80]
        else:
            assert "(caveat:" not in verdict, line[:80]
    fig13 = _line(lines, "Fig. 13: exponents")
    assert "**reproduced** (caveat: criterion written after 7 of 36 tasks were committed" in fig13


def test_the_unstable_relu_row_grades_with_and_without_the_stand_in(report, tmp_path, monkeypatch):
    """The epoch-0 stand-in for a before-measurement that broke down was added after the
    results: the row states both counts, and a verdict that depends on it says so."""
    lines, _ = report.table()
    row = _line(lines, "App. B.1, Fig. 6C/D")
    assert "Without the epoch-0 stand-in 5 start with lambda_1 > 0" in row
    assert "**not reproduced at g ~ U(0, 3) (the same without the epoch-0 stand-in" in row
    assert "those that reach 0 have g = 1.82-1.91, those that fail g = 2.19-2.81" in row
    results = _copy_results(report, tmp_path, monkeypatch)
    path = results / "fig6_lstm_relu" / "relu_meanN_g3_lr0.001" / "fig6_lstm_relu_summary.csv"
    text = path.read_text()
    old = "0.4685745495718459,0.41170043253638267"        # network 4 (g = 2.44): now reaches 0
    assert text.count(old) == 1
    path.write_text(text.replace(old, "0.4685745495718459,0.01"))
    lines, problems = report.table()
    assert not problems
    verdict = _cell(report, _line(lines, "App. B.1, Fig. 6C/D"), "verdict")
    assert verdict.startswith("**not reproduced at g ~ U(0, 3) with the epoch-0 stand-in") and verdict.endswith("partly without it**")


def test_the_core_hours_table_lists_every_sweep_folder(report, tmp_path, monkeypatch, capsys):
    """The core-hours table is generated from every sweep folder under results/: a new one
    enters it (and the check fails until it is written), a removed task changes its count."""
    text = (VALIDATION / "REPRODUCTION.md").read_text()
    lines, _ = report.compute_table()
    for folder in report.sweep_folders():
        assert f"| `{folder}` |" in text, folder
    results = _copy_results(report, tmp_path, monkeypatch)
    shutil.copytree(results / "fig3_copy_xor" / "authors_k40", results / "fig3_copy_xor" / "extra_k40")
    (results / "fig3_copy_xor" / "authors_k40" / "copy_d20_none_k40_N80_s0.npz").unlink()
    after, problems = report.compute_table()
    assert not problems
    assert _line(after, "`fig3_copy_xor/extra_k40`").split(" | ")[3] == "24 (24)"
    assert _line(after, "`fig3_copy_xor/authors_k40`").split(" | ")[3] == "23 (24)"
    assert report.main(["--check"]) == 1
    assert "core hours" in capsys.readouterr().err


def test_the_runs_to_make_count_what_is_committed(report, tmp_path, monkeypatch):
    """Each set of runs of the first table still to make counts its committed tasks from its
    folder, so the estimate of what is left follows the sweeps."""
    results = _copy_results(report, tmp_path, monkeypatch)
    target = results / "fig3_copy_xor" / "linear_authors_inputs-text"
    shutil.rmtree(target)
    lines, _ = report.to_run_table()
    row = _line(lines, "App. E at N = 80")
    assert row.split(" | ")[1:4] == ["24", "0", "24"]
    shutil.copytree(results / "fig3_copy_xor" / "authors_k40", target)
    lines, _ = report.to_run_table()
    row = _line(lines, "App. E at N = 80")
    assert row.split(" | ")[1:4] == ["24", "24", "0"] and row.endswith("| 0.0-0.0 |")


def test_new_runs_in_a_graded_folder_do_not_change_the_graded_rows(report, tmp_path, monkeypatch):
    """The Fig. 9 row reads only the folders and delays it was graded on: a new sweep folder
    of fig4 (here a copy under a name no sweep uses) leaves it as it is."""
    before, _ = report.table(report.APPENDIX_ROWS)
    results = _copy_results(report, tmp_path, monkeypatch)
    fig4 = results / "fig4_xor_protocols"
    shutil.copytree(fig4 / "authors_lags-double", fig4 / "authors_lags-half_new-folder")
    after, _ = report.table(report.APPENDIX_ROWS)
    assert _line(after, "Figs. 8C/D, 9, 11") == _line(before, "Figs. 8C/D, 9, 11")


# every figure REPRODUCTION.md shows, and the committed results it is drawn from
FIGURE_RUNS = {
    "results/fig1b_targets/positive_lr0.005_clip-1.png": "fig1b_targets/positive_lr0.005_clip-1.txt",
    "figures/fig3_copy_paper_authors_k40.png": "fig3_copy_xor/authors_k40",
    "figures/fig3_paper_authors_k40_inputs-text.png": "fig3_copy_xor/authors_k40_inputs-text",
    "figures/fig3_paper_authors_k40_inputs-bernoulli.png": "fig3_copy_xor/authors_k40_inputs-bernoulli",
    "figures/fig4_binary_paper_authors_lags-double.png": "fig4_xor_protocols/authors_lags-double",
    "figures/fig4_binary_paper_authors_lags-half.png": "fig4_xor_protocols/authors_lags-half",
    "figures/fig4c_binary_paper_authors_lags-half.png": "fig4_xor_protocols/authors_lags-half",
    "figures/fig4cd_short_paper_authors.png": "fig4_xor_protocols/authors_lags-half",
    "figures/fig3_paper_authors_k75_inputs-text.png": "fig3_copy_xor/authors_k75_inputs-text",
    "figures/fig3_paper_linear_authors_inputs-text.png": "fig3_copy_xor/linear_authors_inputs-text",
    "results/appD_diagnostics/appD_paper_authors.png": "appD_diagnostics/authors",
    "figures/fig4_spatial_paper_authors.png": "fig4_xor_protocols/authors_lags-half",
    "figures/fig12_fine_paper_authors.png": "fig4_xor_protocols/authors_lags-half_curve10_throughout",
    "figures/fig4_spatial_paper_ours.png": "fig4_xor_protocols/ours_lags-half",
    "results/fig6_lstm_relu/lstm_lr0.01/fig6_lstm_relu.png": "fig6_lstm_relu/lstm_lr0.01",
    "results/fig6_lstm_relu/lstm_lr0.001/fig6_lstm_relu.png": "fig6_lstm_relu/lstm_lr0.001",
    "results/fig6_lstm_relu/relu_meanN_lr0.01/fig6_lstm_relu.png": "fig6_lstm_relu/relu_meanN_lr0.01",
    "results/fig6_lstm_relu/relu_meanN_lr0.001/fig6_lstm_relu.png": "fig6_lstm_relu/relu_meanN_lr0.001",
    "results/fig6_lstm_relu/lstm_target-1_lr0.01/fig6_lstm_relu.png": "fig6_lstm_relu/lstm_target-1_lr0.01",
    "results/fig6_lstm_relu/lstm_target-1_lr0.001/fig6_lstm_relu.png": "fig6_lstm_relu/lstm_target-1_lr0.001",
    "results/fig5_k_delay/fig5_quick_prefloss.png": "fig5_k_delay/prefloss_quick.txt",
    "figures/fig5_paper_authors.png": "fig5_k_delay/authors_lags-half",
    "results/appD_clv_overlap/quick_from-t0d/appD_clv_overlap_quick.png": "appD_clv_overlap/quick_from-t0d",
    "results/fig3_copy_xor/fig3_quick_inputs-text.png": "fig3_copy_xor/fig3_quick.txt",
    "figures/fig9ab_authors_lags-half_curve10.png": "fig4_xor_protocols/authors_lags-half_curve10",
    "figures/fig14_spatial_paper_authors_orthogonal_epochs5000.png":
        "fig4_xor_protocols/authors_lags-half_init-orthogonal_epochs5000",
    "results/appD_clv_overlap/quick/appD_clv_overlap_quick.png": "appD_clv_overlap/quick",
    "results/fig6_lstm_relu/relu_entry_lr0.001/fig6_lstm_relu.png": "fig6_lstm_relu/relu_entry_lr0.001",
    "figures/fig9_authors_lags-half.png": "fig4_xor_protocols/authors_lags-half",
    "figures/fig12_binary_paper_authors.png": "fig4_xor_protocols/authors_lags-half",
    "figures/fig13_paper_authors.png": "fig13_trained_exponents/authors_lags-half",
    "figures/fig13_quick.png": "fig13_trained_exponents/fig13_quick.txt",
    "figures/fig14_binary_paper_authors_orthogonal.png": "fig4_xor_protocols/authors_lags-half_init-orthogonal",
    "results/fig3_copy_xor/fig3_quick_linear.png": "fig3_copy_xor/linear_quick.txt",
    "figures/sec7_quick.png": "sec7_control/sec7_quick.txt",
    "figures/sec7_paper_authors.png": "sec7_control/authors_lags-half",
    "results/appK_convergence/appK_paper.png": "appK_convergence/appK_paper.txt",
    "results/clv_flossing/clv_flossing_quick.png": "clv_flossing/clv_flossing_quick.txt",
    "results/fig1_flossing/fig1_quick.png": "fig1_flossing/fig1_quick.txt",
    "results/appD_diagnostics/appD_quick.png": "appD_diagnostics/appD_quick.txt",
    "results/fig2_condition_number/fig2a.png": "fig2_condition_number/fig2.txt",
    "results/fig2_condition_number/fig2b.png": "fig2_condition_number/fig2.txt",
    "results/fig2_condition_number/fig2c.png": "fig2_condition_number/fig2.txt",
}


def test_every_figure_shown_is_drawn_from_committed_runs(report):
    """REPRODUCTION.md embeds or links no figure whose runs are not under results/."""
    text = (VALIDATION / "REPRODUCTION.md").read_text()
    shown = set(re.findall(r"\]\(((?:figures|results)/[^)#]+\.png)\)", text))
    assert shown, "no figure found"
    unknown = sorted(shown - set(FIGURE_RUNS))
    assert not unknown, f"figures shown without committed runs named in FIGURE_RUNS: {unknown}"
    for figure in shown:
        assert (VALIDATION / figure).is_file(), figure
        assert (VALIDATION / "results" / FIGURE_RUNS[figure]).exists(), (figure, FIGURE_RUNS[figure])


# ---- the criteria of CRITERIA.md, shown beside each row ----------------------------------

WORDS, CRITERION = "the paper's words (where)", "criterion (CRITERIA.md)"


def test_every_row_names_a_row_of_criteria_md_and_shows_it(report):
    """Each Row's criterion is the claim cell of a row of one of CRITERIA.md's two tables, and
    its line of the generated table shows that row's quotation and grades, with any "as the
    ... row above" of CRITERIA.md spelled out."""
    criteria = report.read_criteria()
    assert not criteria.broken and not criteria.damaged
    assert {c.anchor for c in criteria.rows.values()} == {anchor for _, anchor in report.CRITERIA_TABLES}
    claim_cells = [line.split(" | ")[0][2:] for line in (VALIDATION / "CRITERIA.md").read_text().splitlines()
                   if line.startswith("| ")]
    generated, problems = report.tables()
    assert not problems, problems
    named = set()
    for (name, lines), (_, rows) in zip(generated, report.TABLES):
        assert lines[0] == "| " + " | ".join(report.COLUMNS) + " |"
        assert len(lines) == len(rows) + 2, name
        for row, line in zip(rows, lines[2:]):
            assert row.criterion in criteria.rows, (name, row.claim, row.criterion)
            assert claim_cells.count(row.criterion) == 1, row.criterion
            criterion = criteria.rows[row.criterion]
            words, grades = _cell(report, line, WORDS), _cell(report, line, CRITERION)
            assert grades.startswith(f"[{row.criterion}](CRITERIA.md#{criterion.anchor}): "), line[:80]
            assert words not in ("", "-") and "row above" not in words + grades, line[:80]
            if not criterion.words.startswith("as "):
                assert words == criterion.words
            named.add(row.criterion)
    fig14a = _cell(report, _line(generated[2][1], "Fig. 14A"), CRITERION)
    assert "the rule of the 'Fig. 4A (binary XOR, d = 70)' row: reproduced: none and prefloss at chance" in fig14a
    # a posthoc row's criterion is in the table written after the results, or says why not
    for row in report.ROWS + report.MAIN_ROWS + report.APPENDIX_ROWS:
        if row.posthoc and criteria.rows[row.criterion].anchor == "criteria-fixed-before-the-runs":
            assert row.criterion == "Fig. 3A/C, copy", row.claim     # CRITERIA.md's prose names this one


def test_a_row_naming_a_missing_criterion_is_reported_and_the_others_go_on(report, monkeypatch, capsys):
    """A Row whose criterion is not in CRITERIA.md is a problem naming the row; its line shows
    no criterion (its numbers and verdict stay), the other rows are as they were, and the
    command ends with exit 1 after printing every table."""
    rows = list(report.APPENDIX_ROWS)
    before, problems = report.table(rows)
    assert not problems
    i = next(i for i, row in enumerate(rows) if row.claim.startswith("App. K"))
    rows[i] = dataclasses.replace(rows[i], criterion="App. K, a row CRITERIA.md does not have")
    after, problems = report.table(rows)
    assert len(problems) == 1, problems
    assert problems[0].startswith(rows[i].claim + ": ") and "'App. K, a row CRITERIA.md does not have'" in problems[0]
    assert "not a claim cell" in problems[0]
    line = after[2 + i]
    assert _cell(report, line, CRITERION) == "criterion missing or damaged (see report.py's output)"
    assert _cell(report, line, WORDS) == "-"
    for column in ("our numbers", "verdict", "settings"):
        assert _cell(report, line, column) == _cell(report, before[2 + i], column)
    assert after[:2 + i] + after[3 + i:] == before[:2 + i] + before[3 + i:]
    monkeypatch.setattr(report, "TABLES", tuple((name, rows if name == "appendix claims" else old)
                                                for name, old in report.TABLES))
    assert report.main([]) == 1
    out, err = capsys.readouterr()
    assert "App. K, a row CRITERIA.md does not have" in err
    assert all(f"{name}:\n" in out for name, _ in report.TABLES)


def test_a_missing_or_damaged_criteria_file_names_each_row(report, tmp_path, monkeypatch):
    path = tmp_path / "CRITERIA.md"
    monkeypatch.setattr(report, "CRITERIA", str(path))
    # missing: every row is named, and every row keeps its numbers
    lines, problems = report.table(report.APPENDIX_ROWS)
    assert len(problems) == len(report.APPENDIX_ROWS)
    for row, problem in zip(report.APPENDIX_ROWS, problems):
        assert problem.startswith(row.claim + ": ") and "CRITERIA.md is missing" in problem, problem
    assert "0.996" in _cell(report, _line(lines, "Sec. 7 control"), "our numbers")
    text = (VALIDATION / "CRITERIA.md").read_text()
    app_k = next(line for line in text.splitlines() if line.startswith("| App. K |"))
    # one row with a cell too few: that row alone
    path.write_text(text.replace(app_k, app_k.rsplit(" |", 2)[0] + " |"))
    lines, problems = report.table(report.APPENDIX_ROWS)
    assert len(problems) == 1 and problems[0].startswith("App. K (Fig. 16): "), problems
    assert "damaged" in problems[0] and "5 cells, expected 6" in problems[0]
    assert "criterion missing or damaged" in _line(lines, "App. K") and "0.0001" in _line(lines, "App. K")
    # a claim cell twice: the rows naming it
    path.write_text(text + app_k + "\n")
    _, problems = report.table(report.APPENDIX_ROWS)
    assert len(problems) == 1 and "App. K (Fig. 16)" in problems[0] and "the same claim cell" in problems[0]
    # the second table's heading gone: no row can be trusted, each is named
    path.write_text(text.replace("## Criteria written after the results", "## Other criteria"))
    _, problems = report.table(report.MAIN_ROWS)
    assert len(problems) == len(report.MAIN_ROWS)
    assert all("'## Criteria written after the results'" in p for p in problems), problems
