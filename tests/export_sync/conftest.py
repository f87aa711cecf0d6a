"""Fixtures of the export, sync, partition and sweep tests: none of their own. Each module
configures the shared sandbox ``sb`` with ``pytest.mark.awork_sandbox(...)`` (and
``pytest.mark.sandbox_clock`` where writes are stamped by ``clock``) and talks to it through
``sandbox_client`` (root conftest)."""
