"""Reference vectors: regenerated bit for bit, loaded with hash checks, compared by digits,
and their float64 values against 256 bits."""

import errno
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from floss_ref.kit import vectors
from floss_ref.runs.io import WriteError, atomic_savez, read_npz
from hostile_files import SPECIAL, deep_json, deep_list, make_special, refused_within

SMALL = ["vanilla_tanh_T100_tons3_tr20", "lstm_T20_tons1_tr4", "gru_T20_tons3_tr0", "vanilla_relu_T20_tons1_tr0"]


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    d = tmp_path_factory.mktemp("vectors")
    vectors.write(d, SMALL)
    return d


def test_there_are_48_cases_over_cells_horizons_intervals_and_transients():
    names = vectors.case_names()
    assert len(names) == 48 and len(set(names)) == 48
    assert {vectors._parse(n)[0] for n in names} == set(vectors.CELLS)


def test_regenerated_bit_for_bit(written, tmp_path):
    vectors.write(tmp_path, SMALL)
    assert (tmp_path / "cases.json").read_bytes() == (written / "cases.json").read_bytes()
    for name in SMALL:
        a, b = read_npz(written / f"{name}.npz"), read_npz(tmp_path / f"{name}.npz")
        assert a.keys() == b.keys() and all(a[k].tobytes() == b[k].tobytes() for k in a)


def test_index_spells_out_conventions_and_digits(written):
    index = json.loads((written / "cases.json").read_text())
    assert index["format"] == vectors.FORMAT and "qr" in index["conventions"]
    for name in SMALL:
        entry = index["cases"][name]
        assert entry["settings"]["T"] == vectors._parse(name)[1]
        assert set(entry["digits"]) == {"against", "exponents", "loss", "gradient"}
    # float64 against 256 bits: at least 10 digits at T <= 100 (the figure), every cell
    for name in SMALL:
        d = index["cases"][name]["digits"]
        assert d["against"] == "256-bit" and min(d["exponents"], d["loss"], d["gradient"]) >= 10, d


def test_load_and_compare(written):
    cases = {c.name: c for c in vectors.load(written)}
    assert set(cases) == set(SMALL)
    case = cases["lstm_T20_tons1_tr4"]
    same = vectors.compare(case, {"exponents": case.arrays["exponents"], "loss": case.arrays["loss"],
                                  "grads": case.grads, "h0_bar": case.arrays["h0_bar"]}, verbose=False)
    assert all(v == 16.0 for v in same.values())
    off = vectors.compare(case, {"exponents": case.arrays["exponents"] * (1 + 1e-6)}, verbose=False)
    assert 5.5 < off["exponents"] < 6.5
    with pytest.raises(ValueError, match="has no 'W'"):
        vectors.compare(case, {"grads": {}}, verbose=False)
    with pytest.raises(ValueError, match="shape"):
        vectors.compare(case, {"exponents": np.zeros(5)}, verbose=False)


def test_altered_or_missing_file_is_refused_by_name(written, tmp_path):
    import shutil

    d = tmp_path / "v"
    shutil.copytree(written, d)
    name = "gru_T20_tons3_tr0"
    arrays = read_npz(d / f"{name}.npz")
    arrays["loss"] = arrays["loss"] + 1e-15
    atomic_savez(d / f"{name}.npz", arrays)
    with pytest.raises(ValueError, match=f"case '{name}': array 'loss' of '{name}.npz' has SHA-256"):
        vectors.load(d)
    os.remove(d / f"{name}.npz")
    with pytest.raises(ValueError, match=f"file '{name}.npz' is missing"):
        vectors.load(d)
    os.remove(d / "cases.json")
    with pytest.raises(ValueError, match="cases.json' is missing"):
        vectors.load(d)


def test_unknown_case_names_are_refused(tmp_path):
    with pytest.raises(ValueError, match="unknown case names"):
        vectors.write(tmp_path, ["vanilla_tanh_T7_tons1_tr0"])


def test_cli_writes_the_vectors(tmp_path):
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    r = subprocess.run([sys.executable, "-m", "floss_ref", "vectors", "--out", str(tmp_path / "v"), "--cases",
                        "gru_T20_tons1_tr0"], capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=root),
                       timeout=300)
    assert r.returncode == 0, r.stderr
    assert "wrote 1 cases" in r.stdout
    assert [c.name for c in vectors.load(tmp_path / "v")] == ["gru_T20_tons1_tr0"]


# ---- regression tests of the issue "Reliability", rows F3 and F5 -----------------------------

def _copy(written, tmp_path):
    import shutil

    d = tmp_path / "v"
    shutil.copytree(written, d)
    return d


@pytest.mark.parametrize("kind", SPECIAL)
@pytest.mark.parametrize("file", ["cases.json", "gru_T20_tons3_tr0.npz"])
def test_F5_an_index_or_case_that_is_not_a_regular_file_is_refused_by_name(written, tmp_path, kind, file):
    d = _copy(written, tmp_path)
    os.remove(d / file)
    path = make_special(d / file, kind)
    exc = refused_within(lambda: vectors.load(d), fifo=path if kind == "FIFO" else None)
    assert isinstance(exc, ValueError), repr(exc)
    assert f"{file}' cannot be read as a" in str(exc) and f"it is a {kind}, not a regular file" in str(exc), str(exc)


def _edit_index(d, edit):
    index = json.loads((d / "cases.json").read_text())
    edit(index, index["cases"]["gru_T20_tons3_tr0"])
    (d / "cases.json").write_text(json.dumps(index))


