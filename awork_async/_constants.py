"""Every default of the library (the client, export, sync, webhooks), in one place.

The sandbox's own values are in ``awork_async.sandbox._constants``, the command line's in
``awork_async.cli._constants``.

Numbers come from ``../shared/awork/API-NOTES.md`` (sections named next to each value).
"""

from __future__ import annotations

from typing import Final

#: Base URL of the v1 API (notes §1.1).
DEFAULT_BASE_URL: Final = "https://api.awork.com/api/v1"

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
#: Seconds added to each client-side window. They absorb the time between the limiter admitting
#: a request and the server counting it, which varies: network jitter, and the client's own event
#: loop busy decoding a page (tens of ms for 1000 entries) between the admission and the send.
#: 0.02 s let 3-15 of ~600 requests per 40 s run into 429s at the rate ceiling on a loaded
#: 2-core machine (benchmarks/bench_walks.py); 0.1 s gave none. Cost: the per-second rate drops
#: to 50/1.1 (about 9 %, which binds only in bursts, or sustained on Enterprise's 3000/min) and
#: the per-minute rate by 0.2 %.
DEFAULT_RATE_WINDOW_MARGIN: Final = 0.1
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
#: Partitions of a consistent walk (export, sync) walked at once: requests in flight at most.
#: Little's law: awork's 1000 requests/min at about 1 s per 1000-entry page need ~17 requests in
#: flight if every lane were always busy; a lane also waits for its page's body and between a
#: partition's windows. Measured (bench_walks, 1.0 s per page, real): 20 lanes 0.81 of the
#: ceiling, 32 lanes 0.90, 48 lanes 0.90. Pages beyond MAX_MEMORY_PAGES wait on disk.
DEFAULT_CONCURRENCY: Final = 32
#: ``changes_since``'s default: a first sync decodes every entry into a model on the event loop
#: (about three times an export's client CPU per entry), so its answers are read later and its
#: round trips are longer (trace at 1.0 s per page: median 1.18 s against the export's 1.04 s);
#: Little's law then needs more requests in flight for the same rate. Measured (bench_walks,
#: 1.0 s per page, real): 32 lanes 0.88-0.90 of the ceiling, 48 lanes 0.96. The mirror keeps
#: DEFAULT_CONCURRENCY (it stores the JSON undecoded; its memory target is measured there).
DEFAULT_SYNC_CONCURRENCY: Final = 48
#: Pages of partitions ahead of the reader held in memory at most (the rest wait in a temporary
#: file): ``min(concurrency, MAX_MEMORY_PAGES)``, so pages read ahead cost disk, not RAM (the
#: answers' bodies being read are in memory too: at most MAX_BODY_READS at once).
MAX_MEMORY_PAGES: Final = 8
#: Answers' bodies a page engine's lanes read at once (the others wait after their headers, the
#: rest of the body left to the socket: TCP holds it back). Requests in flight cost no memory
#: while the server works on them; bodies do, from the first byte read to the page made of them.
#: Without a bound a walk of 32-48 lanes whose answers arrive together (a fast network, the
#: consumer behind) held most of them half-read at once: peak RSS 200k/20k entries (bench_export
#: --memory) 1.61x for the export and 2.09x for a decoded first sync; with 4, 1.26x and 1.38x.
#: A body takes milliseconds to read on a fast link, so 4 readers keep up with the rate ceiling
#: (about 17 pages/s); on a slow link the link, not the readers, bounds the rate. A waiting
#: body is not stopped at its first byte either: aiohttp buffers 128 KiB and the kernel's
#: receive buffer about as much, most of a gzip-compressed page. Measured with 8: 1.36x and
#: 1.57x; bench_walks at 1.0 s per page: first sync 0.96-0.97 of the ceiling with 4 and without.
MAX_BODY_READS: Final = 4

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

# -- environment -------------------------------------------------------------------------------
#: Environment variables the client and the command line read (the token, the base URL).
ENV_TOKEN: Final = "AWORK_TOKEN"
ENV_BASE_URL: Final = "AWORK_BASE_URL"

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
