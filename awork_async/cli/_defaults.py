"""Defaults of the command line (kept beside it; the library's own live in ``_constants``)."""

from __future__ import annotations

from typing import Final

#: Program name shown in help and messages.
PROG_NAME: Final = "awork-async"
#: Environment variables read by the global options.
ENV_TOKEN: Final = "AWORK_TOKEN"
ENV_BASE_URL: Final = "AWORK_BASE_URL"
ENV_CONFIG: Final = "AWORK_ASYNC_CONFIG"
#: Hidden test hook: the export process exits abruptly (``os._exit``) once this many entries
#: were reported written, to test ``--resume`` after a crash.
ENV_CRASH_AFTER: Final = "AWORK_ASYNC_CRASH_AFTER"
#: Exit status of that simulated crash.
CRASH_EXIT_CODE: Final = 75
#: Config file below ``$XDG_CONFIG_HOME`` (default ``~/.config``).
CONFIG_DIR_NAME: Final = "awork-async"
CONFIG_FILE_NAME: Final = "config.toml"
#: Suffix appended to an export's output file to name its checkpoint.
CHECKPOINT_SUFFIX: Final = ".checkpoint"
#: Exit statuses.
EXIT_OK: Final = 0
EXIT_RUNTIME: Final = 1
EXIT_USAGE: Final = 2
EXIT_INTERRUPTED: Final = 130
#: ``demo``: entries generated and the default output name (``.jsonl`` / ``.csv`` appended).
DEMO_ENTRIES: Final = 5000
DEMO_SEED: Final = 1
DEMO_OUTPUT_STEM: Final = "awork-export-demo"
#: ``sandbox``: default port.
SANDBOX_PORT: Final = 8080
