"""Input checks shared by the public functions.

Every check raises ``TypeError`` (wrong kind of object) or ``ValueError`` (right kind,
wrong value) with a message that names the argument, says what was wrong and what would
be accepted.  Nothing is clipped or coerced silently: integer arrays are accepted and
converted to float64 (an exact conversion for the sizes used here), anything else that
is not real floating point is refused.
"""

import functools
import numbers
import os

import numpy as np

MAX_GAIN = 1e100
MEMORY_FRACTION = 0.5  # the most of the machine's memory one request may plan to use


def renamed_keywords(**renamed):
    """Decorator: refuse a keyword argument given under another name, with a TypeError that
    names the argument to use.  ``@renamed_keywords(other="name")`` makes
    ``f(..., other=25)`` raise
    ``TypeError: f() has no argument 'other': it is called 'name' (e.g. name=25)``.
    On a class's ``__init__`` the message names the class: ``C() has no argument ...``."""
    def decorate(fn):
        caller = fn.__qualname__.removesuffix(".__init__")

        @functools.wraps(fn)
        def refusing_old_names(*args, **kwargs):
            for old, new in renamed.items():
                if old in kwargs:
                    raise TypeError(f"{caller}() has no argument {old!r}: it is called {new!r} "
                                    f"(e.g. {new}={kwargs[old]!r})")
            return fn(*args, **kwargs)
        return refusing_old_names
    return decorate


def memory_budget():
    """Bytes one computation may plan to allocate: MEMORY_FRACTION of the machine's
    physical memory, or of the cgroup (container) limit if that is smaller."""
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    try:
        with open("/sys/fs/cgroup/memory.max") as f:
            text = f.read().strip()
        if text.isdigit():
            total = min(total, int(text))
    except OSError:
        pass
    return int(MEMORY_FRACTION * total)


def network_size(N, n_in, ensemble):
    """The request of a network's memory check, in the words of its arguments:
    "N = 1000 with n_in = 3", plus "and ensemble = (10,)" for an ensemble."""
    return f"N = {N} with n_in = {n_in}" + (f" and ensemble = {tuple(ensemble)}" if ensemble else "")


def memory(what, nbytes, hint):
    """Refuse (ValueError) a request whose arrays would need more than :func:`memory_budget`.

    what : str, the request ("N = 30000", "epochs = 1e14", ...); nbytes : estimate;
    hint : what to change.
    """
    budget = memory_budget()
    if nbytes > budget:
        raise ValueError(f"{what} would need about {nbytes / 2 ** 30:.3g} GiB of memory, more than the "
                         f"{budget / 2 ** 30:.3g} GiB allowed (half of this machine's); {hint}")


def float_array(name, value, *, min_ndim=0, tail=None, finite=True, copy=False):
    """Return ``value`` as a float64 ndarray after checking kind, shape and finiteness.

    Parameters
    ----------
    name : str
        Argument name used in error messages.
    value : array_like
        The argument.
    min_ndim : int
        Minimum number of dimensions.
    tail : tuple of (int or None or str), optional
        Required trailing shape; ``None`` entries match any length.  A string entry is
        a symbol name (``"N"``) used only in messages and matches any length.
    finite : bool
        Refuse NaN and infinities.
    copy : bool
        Return a fresh, writable array even when ``value`` already is a float64 array
        (objects that update their arrays in place must not alias the caller's).
    """
    if isinstance(value, (str, bytes)) or value is None:
        raise TypeError(f"{name} must be a real array of numbers, got {type(value).__name__}")
    arr = _as_array(name, value)
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.floating)
                                   or np.issubdtype(arr.dtype, np.integer)):
        raise TypeError(f"{name} must be a real floating-point array, got dtype {arr.dtype}")
    arr = arr.astype(np.float64, copy=copy)
    if arr.ndim < min_ndim:
        raise ValueError(f"{name} must have at least {min_ndim} dimension(s), got shape {arr.shape}")
    if tail is not None:
        if arr.ndim < len(tail):
            raise ValueError(f"{name} must have trailing shape {_fmt_tail(tail)}, got shape {arr.shape}")
        for want, got in zip(tail, arr.shape[arr.ndim - len(tail):]):
            if isinstance(want, numbers.Integral) and want != got:
                raise ValueError(f"{name} must have trailing shape {_fmt_tail(tail)}, got shape {arr.shape}")
    if finite and not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or infinite values; all entries must be finite")
    return arr


def returned_array(who, value, shape, *, what=None, shape_name=None, refuse=(str, bytes)):
    """The return value of a user's function as an array, refused unless it is a real array
    of ``shape``: a tangent that drops a column would otherwise give plausible wrong numbers.

    who : the function, as the message names it (``"FunctionMap: tangent(h, x, Q)"``)
    what : what it returns (``"D_s Q"``), or None
    shape_name : how the message names the expected shape (``"Q.shape"``), or None
    refuse : types refused outright (TypeError), besides None
    """
    expected = f"{shape_name} = {tuple(shape)}" if shape_name else f"{tuple(shape)}"
    returns = f"{what} as " if what else ""
    if value is None or isinstance(value, refuse):
        raise TypeError(f"{who} must return {returns}a real array of shape {expected}, got {type(value).__name__}")
    try:
        arr = np.asarray(value)
    except ValueError:
        raise ValueError(f"{who} must return {returns}an array of shape {expected}; got a ragged nested sequence "
                         "(rows of different lengths)") from None
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)):
        raise TypeError(f"{who} must return {returns}a real floating-point array of shape {expected}, got "
                        f"dtype {arr.dtype}")
    if arr.shape != tuple(shape):
        raise ValueError(f"{who} returned {what + ' of ' if what else ''}shape {arr.shape}, expected {expected}")
    return arr


