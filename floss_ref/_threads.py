"""BLAS thread control.

The matrices here are small (N <= a few hundred): a multi-threaded BLAS spends more time
synchronising threads than multiplying, and on a shared machine it can be several times
slower than one thread.  The loops therefore run under ``limit_blas(1)`` by default
(``blas_threads=None`` leaves the BLAS configuration alone).
"""

import contextlib
import numbers

import numpy as np

_controller = None
MAX_THREADS = 2 ** 31 - 1  # BLAS libraries take the count as a C int


def limit_blas(threads):
    """Context manager limiting BLAS/OpenMP threads to ``threads`` (None: no change)."""
    global _controller
    if threads is None:
        return contextlib.nullcontext()
    if isinstance(threads, (bool, np.bool_)) or not isinstance(threads, numbers.Integral) or \
            not 1 <= threads <= MAX_THREADS:
        raise ValueError(f"blas_threads must be a positive integer (at most {MAX_THREADS}) or None, got {threads!r}")
    threads = int(threads)
    if _controller is None:
        from threadpoolctl import ThreadpoolController
        _controller = ThreadpoolController()
    return _controller.limit(limits=threads)
