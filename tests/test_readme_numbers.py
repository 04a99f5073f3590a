"""The numbers the README and its docs pages quote, checked against where they come from.

Each number is checked on the page that quotes it: ``README.md``, or one of the pages it
links to (``docs/speed.md``, ``docs/safety.md``, ``docs/training.md``,
``docs/precision.md``).

- Numbers that the code fixes (training defaults, size limits) are checked against the
  code.
- Numbers that a validation script or benchmark printed are checked against that
  script's output as committed under ``validation/results/``.  Each such file starts
  with the line saying where and when it was measured (``_common.provenance``), and the
  page names the command.  These tests do not re-run the scripts (the ``slow`` smoke
  tests and ``validation/run_all.py`` do); they check that the page says what the
  committed output says, digit for digit as printed.
- Every script, module and file the pages name exists at the path they give.

(The outputs of the demo and of ``floss`` are re-run and checked in
``test_readme_outputs.py``, the Python blocks in ``test_readme.py``.)
"""

import csv
import pathlib
import re

import pytest

import floss_ref.cli.options as cli_options
import floss_ref.cli.train as cli_train
from floss_ref.experiments.config import DEFAULT_K, TrainConfig

ROOT = pathlib.Path(__file__).resolve().parents[1]
PAGES = ("README.md", "docs/speed.md", "docs/safety.md", "docs/training.md", "docs/precision.md")
RESULTS = ROOT / "validation" / "results"


def text_of(page):
    """The text of ``page`` on one line (whitespace-normalised: sentences wrap anywhere)."""
    return " ".join((ROOT / page).read_text().split())


README = text_of("README.md")
SPEED = text_of("docs/speed.md")


def readme(pattern, page="README.md"):
    """The groups of the one match of ``pattern`` on ``page`` (the README or one of its
    docs pages; whitespace-normalised text)."""
    found = re.findall(pattern, text_of(page))
    assert len(found) == 1, f"{page}: {len(found)} matches of {pattern!r}"
    return found[0]


def evidence(relpath, pattern):
    """The groups of the one match of ``pattern`` in a committed output file, which must
    start with its provenance line."""
    text = (RESULTS / relpath).read_text()
    assert text.startswith("floss_ref "), f"{relpath}: no provenance line"
    found = re.findall(pattern, text)
    assert len(found) == 1, f"{relpath}: {len(found)} matches of {pattern!r}"
    return found[0]


# ---- numbers of the code ------------------------------------------------------------

def test_training_defaults_are_the_readme_ones():
    c = TrainConfig(task="binary_xor", delay=10)
    text = readme(r"\*\*Defaults\*\* are the paper's where it states them \(N = (\d+), T = (\d+), batch (\d+), "
                  r"Adam lr ([\de.-]+), E_f = (\d+) flossing epochs on k = min\((\d+), N\) exponents\) and the "
                  r"authors' code's otherwise \(gradient-norm clip ([\d.]+); flossing over (\d+)-step sequences "
                  r"of Bernoulli inputs with the first (\d+) steps left out\)", page="docs/training.md")
    N, T, batch, lr, ef, k, clip, floss_T, floss_transient = text
    assert (c.N, c.T, c.batch, c.floss_epochs) == (int(N), int(T), int(batch), int(ef))
    assert c.lr == float(lr) and c.clip_norm == float(clip) and DEFAULT_K == int(k) and c.k is None
    assert (c.floss_T, c.floss_transient) == (int(floss_T), int(floss_transient))


def test_cli_size_limits_are_the_readme_ones():
    n, steps, gib = readme(r"beyond a size limit \(N <= (\d+), T <= 10\^(\d+), training arrays <= (\d+) GiB\)")
    assert cli_options.MAX_N == int(n)
    assert cli_options.MAX_STEPS == 10 ** int(steps)
    assert cli_train.MAX_TRAIN_BYTES == int(gib) * 2 ** 30


def test_progress_interval_is_the_readme_one():
    from floss_ref._progress import LOG_INTERVAL
    assert float(readme(r"a plain line every (\d+) s when stderr is a file or a pipe")) == LOG_INTERVAL


