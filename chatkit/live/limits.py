"""Rate limits: how often one session (or one not-yet-signed-in connection) may ask.

One person flooding a shared server must not slow everyone else down, so every
request is charged to a token bucket: ``burst`` requests at once, refilled at
``rate`` a second. A refused request is answered with `RateLimited` and says how
long to wait; nothing is queued on the server's side.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

from chatkit.live.errors import RateLimited


class TokenBucket:
    """``burst`` tokens, refilled at ``rate`` a second; a rate of 0 never refuses."""

    __slots__ = ("_clock", "_stamp", "_tokens", "burst", "rate")

    def __init__(
        self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._tokens = float(burst)
        self._stamp = clock()

    def charge(self) -> None:
        """Take one token, or raise `RateLimited` saying how long until one is back."""
        if self.rate <= 0:
            return
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now
        if self._tokens >= 1:
            self._tokens -= 1
            return
        wait = (1 - self._tokens) / self.rate
        raise RateLimited(
            f"slow down: at most {self.rate:g} requests a second (try again in {wait:.1f} s)"
        )


class BucketsByKey:
    """A bucket per key (a client address, say), bounded: the oldest keys are forgotten.

    Forgetting a key only refills its bucket, so the bound costs a flooder nothing
    it could use: a fresh bucket holds ``burst`` tokens, as the first one did.
    """

    def __init__(self, rate: float, burst: int, max_keys: int) -> None:
        self.rate = rate
        self.burst = burst
        self.max_keys = max_keys
        self._buckets: OrderedDict[str, TokenBucket] = OrderedDict()

    def charge(self, key: str) -> None:
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = TokenBucket(self.rate, self.burst)
            if len(self._buckets) > self.max_keys:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(key)
        bucket.charge()

    def forget(self, key: str) -> None:
        self._buckets.pop(key, None)
