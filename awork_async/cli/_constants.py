"""Defaults of the command line (values used by ``awork_async.cli`` only)."""

from __future__ import annotations

from typing import Final

#: The path of awork's v1 API below its host (the CLI hints at it after a 404).
API_PATH: Final = "/api/v1"
#: Program name shown in help and messages.
PROG_NAME: Final = "awork-async"
#: Environment variable naming the config file (the token and base URL ones are the library's).
ENV_CONFIG: Final = "AWORK_ASYNC_CONFIG"
#: Hidden test hook of ``awork-async mirror`` only: the process exits abruptly (``os._exit``)
#: once this many entries were stored. (The export's crash tests inject theirs from
#: ``tests/cli/crashing_cli.py``.)
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