# ---- numbers of committed outputs ---------------------------------------------------

def test_fig1b_medians_are_the_committed_ones():
    clipped = readme(r"median \|lambda_1 - target\| on a fresh 1000-step trajectory: ([\d.]+), ([\d.]+) and "
                     r"([\d.]+) for seed 0", page="docs/training.md")
    plain = readme(r"the paper's plain Adam, gives ([\d.]+), ([\d.]+) and ([\d.]+)\)", page="docs/training.md")
    for shown, name, digits in ((clipped, "lr0.005_clip-1.txt", 4), (plain, "lr0.001_clip-none.txt", None)):
        text = (RESULTS / "fig1b_targets" / name).read_text()
        medians = [float(m) for m in re.findall(r"^\s+-?[\d.]+\s+([\d.]+)\s", text, re.M)]
        assert len(medians) == 3, name
        for s, m in zip(shown, medians):
            # the page rounds the unclipped ones to two significant digits
            assert float(s) == (round(m, digits) if digits else float(f"{m:.2g}")), (name, s, m)


def test_relu_count_is_the_committed_one():
    ok, of = readme(r"with the authors' -0.1/N \(`--relu-mean-scale 1/N`\) (\d+) of (\d+) are flossed to 0",
                    page="docs/training.md")
    with open(RESULTS / "fig6_lstm_relu" / "relu_meanN_lr0.01" / "fig6_lstm_relu_summary.csv") as f:
        rows = [r for r in csv.DictReader(f) if r["cell"] == "relu"]
    assert len(rows) == int(of)
    assert sum(r["status"] == "ok" and abs(float(r["lambda1_after"])) <= 0.05 for r in rows) == int(ok)


def test_demo_seeds_are_the_committed_ones():
    shown = readme(r"For seeds 0-4, held-out accuracy without / with flossing is ([\d./, and]+?) "
                   r"\(`validation/paper/demo_seeds.py`\)")
    pairs = re.findall(r"([\d.]+)/([\d.]+)", shown)
    text = (RESULTS / "demo_seeds" / "demo_seeds.txt").read_text()
    assert text.startswith("floss_ref ")
    rows = re.findall(r"^\s+(\d)\s+([\d.]+)\s+([\d.]+)\s+(?:yes|NO)", text, re.M)
    assert [r[0] for r in rows] == ["0", "1", "2", "3", "4"]
    assert pairs == [(r[1], r[2]) for r in rows]


def test_clipping_counts_are_the_committed_ones():
    nets, target, plain, clip, clipped = readme(
        r"Without clipping, flossing (\d+) held-out networks towards lambda_1 = (-?[\d.]+) for 100 epochs left "
        r"(\d+) short of the target by more than 0.05; with clipping at ([\d.]+), (\d+)")
    with open(RESULTS / "fig1b_clipping" / "fig1b_clipping_summary_quick.csv") as f:
        rows = {(r["clip"], float(r["target"])): r for r in csv.DictReader(f)}
    assert (ROOT / "validation" / "results" / "fig1b_clipping" / "fig1b_clipping_quick.txt").read_text().startswith(
        "floss_ref ")
    for label, count in (("none", plain), (f"{float(clip):g}", clipped)):
        row = rows[(label, float(target))]
        assert (int(row["nets"]), int(row["failed"])) == (int(nets), int(count)), row


