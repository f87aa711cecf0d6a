"""Fixtures of the webhook tests: none of their own (each module's receiver harness is local
to it); the sandbox ``sb``, ``sandbox_client`` and the fakes are shared from the root conftest and
``tests/_helpers.py``."""