def _as_array(name, value):
    """np.asarray(value), refusing a ragged nested sequence (rows of different lengths) by name."""
    try:
        return np.asarray(value)
    except ValueError:
        raise ValueError(f"{name} must be an array of numbers of one shape; got a ragged nested sequence "
                         "(rows of different lengths)") from None


def _fmt_tail(tail):
    return "(..., " + ", ".join("?" if t is None else str(t) for t in tail) + ")"


def integer(name, value, *, minimum=None, maximum=None):
    """Return ``value`` as an int after checking it is an integer within bounds."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    value = int(value)
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} must be <= {maximum}, got {value}")
    return value


def real(name, value, *, minimum=None, maximum=None, strict_min=False):
    """Return ``value`` as a finite float after checking bounds."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    value = float(value)
    if not np.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    if minimum is not None:
        if strict_min and value <= minimum:
            raise ValueError(f"{name} must be > {minimum}, got {value}")
        if not strict_min and value < minimum:
            raise ValueError(f"{name} must be >= {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} must be <= {maximum}, got {value}")
    return value


def flag(name, value):
    """Return ``value`` as a bool after checking it is one (Python's or NumPy's): a string, a
    number or an array is refused, not read as true or false."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {type(value).__name__} {value!r}")
    return bool(value)


def shape(name, value, *, minimum=0):
    """Return ``value`` as a tuple of ints after checking it is a tuple or list of integers
    >= ``minimum`` (NumPy integers included)."""
    if not isinstance(value, (tuple, list)):
        raise TypeError(f"{name} must be a tuple of integers (e.g. () or (16,)), got {type(value).__name__} "
                        f"{value!r}")
    for entry in value:
        if isinstance(entry, (bool, np.bool_)) or not isinstance(entry, numbers.Integral) or entry < minimum:
            raise ValueError(f"{name} must be a tuple of integers >= {minimum} (e.g. () or (16,)), got {value!r}")
    return tuple(int(entry) for entry in value)


def choice(name, value, options):
    """Return ``value`` after checking it is one of ``options`` (strings).  Anything but a string
    is refused with a TypeError (an array holding a name would otherwise compare element-wise)."""
    if not isinstance(value, str):
        raise TypeError(f"{name} must be one of {', '.join(repr(o) for o in options)} (a string); "
                        f"got {type(value).__name__} {value!r}")
    if value not in options:
        raise ValueError(f"{name} must be one of {', '.join(repr(o) for o in options)}; got {value!r}")
    return value


def rng(seed_or_rng):
    """A ``numpy.random.Generator`` from a seed, an existing Generator or None."""
    if isinstance(seed_or_rng, np.random.Generator):
        return seed_or_rng
    if seed_or_rng is None or (isinstance(seed_or_rng, numbers.Integral) and not isinstance(seed_or_rng, bool)):
        if seed_or_rng is not None and seed_or_rng < 0:
            raise ValueError(f"seed must be a non-negative integer, got {seed_or_rng}")
        return np.random.default_rng(seed_or_rng)
    raise TypeError(f"seed must be an integer, a numpy.random.Generator or None, got {type(seed_or_rng).__name__} "
                    f"{seed_or_rng!r:.40}")


def ensemble_axes(value):
    """Return the ensemble axes ``*nets`` as a tuple of Python ints after checking ``value`` is a
    tuple of positive integers (NumPy integers included)."""
    if not isinstance(value, tuple) or not all(isinstance(e, numbers.Integral) and not isinstance(e, (bool, np.bool_))
                                               and e >= 1 for e in value):
        raise ValueError(f"ensemble must be a tuple of positive ints (e.g. () or (16,)), got {value!r}")
    return tuple(int(e) for e in value)


def ensemble_gain(g, ensemble):
    """Broadcast the gain ``g`` (a scalar or one value per ensemble member, >= 0) to
    ``ensemble + (1, 1)``; ``ensemble`` as returned by :func:`ensemble_axes`."""
    g = float_array("g", g)
    if np.any(g < 0):
        raise ValueError("g must be >= 0")
    if np.any(g > MAX_GAIN):
        raise ValueError(f"g must be <= {MAX_GAIN:g} (a larger gain overflows the weights or the state "
                         f"at once), got {np.max(g):g}")
    try:
        return np.broadcast_to(g, ensemble)[..., None, None]
    except ValueError:
        raise ValueError(f"g must be a scalar or broadcast to ensemble {ensemble}, got shape {g.shape}") from None