def test_speed_table_is_the_committed_benchmark_output():
    rows = dict(re.findall(r"\| ([^|]+?) \| ([^|]+?) \| `python validation/bench/bench_\w+\.py` \|", SPEED))
    flossing = "bench/bench_flossing.txt"
    for method in ("LAPACK", "Householder"):
        wall, cpu = evidence(flossing, rf"N=80 k=75 T=300 {method}: ([\d.]+) s wall, ([\d.]+) s CPU")
        key = next(k for k in rows if k.startswith("one flossing gradient") and method in k)
        assert rows[key] == f"{wall} s wall, {cpu} s CPU", (key, rows[key])
        ratio = evidence(flossing, rf"ensemble of 16 / one network \(N=32 k=32 T=300\), {method} QR: ([\d.]+)x")
        key = next(k for k in rows if k.startswith("ensemble of 16") and method in k)
        assert rows[key].startswith(f"{ratio}x"), (key, rows[key])
    epoch, epoch_cpu = evidence("bench/bench_training.txt",
                                r"one training epoch, N = 80, B = 16, T = 300: median ([\d.]+) ms .*?, CPU ([\d.]+) ms")
    key = next(k for k in rows if k.startswith("one training epoch"))
    assert rows[key].startswith(f"{epoch} ms wall, {epoch_cpu} ms CPU"), rows[key]
    lstm = evidence("bench/bench_lstm.txt", r"LSTM / vanilla: ([\d.]+)x wall")
    gru = evidence("bench/bench_lstm.txt", r"GRU / vanilla: ([\d.]+)x wall")
    key = next(k for k in rows if k.startswith("LSTM / GRU flossing gradient"))
    assert rows[key] == f"{lstm}x / {gru}x", rows[key]
    for name in ("bench_flossing", "bench_training", "bench_lstm"):
        load = evidence(f"bench/{name}.txt", r"^floss_ref .*, load average ([\d.]+)\n")
        assert f"`{name}.py`: load average {load}" in SPEED, name


def test_readme_speed_summary_is_the_committed_benchmark_output():
    """The README's one-paragraph summary of docs/speed.md quotes its first row."""
    wall = evidence("bench/bench_flossing.txt", r"N=80 k=75 T=300 LAPACK: ([\d.]+) s wall")
    assert readme(r"One flossing gradient at N = 80, k = 75, T = 300 takes ([\d.]+) s on one core") == wall


def test_precision_figures_are_the_committed_benchmark_output():
    page = "docs/precision.md"
    speedup = evidence("bench/bench_precision.txt", r"limb product vs mpmath\.matrix at m = 80: (\d+)x")
    assert readme(r"This is about (\d+)x faster than a plain `mpmath.matrix` product at N = m = 80", page) == speedup
    digits = float(evidence("bench/bench_precision.txt", r"min digits adjoint vs mp differences at T = 300: ([\d.]+)"))
    low, high = readme(r"Its central differences at T = 300 confirm `flossing_grad` to at least ([\d.]+) "
                       r"digits \(([\d.]+) at most", page)[:2]
    assert float(low) == digits
    text = (RESULTS / "bench" / "bench_precision.txt").read_text()
    section = text.split("\n4. gradient of the flossing loss")[1].split("\n\n")[0].splitlines()[2:]
    table = [line.split()[-2:] for line in section]  # digits of the adjoint, of the best float64 FD
    assert len(table) == 4
    assert max(float(d) for d, _ in table) == float(high)
    best64 = [float(b) for _, b in table]
    lo64, hi64 = readme(r"where the best float64 differences reach ([\d.]+) to ([\d.]+)\)", page)
    assert (min(best64), max(best64)) == (float(lo64), float(hi64))


def test_quick_set_time_is_the_committed_run():
    minutes, seconds = readme(r"`python validation/run_all.py --scale quick` .*? took (\d+) minutes \((\d+) s\)")
    total = evidence("run_all/run_all_quick.txt", r"all done in (\d+) s wall")
    assert seconds == total and int(minutes) == round(int(total) / 60)


def test_slow_suite_size_is_the_committed_run():
    count, minutes = readme(r"`tests/test_validation_scripts.py`\): (\d+) tests, (\d+) minutes on")
    passed, seconds = evidence("pytest_slow.txt", r"(\d+) passed, \d+ deselected.* in ([\d.]+)s")
    assert count == passed and int(minutes) == round(float(seconds) / 60)


@pytest.mark.parametrize("path", ["demo_seeds/demo_seeds.txt", "bench/bench_flossing.txt"])
def test_evidence_files_name_their_commit(path):
    first = (RESULTS / path).read_text().splitlines()[0]
    assert re.search(r"\(commit [0-9a-f]{7,}", first), first


