"""Progress bars for long loops (tqdm on stderr), or nothing when disabled."""


def progress_bar(total, enabled, desc, unit, *, initial=0, leave=False):
    """A tqdm bar over ``total`` items (starting at ``initial``), or None when ``enabled``
    is false."""
    if not enabled:
        return None
    from tqdm import tqdm
    return tqdm(total=total, initial=initial, desc=desc, unit=unit, leave=leave, mininterval=0.5)
