"""Running the command line in this process, for the tests of floss_ref.cli: exit code and
printed text of ``python -m floss_ref ...`` without a subprocess."""

import io
from contextlib import redirect_stderr, redirect_stdout

from floss_ref.cli import main


def run_main(argv):
    """(exit code, stdout, stderr) of ``python -m floss_ref *argv`` run in this process; an
    exception escaping main (a traceback) fails the test."""
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as exc:
            code = exc.code
    return code, out.getvalue(), err.getvalue()
