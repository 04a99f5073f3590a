"""Figures of training runs (matplotlib, PNG), drawn from :attr:`floss_ref.runs.run.Run.history`.

Four panels, lettered and titled: A accuracy (binary tasks) or loss (continuous tasks)
per epoch, as a moving average whose window the axis states; B |dL/dh_0| (Eq. 18,
Fig. 8); C the first and the last recorded Lyapunov exponents; D the leading and two
subordinate singular values of dL/dW (App. D.1, Fig. 10).  Flossing episodes are marked
by dotted vertical lines in each run's colour; a caption under the panels says so.  matplotlib is imported only here, so the
rest of floss_ref works without it.
"""

import numpy as np

COLORS = ("tab:blue", "tab:green", "tab:orange", "tab:red", "tab:purple")
# legend entries of the protocols (floss_ref.runs.run.PROTOCOLS)
PROTOCOL_LABELS = {"none": "none: no flossing", "prefloss": "prefloss: flossing before training",
                   "during": "during: flossing episodes early in training",
                   "throughout": "throughout: flossing every P epochs"}


def _smooth(y, width):
    """Moving average over ``width`` epochs (NaN-free input), same length as y."""
    if width <= 1 or y.size < width:
        return y
    kernel = np.ones(width) / width
    head = np.cumsum(y[:width - 1]) / np.arange(1, width)  # shorter windows at the start
    return np.concatenate([head, np.convolve(y, kernel, mode="valid")])


def plot_history(histories, labels, path, title=""):
    """Draw one or more runs' histories into a PNG file.

    Parameters
    ----------
    histories : list of dict
        ``Run.history`` of each run (same task).
    labels : list of str
        Legend entry of each run.
    path : str or os.PathLike
        Output file (PNG).
    title : str
    """
    if len(histories) != len(labels):
        raise ValueError(f"got {len(histories)} histories but {len(labels)} labels")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(11, 9), layout="constrained")
    FigureCanvasAgg(fig)
    ax_perf, ax_h0, ax_lam, ax_sv = fig.subplots(2, 2).ravel()
    for i, (h, label) in enumerate(zip(histories, labels)):
        color = COLORS[i % len(COLORS)]
        done = np.isfinite(h["loss"])
        epochs = np.nonzero(done)[0]
        width = max(1, epochs.size // 100)
        binary = np.any(np.isfinite(h["accuracy"]))
        perf = h["accuracy"] if binary else h["loss"]
        ax_perf.plot(epochs, _smooth(perf[done], width), color=color, label=PROTOCOL_LABELS.get(label, label))
        ax_h0.plot(epochs, h["h0_grad_norm"][done], color=color, lw=0.6, label=label)
        diag = h["diag_epochs"][np.isfinite(h["exponents"][:, 0])]
        lam = h["exponents"][np.isfinite(h["exponents"][:, 0])]
        if lam.size:
            ax_lam.plot(diag, lam[:, 0], color=color, marker=".", label=f"{label}: $\\lambda_1$")
            ax_lam.plot(diag, lam[:, -1], color=color, ls="--", label=f"{label}: $\\lambda_{{{lam.shape[1]}}}$")
        sv = h["grad_W_sv"][np.isfinite(h["grad_W_sv"][:, 0])]
        if sv.size:
            n = sv.shape[1]
            for j, ls in zip(sorted({0, n // 4, n // 2}), ("-", "--", ":")):
                ax_sv.semilogy(diag, sv[:, j], color=color, ls=ls, label=f"{label}: $\\sigma_{{{j + 1}}}$")
        for ax in (ax_perf, ax_h0, ax_lam, ax_sv):
            for e in h["floss_epochs"]:
                ax.axvline(e, color=color, ls=":", lw=0.8, alpha=0.6)
    _label(fig, (ax_perf, ax_h0, ax_lam, ax_sv), binary, width, title)
    fig.savefig(path, dpi=110)


def _label(fig, axes, binary, width, title):
    """Titles, axis labels, legends and the caption of :func:`plot_history`'s panels."""
    ax_perf, ax_h0, ax_lam, ax_sv = axes
    ax_perf.plot([], [], color="grey", ls=":", lw=0.8, label="flossing episode")
    if binary:
        ax_perf.axhline(0.5, color="grey", lw=0.6, label="chance (0.5)")
        ax_perf.set_ylim(0.4, 1.02)
        ax_perf.set_ylabel(f"accuracy, moving average over {width} epochs")
        ax_perf.set_title("A  accuracy on each epoch's fresh batch", loc="left")
    else:
        ax_perf.set_yscale("log")
        ax_perf.set_ylabel(f"task loss, moving average over {width} epochs")
        ax_perf.set_title("A  task loss on each epoch's fresh batch", loc="left")
    ax_h0.set_yscale("log")
    ax_h0.set_ylabel(r"$|dL/dh_0|$")
    ax_h0.set_title(r"B  gradient w.r.t. the initial state, $|dL/dh_0|$ (Eq. 18)", loc="left")
    ax_lam.axhline(0.0, color="grey", lw=0.6)
    ax_lam.set_ylabel("Lyapunov exponent (per step)")
    ax_lam.set_title("C  first and last recorded Lyapunov exponents", loc="left")
    ax_sv.set_ylabel(r"singular value of $dL/dW$")
    ax_sv.set_title(r"D  leading and subordinate singular values of $dL/dW$", loc="left")
    for ax in (ax_perf, ax_h0, ax_lam, ax_sv):
        ax.set_xlabel("training epoch")
    for ax in (ax_perf, ax_h0, ax_lam, ax_sv):  # legends below the axes, where they cover no curve
        ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2, frameon=False)
    fig.supxlabel("Dotted vertical lines: flossing episodes, in each run's colour.  Grey lines: chance "
                  "accuracy 0.5 (A) and a zero exponent (C).  C and D are recorded every few epochs, on "
                  "that epoch's batch.", fontsize=8)
    if title:
        fig.suptitle(title)
