"""``python -m awork_async.sandbox --port 8080 --entries 100000``: serve a sandbox until Ctrl+C."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from .. import _constants as C
from ._config import FaultConfig, RateLimitConfig, WebhookDeliveryConfig
from .server import run_sandbox

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m awork_async.sandbox", description=__doc__)
    p.add_argument(
        "--host",
        default=C.SANDBOX_HOST,
        help="interface to bind (loopback by default; any other host prints a warning)",
    )
    p.add_argument("--port", type=int, default=8080)
    p.add_argument("--entries", type=int, default=C.SANDBOX_ENTRIES)
    p.add_argument("--seed", type=int, default=C.SANDBOX_SEED)
    p.add_argument("--token", default=None, help="bearer token to accept (random if omitted)")
    p.add_argument("--rate-limit", action="store_true", help="enforce awork's rate limits")
    p.add_argument("--per-second", type=int, default=C.DEFAULT_RATE_PER_SECOND)
    p.add_argument("--per-minute", type=int, default=C.DEFAULT_RATE_PER_MINUTE)
    p.add_argument("--latency", type=float, default=0.0, help="seconds added to every request")
    p.add_argument("--error-rate", type=float, default=0.0, help="share of injected 5xx")
    p.add_argument("--fault-seed", type=int, default=0)
    p.add_argument(
        "--webhooks",
        action="store_true",
        help="deliver webhooks registered through the API (loopback receivers only)",
    )
    return p


def main(argv: Sequence[str] | None = None) -> None:
    """Parse the arguments and run the sandbox (blocking)."""
    args = _parser().parse_args(argv)
    rate = RateLimitConfig(args.per_second, args.per_minute) if args.rate_limit else None
    faults = FaultConfig(seed=args.fault_seed, error_rate=args.error_rate, latency=args.latency)
    run_sandbox(
        args.host,
        args.port,
        args.entries,
        args.seed,
        token=args.token,
        rate_limit=rate,
        faults=faults,
        webhooks=WebhookDeliveryConfig(seed=args.fault_seed) if args.webhooks else None,
    )


if __name__ == "__main__":
    main()