def test_jax_comparison_table_is_the_committed_benchmark_output():
    """docs/speed.md's floss_ref-vs-JAX table: CPU times and ratios of both committed runs
    of validation/bench/bench_vs_jax.py, and the scaling and paper-scale figures."""
    labels = {"flossing gradient N = 80, k = 75, T = 300, t_ONS = 1": "s", "same, t_ONS = 5": "s",
              "N = 32, k = 32, T = 300, one network": "s", "ensemble of 16 such networks (JAX: vmap)": "s",
              "BPTT forward + reverse, N = 80, B = 16, T = 300, BCE": "ms",
              "whole training epoch (sampling, clip, Adam)": "ms",
              "LSTM flossing gradient N = 32 (state 64), k = 32, T = 300": "s"}
    for label, unit in labels.items():
        row = r"\s+([\d.]+)s\s+([\d.]+)s\s+([\d.]+)\s"
        ours, jax, ratio = evidence("bench/bench_vs_jax.txt", re.escape(label) + row)
        ratio2 = evidence("bench/bench_vs_jax_repeat.txt", re.escape(label) + row)[2]
        if unit == "ms":
            ours, jax = (f"{float(v) * 1e3:.1f} ms" for v in (ours, jax))
        else:
            ours, jax = (f"{float(v):.3f} s" for v in (ours, jax))
        assert f"| {label} | {ours} | {jax} | **{ratio}** / {ratio2} |" in SPEED, label
    scaling = (RESULTS / "bench" / "bench_vs_jax_scaling.txt").read_text()
    cell = r"\s+([\d.]+)\s+[\d.]+\s+[\d.]+\s+([\d.]+)%"
    table = {int(n): rest for n, *rest in re.findall(r"^\s+(\d+)\s+\d+\s+[\d.]+" + cell + cell, scaling, re.M)}
    assert sorted(table) == [32, 64, 128, 256, 512]
    sizes = (32, 64, 128, 256, 512)
    for label, column in (("fraction of DGEMM peak, lapack", 1), ("fraction of DGEMM peak, cholqr2", 3)):
        cells = readme(r"\| " + re.escape(label) + r" \|" + r"([^|]+)\|" * 5, "docs/speed.md")
        assert [v.strip(" %*") for v in cells] == [table[n][column] for n in sizes], label
    cpu = readme(r"\| CPU s, lapack \|" + r"([^|]+)\|" * 5, "docs/speed.md")
    assert [float(v) for v in cpu] == [float(f"{float(table[n][0]):.3g}") for n in sizes]
    first_run = re.findall(r"^\s+512\s+256\s+[\d.]+\s+[\d.]+\s+[\d.]+\s+[\d.]+\s+[\d.]+\s+([\d.]+)%",
                           (RESULTS / "bench" / "bench_vs_jax.txt").read_text(), re.M)
    assert f"(`bench_vs_jax.txt`) reached {first_run[0]} %" in SPEED
    prefloss, train = evidence("bench/bench_vs_jax_paper_run.txt",
                               r"preflossing \(with training epoch 0\) ([\d.]+) s wall.*?training epochs 1-9999 "
                               r"([\d.]+) s wall")
    assert f"**{prefloss} s** for 500 preflossing epochs" in SPEED
    assert f"**{train} s** for the 10^4 training epochs" in SPEED


def test_floor_table_is_the_committed_benchmark_output():
    """docs/speed.md's floor table: floss_ref / JAX and floor / JAX of both committed runs
    of validation/bench/bench_floor.py, and the fractions of DGEMM peak at N = 512."""
    runs = [(RESULTS / "bench" / name).read_text() for name in ("bench_floor.txt", "bench_floor_repeat.txt")]
    labels = ["flossing gradient N = 80, k = 75, T = 300, t_ONS = 1", "N = 32, k = 32, T = 300, one network",
              "ensemble of 16 such networks (JAX: vmap)", "BPTT forward + reverse, N = 80, B = 16, T = 300, BCE"]
    for label in labels:
        pattern = re.escape(label) + r"\s+[\d.]+s\s+[\d.]+s\s+[\d.]+s\s+([\d.]+) \[[\d.]+\]\s+([\d.]+) \["
        (o1, f1), (o2, f2) = (re.search(pattern, text).groups() for text in runs)
        assert f"| {label} | {o1} / {o2} | **{f1}** / {f2} |" in SPEED, label
    peaks = [re.search(r"of peak: floss_ref ([\d.]+)%, floor ([\d.]+)%", text).groups() for text in runs]
    assert (f"| N = 512, k = 256, T = 100: fraction of DGEMM peak | {peaks[0][0]} % / {peaks[1][0]} % | "
            f"**{peaks[0][1]} %** / {peaks[1][1]} % |") in SPEED


