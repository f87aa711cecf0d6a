"""Fixtures of the client tests: none of their own. The mocked client (``mocked_client``), the
sandbox ``sb`` with its ``sandbox_client`` and Redis (``redis_url``, ``redis_client``) are in the
root conftest, shared with the other areas."""
