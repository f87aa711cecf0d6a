"""Fixtures of the documentation and packaging tests: none of their own; the shared ones are in
the root conftest and ``tests/_helpers.py``."""
