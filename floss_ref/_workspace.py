"""Scratch arrays reused between calls (the BPTT loops of :mod:`floss_ref.experiments.bptt` and the
cells' whole-sequence loops)."""

import numpy as np

class Workspace:
    """Scratch arrays kept from one call to the next, one per name.

    An epoch at N = 80, B = 16, T = 300 handles several (T, B, N) arrays of 3 MB each.
    Allocated afresh, arrays of that size typically come straight from the operating
    system (glibc's malloc maps them and returns them when freed), and the page faults
    of touching them again cost about as much as the epoch's arithmetic (measured: 18 ms
    instead of 9 ms per epoch).  A :class:`Run` keeps one Workspace, so its epochs
    allocate no large array.  Arrays taken from a workspace are overwritten by the next
    call that uses it: results and tapes built in it are valid until then.
    """

    def __init__(self):
        self._arrays = {}

    def empty(self, name, shape):
        """An uninitialised float64 array of ``shape`` kept under ``name``."""
        a = self._arrays.get(name)
        if a is None or a.shape != shape:
            a = self._arrays[name] = np.empty(shape)
        return a


def scratch(work, name, shape):
    """``work.empty(name, shape)``, or a new uninitialised array when ``work`` is None."""
    return np.empty(shape) if work is None else work.empty(name, shape)
