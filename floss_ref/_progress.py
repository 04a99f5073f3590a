"""Progress bars for long loops (tqdm on stderr), or nothing when disabled."""


def progress_bar(total, enabled, desc, unit):
    """A tqdm bar over ``total`` items, or None when ``enabled`` is false."""
    if not enabled:
        return None
    from tqdm import tqdm
    return tqdm(total=total, desc=desc, unit=unit, leave=False, mininterval=0.5)
