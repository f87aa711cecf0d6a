"""Every default of the library, in one place.

Numbers come from ``../shared/awork/API-NOTES.md`` (sections named next to each value).
"""

from __future__ import annotations

from typing import Final

#: Base URL of the v1 API (notes §1.1).
DEFAULT_BASE_URL: Final = "https://api.awork.com/api/v1"
#: The path of awork's v1 API below its host (the CLI hints at it after a 404).
API_PATH: Final = "/api/v1"

#: Hosts for which plain ``http://`` is accepted (local sandboxes and test servers).
LOOPBACK_HOSTS: Final = frozenset({"127.0.0.1", "::1", "[::1]", "localhost"})

#: Page size sent on every list call. The spec's default (10) and the docs' (1000) disagree
#: (notes §2, D3), so the client always sends one explicitly.
DEFAULT_PAGE_SIZE: Final = 1000
MIN_PAGE_SIZE: Final = 1
MAX_PAGE_SIZE: Final = 1000

#: Pagination response headers (notes §2).
HEADER_PAGE: Final = "aw-page"
HEADER_PAGE_SIZE: Final = "aw-pagesize"
HEADER_ITEMS: Final = "aw-items"
HEADER_TOTAL_ITEMS: Final = "aw-totalitems"

#: Timeouts in seconds (aiohttp#11740: ``sock_read`` must be set or a read can hang forever).
DEFAULT_CONNECT_TIMEOUT: Final = 10.0
DEFAULT_READ_TIMEOUT: Final = 60.0
#: Deadline of one logical call across all of its retries.
DEFAULT_TOTAL_TIMEOUT: Final = 300.0
#: Bound on reading one answer's whole body, per attempt: ``read`` only bounds the gap between
#: two reads, so a server trickling a byte at a time would never trip it.
DEFAULT_BODY_TIMEOUT: Final = 120.0

#: Largest decoded (decompressed) response body the client reads, in bytes. awork's largest
#: answer, a page of 1000 time entries with nested objects, is a few MiB; 64 MiB leaves a wide
#: margin while a gzip bomb or an endless chunked body is cut off long before it hurts.
DEFAULT_MAX_RESPONSE_BYTES: Final = 64 * 1024 * 1024

#: Rate limits per workspace (notes §4): 50 requests/second, 1000/minute (3000 on Enterprise).
DEFAULT_RATE_PER_SECOND: Final = 50
DEFAULT_RATE_PER_MINUTE: Final = 1000
ENTERPRISE_RATE_PER_MINUTE: Final = 3000
#: Length in seconds of the two server windows (notes §4).
RATE_SECOND_WINDOW: Final = 1.0
RATE_MINUTE_WINDOW: Final = 60.0
#: Seconds added to each client-side window, absorbing network jitter between the client's clock
#: and the server's fixed windows (costs about 2 % of the per-second rate).
DEFAULT_RATE_WINDOW_MARGIN: Final = 0.02
#: When a response reports this many requests (or fewer) left in a window, the limiter holds
#: every request until that window resets instead of running into a 429 (notes §4).
DEFAULT_RATE_RESERVE: Final = 1
#: Longest wait a rate-limit header (``Retry-After``, ``RateLimit-Reset``) may plausibly ask
#: for, in seconds: awork's longest window is one minute (notes §4); the margin covers clock
#: skew and the "other limits [that] can apply temporarily". A larger (or negative, NaN, inf)
#: value is noise from a broken or hostile server and is ignored, never obeyed.
MAX_PLAUSIBLE_RATE_LIMIT_WAIT: Final = RATE_MINUTE_WINDOW + 30.0
#: Pause of every request after a 429 that names neither Retry-After nor RateLimit-Reset.
DEFAULT_RATE_LIMIT_PAUSE: Final = 1.0
#: Key prefix shared by all processes of one workspace in the Redis rate limiter.
DEFAULT_REDIS_RATE_KEY: Final = "awork:ratelimit"

#: Rate limit response headers (notes §4); compared case-insensitively.
HEADER_RATELIMIT_LIMIT: Final = "ratelimit-limit"
HEADER_RATELIMIT_REMAINING: Final = "ratelimit-remaining"
HEADER_RATELIMIT_RESET: Final = "ratelimit-reset"
HEADER_RATELIMIT_LIMIT_SECOND: Final = "x-ratelimit-limit-second"
HEADER_RATELIMIT_REMAINING_SECOND: Final = "x-ratelimit-remaining-second"
HEADER_RATELIMIT_LIMIT_MINUTE: Final = "x-ratelimit-limit-minute"
HEADER_RATELIMIT_REMAINING_MINUTE: Final = "x-ratelimit-remaining-minute"
HEADER_RETRY_AFTER: Final = "retry-after"

#: Retry policy defaults.
DEFAULT_MAX_ATTEMPTS: Final = 5
DEFAULT_BACKOFF_INITIAL: Final = 0.5
DEFAULT_BACKOFF_MAX: Final = 30.0
#: Longest server-requested wait (Retry-After / RateLimit-Reset) the client sleeps through;
#: beyond it the typed rate-limit error is raised instead.
DEFAULT_MAX_RETRY_WAIT: Final = 120.0

#: Pages an ordered (offset-paged) export requests concurrently ahead of the writer.
DEFAULT_ORDERED_PREFETCH: Final = 4
#: Partitions of a consistent walk (export, sync) walked at once: requests in flight.
DEFAULT_CONCURRENCY: Final = 8