def test_safety_figures_are_the_committed_measurements():
    """docs/safety.md's fuzz counts (validation/reliability/fuzz_files.py --flips all) and
    its worker and connection times (validation/reliability/reliability_checks.py)."""
    trials, refused, identical, altered, tracebacks = evidence(
        "fuzz_files/fuzz_all.txt",
        r"all files: (\d+) trials: refused (\d+), identical (\d+), altered (\d+), traceback (\d+)")
    assert readme(r"gave (\d+) damaged copies: (\d+) refused, (\d+) identical to the original \(bytes the reader "
                  r"does not use\), (\d+) altered and (\d+) tracebacks", "docs/safety.md") == (
        trials, refused, identical, altered, tracebacks)
    tried, passed, failed = evidence("fuzz_files/fuzz_families.txt",
                                     r"families: (\d+) cases tried, (\d+) passed, (\d+) failed")
    assert readme(r"gave (\d+) cases: (\d+) refused or handled as documented, each within 20 s, and (\d+) failed",
                  "docs/safety.md") == (tried, passed, failed)
    text = (RESULTS / "reliability" / "reliability_checks.txt").read_text()
    assert text.startswith("floss_ref ")
    gone = {signal: max(float(t) for t in re.findall(rf"^{signal} of a 2-worker sweep's driver: workers .*? gone "
                                                      r"after ([\d.]+) s", text, re.M))
            for signal in ("SIGKILL", "SIGINT")}
    kill, interrupt = readme(r"all workers gone ([\d.]+) s after a SIGKILL of the driver, ([\d.]+) s after a SIGINT",
                             "docs/safety.md")
    assert (float(kill), float(interrupt)) == (gone["SIGKILL"], gone["SIGINT"])
    timeout, worst = readme(r"measured with `connect_timeout` = (\d+) s: refused after at most ([\d.]+) s",
                            "docs/safety.md")
    times = [float(t) for line in re.findall(rf"connect_timeout = {timeout} s: refused after ([\d., ]+) s", text)
             for t in line.split(", ")]
    assert len(times) == 12 and max(times) == float(worst)


# ---- commands and paths -------------------------------------------------------------

def test_every_path_the_pages_name_exists():
    """Every script, module and file a page names (validation/..., floss_ref/..., docs/...,
    tests/...) exists; results folders of the scripts are left to the scripts."""
    named = set()
    for page in PAGES:
        named |= set(re.findall(r"(?<![\w/.])((?:validation|floss_ref|docs|tests)/[\w/.-]*\w\.(?:py|md|txt))",
                                text_of(page)))
    assert len(named) > 20
    missing = sorted(p for p in named if not (ROOT / p).is_file())
    assert not missing, missing


def test_every_file_of_the_equation_table_exists():
    """The README's table "Where each equation lives": the first name of a row is a path under
    floss_ref/, the names after it live in the same folder."""
    table = re.search(r"## Where each equation lives\n(.*?)\n\n", (ROOT / "README.md").read_text(), re.S).group(1)
    rows = [line for line in table.splitlines()[2:] if line.startswith("| `")]
    assert len(rows) >= 15
    for row in rows:
        first, *others = re.findall(r"`([^`]+)`", row.split(" | ")[0])
        folder = (ROOT / "floss_ref" / first).parent if first.endswith(".py") else ROOT / "floss_ref" / first
        assert (ROOT / "floss_ref" / first).exists(), first
        for name in others:
            assert (folder / name).exists(), (first, name)