@pytest.mark.parametrize("edit, match", [
    (lambda i, e: i.update(cases=[]), "field 'cases' must be an object, got a list"),
    (lambda i, e: i.update(format=None), "field 'format' must be a string, got null"),
    (lambda i, e: i.update(seed="0"), "field 'seed' must be an integer, got a string"),
    (lambda i, e: i["cases"].update(gru_T20_tons3_tr0=[]), "field 'cases.gru_T20_tons3_tr0' must be an object"),
    (lambda i, e: e.pop("file"), "field 'cases.gru_T20_tons3_tr0.file' is missing"),
    (lambda i, e: e.update(file=3), "field 'cases.gru_T20_tons3_tr0.file' must be a string, got an integer"),
    (lambda i, e: e.update(file="../v/gru_T20_tons3_tr0.npz"), "'cases.gru_T20_tons3_tr0.file' must name an .npz file "
                                                              "in the directory"),
    (lambda i, e: e.update(sha256=["x"]), "field 'cases.gru_T20_tons3_tr0.sha256' must be an object"),
    (lambda i, e: e["sha256"].update(loss=7), r"field 'cases.gru_T20_tons3_tr0.sha256.loss' must be a string"),
    (lambda i, e: e.pop("settings"), "field 'cases.gru_T20_tons3_tr0.settings' is missing"),
    (lambda i, e: e["settings"].update(T="20"), "field 'cases.gru_T20_tons3_tr0.settings.T' must be an integer"),
    (lambda i, e: e["settings"].pop("cell"), "field 'cases.gru_T20_tons3_tr0.settings.cell' is missing"),
    (lambda i, e: e["digits"].update(loss="16"), "field 'cases.gru_T20_tons3_tr0.digits.loss' must be a number"),
    (lambda i, e: e.update(digits=None), "field 'cases.gru_T20_tons3_tr0.digits' must be an object, got null"),
])
def test_F5_malformed_index_entries_are_refused_naming_the_field(written, tmp_path, edit, match):
    d = _copy(written, tmp_path)
    _edit_index(d, edit)
    with pytest.raises(ValueError, match=match) as info:
        vectors.load(d)
    assert "cases.json" in str(info.value)


@pytest.mark.parametrize("field, value", [("T", 40), ("t_ons", 1), ("transient", 4), ("cell", "lstm"),
                                          ("k", 2), ("state_size", 7), ("n_in", 3)])
def test_settings_that_disagree_with_the_name_or_the_arrays_are_refused(written, tmp_path, field, value):
    """The hashes cover the arrays, not the settings: an edited setting of a case would
    send a user's comparison to other settings; it is refused naming the case and field."""
    d = _copy(written, tmp_path)
    _edit_index(d, lambda i, e: e["settings"].update({field: value}))
    with pytest.raises(ValueError, match=f"case 'gru_T20_tons3_tr0': settings field '{field}' is") as info:
        vectors.load(d)
    assert "cases.json" in str(info.value)


def test_F5_an_index_nested_too_deep_or_not_json_is_refused(written, tmp_path):
    d = _copy(written, tmp_path)
    (d / "cases.json").write_text(deep_json(3000))
    with pytest.raises(ValueError, match="cases.json' \\(reference vectors index\\) nests deeper than 64 levels"):
        vectors.load(d)
    _edit_index(d := _copy(written, tmp_path / "again"), lambda i, e: e["settings"].update(extra=deep_list(100)))
    with pytest.raises(ValueError, match="nests deeper than 64 levels"):
        vectors.load(d)


def test_F3_a_directory_that_cannot_be_written_is_a_WriteError_before_any_case_is_computed(tmp_path, monkeypatch):
    (tmp_path / "file").write_text("")
    with pytest.raises(WriteError, match="cannot write .*file/v"):
        vectors.write(tmp_path / "file" / "v", ["gru_T20_tons1_tr0"])

    def read_only(*args, **kwargs):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS))

    monkeypatch.setattr(vectors, "make_case", lambda *a: pytest.fail("a case was computed first"))
    monkeypatch.setattr(os, "makedirs", read_only)
    with pytest.raises(WriteError, match="Read-only file system"):
        vectors.write(tmp_path / "v", ["gru_T20_tons1_tr0"])


# ---- regression tests of the hostile-file families (validation/reliability/fuzz_files.py --families) ----

@pytest.mark.parametrize("edit, match", [
    (lambda i, e: e.update(file="x" * 10_000_000 + ".npz"), r"file 'xxx.*\.\.\..*xxx.npz' is missing \(listed in "
                                                            r"'.*cases.json'\)"),
    (lambda i, e: e["digits"].update(loss=float("nan")), "field 'cases.gru_T20_tons3_tr0.digits.loss' is NaN"),
    (lambda i, e: e["digits"].update(gradient=float("inf")), "field 'cases.gru_T20_tons3_tr0.digits.gradient' is "
                                                             "Infinity"),
], ids=["10MB_file_name", "nan", "infinity"])
def test_an_index_with_nan_or_a_huge_file_name_is_refused_in_a_brief_message(written, tmp_path, edit, match):
    """NaN and Infinity digits were accepted; a 10 MB file name was quoted whole, and the
    message did not name the index."""
    d = _copy(written, tmp_path)
    _edit_index(d, edit)
    with pytest.raises(ValueError, match=match) as info:
        vectors.load(d)
    assert "cases.json" in str(info.value) and len(str(info.value)) < 1000