#: Ids sent per request by the batch helpers; larger lists are split and the results merged.
DEFAULT_BATCH_CHUNK_SIZE: Final = 500

#: Name of the library's logger.
LOGGER_NAME: Final = "awork_async"

#: Fraction of a backoff wait removed at random (the wait lies in ``[base * (1 - j), base]``).
DEFAULT_RETRY_JITTER: Final = 0.25

#: OAuth token endpoint (notes §1.3: the ``/api/v1`` form, confirmed against the live API).
DEFAULT_TOKEN_URL: Final = "https://api.awork.com/api/v1/accounts/token"
#: Seconds before an OAuth access token's expiry at which it is refreshed proactively.
DEFAULT_TOKEN_REFRESH_MARGIN: Final = 60.0
#: Deadline of one token-refresh request, in seconds.
DEFAULT_TOKEN_REFRESH_TIMEOUT: Final = 30.0

# --- Local sandbox server (awork_async.sandbox) ------------------------------------------------
#: Interface the sandbox binds to by default (loopback only).
SANDBOX_HOST: Final = "127.0.0.1"
#: Time entries generated by default, and the seed of the generator.
SANDBOX_ENTRIES: Final = 1000
SANDBOX_SEED: Final = 1
#: Sorted orders the sandbox keeps (one per list and distinct ``orderby``; LRU).
SANDBOX_ORDER_CACHE_SIZE: Final = 4
#: Filtered results the sandbox keeps (per list, filter without the key range, ``orderby``).
SANDBOX_RESULT_CACHE_SIZE: Final = 8
#: Sizes of the rest of the generated workspace.
SANDBOX_USERS: Final = 25
SANDBOX_PROJECTS: Final = 40
SANDBOX_TASKS: Final = 400
SANDBOX_TYPES_OF_WORK: Final = 10
SANDBOX_TIME_BOOKINGS: Final = 200
#: Generated entries cover this many days up to the anchor date (default: today, UTC).
SANDBOX_DAYS: Final = 365
#: A fixed anchor date for reproducible data across days (tests, benchmarks).
SANDBOX_ANCHOR_DATE: Final = "2025-06-30"
#: Page size the sandbox uses when a request sends none: the spec's default (notes §2, D3).
SANDBOX_DEFAULT_PAGE_SIZE: Final = 10
#: Default delay of the "slow response" fault, and Retry-After of injected 429s (seconds).
SANDBOX_SLOW_DELAY: Final = 2.0
SANDBOX_RETRY_AFTER: Final = 1
#: Data size used by the pytest fixture ``awork_sandbox``.
SANDBOX_FIXTURE_ENTRIES: Final = 200

#: Statuses retried with backoff (idempotent methods only); 429 is handled on its own and
#: retried for every method.
DEFAULT_RETRY_STATUSES: Final = frozenset({408, 500, 502, 503, 504})

# --- Consistent export and incremental sync (awork_async.export, awork_async.sync) -------------
#: Stable order of the export's keyset windows (notes §2: ``createdOn,id``, no spaces).
EXPORT_KEY_FIELD: Final = "createdOn"
#: Entries written between two checkpoints of ``export_time_entries``.
DEFAULT_EXPORT_CHECKPOINT_EVERY: Final = 1000
#: Sort key of the incremental sync's windows.
SYNC_KEY_FIELD: Final = "updatedOn"
#: Seconds before the sync watermark that each run reads again (clock skew, late commits).
DEFAULT_SYNC_OVERLAP_SECONDS: Final = 300.0

# -- command line (awork_async.cli) ------------------------------------------------------------
#: Program name shown in help and messages.
PROG_NAME: Final = "awork-async"
#: Environment variables read by the global options.
ENV_TOKEN: Final = "AWORK_TOKEN"
ENV_BASE_URL: Final = "AWORK_BASE_URL"
ENV_CONFIG: Final = "AWORK_ASYNC_CONFIG"
#: Hidden test hook of ``awork-async mirror`` only: the process exits abruptly (``os._exit``)
#: once this many entries were stored. (The export's crash tests inject theirs from
#: ``tests/crashing_cli.py``.)
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

# -- webhooks (awork_async.webhooks, the sandbox's delivery) -----------------------------------
#: awork's time-tracking webhook events (notes §8.1).
WEBHOOK_TIME_EVENTS: Final = (
    "timetracking_added",
    "timetracking_updated",
    "timetracking_deleted",
    "timetracking_type_changed",
)
#: Events a receiver may hold before it answers 503 (awork then retries later).
WEBHOOK_QUEUE_SIZE: Final = 1000
#: Delivery keys a receiver remembers to drop redeliveries (least recently seen forgotten first).
WEBHOOK_DEDUP_SIZE: Final = 10_000
#: Largest delivery body a receiver reads (bytes); larger ones get 413.
WEBHOOK_MAX_BODY: Final = 1024 * 1024
#: Failed deliveries awork retries before it pauses a webhook (notes §8.5).
WEBHOOK_MAX_FAILURES: Final = 10
#: Seconds awork waits for the receiver's 2xx (notes §8.5).
WEBHOOK_DELIVERY_TIMEOUT: Final = 30.0
#: The sandbox's retry backoff: ``base * 2**attempt`` seconds, at most ``max`` (before jitter).
SANDBOX_WEBHOOK_BACKOFF_BASE: Final = 1.0
SANDBOX_WEBHOOK_BACKOFF_MAX: Final = 60.0
