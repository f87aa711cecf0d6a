"""``python tests/cli/crashing_cli.py N ARGS...``: the ``awork-async`` CLI, killed mid-export.

Runs ``awork-async ARGS...`` and ends the process abruptly (``os._exit``, no cleanup, no
flushing, like a power cut or ``kill -9``) as soon as an export has reported ``N`` entries
written. The crash is injected here, through the export's progress callback, so that the
package itself carries no crash switch. Used by the resume tests in ``test_cli_subprocess.py``.
"""

from __future__ import annotations

import os
import sys

#: Exit status of the simulated crash (EX_TEMPFAIL).
CRASH_EXIT_CODE = 75


def main() -> None:
    limit = int(sys.argv[1])
    from awork_async.cli import _progress
    from awork_async.cli import main as cli_main

    reported = _progress.ExportProgress.update

    def update(self: _progress.ExportProgress, done: int, total: int | None) -> None:
        reported(self, done, total)
        if done >= limit:
            os._exit(CRASH_EXIT_CODE)

    _progress.ExportProgress.update = update  # type: ignore[method-assign]
    cli_main(sys.argv[2:])


if __name__ == "__main__":
    main()
