"""Run greenai CLI cases in this one process, each under a time limit, memory bounded.

    python tests/hostile/runner.py CASES.json RESULTS.json [--memory-mb N] [--timeout-s S]

CASES.json is a list of [case id, argv]. Each case calls ``greenai.cli.main(argv)`` with
stdout and stderr captured; SIGALRM ends a case that runs past the time limit (a hang);
RLIMIT_AS bounds the whole process (a case that allocates past it gets MemoryError, which
counts as a failure). RESULTS.json: per case rc, stdout, stderr, seconds, escaped (the
repr of anything that escaped main(): it must catch everything), and the peak RSS so far.
Running hundreds of cases in one interpreter keeps the corpus test to a minute or two; a
sample also runs as separate ``python -m greenai`` processes (test_hostile.py).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import resource
import signal
import sys
import time
import traceback
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))


class Hang(BaseException):
    """Raised by SIGALRM in a case that runs past its time limit."""


def _alarm(signum: int, frame: object) -> None:
    raise Hang()


def main() -> int:
    cases_path, results_path = sys.argv[1], sys.argv[2]
    argv = sys.argv
    memory_mb = int(argv[argv.index("--memory-mb") + 1]) if "--memory-mb" in argv else 0
    timeout_s = float(argv[argv.index("--timeout-s") + 1]) if "--timeout-s" in argv else 10.0
    # import what the commands import lazily first, so the first case is not charged for it
    import greenai.report.html  # noqa: F401
    import greenai.scoring  # noqa: F401
    from greenai import cli

    if memory_mb:
        resource.setrlimit(resource.RLIMIT_AS, (memory_mb << 20, memory_mb << 20))
    signal.signal(signal.SIGALRM, _alarm)
    results = []
    for case_id, args in json.loads(Path(cases_path).read_text()):
        out, err = io.StringIO(), io.StringIO()
        escaped = None
        rc = None
        began = time.perf_counter()
        signal.setitimer(signal.ITIMER_REAL, timeout_s)
        try:
            with (
                contextlib.redirect_stdout(out),
                contextlib.redirect_stderr(err),
                warnings.catch_warnings(),
            ):
                warnings.simplefilter("default")
                rc = cli.main(args)
        except SystemExit as exc:  # argparse
            rc = exc.code if isinstance(exc.code, int) else 2
        except Hang:
            escaped = "hang"
        except BaseException as exc:  # noqa: BLE001 - recorded: main() must not let it out
            escaped = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        results.append(
            {
                "id": case_id,
                "rc": rc,
                "stdout": out.getvalue()[:4000],
                "stderr": err.getvalue()[:4000],
                "seconds": time.perf_counter() - began,
                "escaped": escaped,
                "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            }
        )
    Path(results_path).write_text(json.dumps(results))
    os._exit(0)  # threads a case left (a sampler) must not hold the runner open


if __name__ == "__main__":
    sys.exit(main())
