"""The library version, read by the packaging and sent in the User-Agent."""

__version__ = "0.1.0"
