"""Rate limits: how often one account, or one address, may ask.

One person flooding a shared server must not slow everyone else down, so every
request is charged to a token bucket: ``burst`` requests at once, refilled at
``rate`` a second. A refused request is answered with `RateLimited` and says how
long to wait; nothing is queued on the server's side.

Budgets belong to *who* and *where*, never to a session or a connection, since
those cost nothing to make anew: requests are charged to the account, requests
not signed in (an unknown token too) to the client address, every password check
to the address, and every wrong password to the account it was tried on, from
whichever address. The address is the socket's peer unless the host named the
proxy in front (``--forwarded-allow-ips``), so a forged ``X-Forwarded-For`` buys
nothing.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

from chatkit.live.server.errors import RateLimited
from chatkit.live.server.settings import ServerSettings


class TokenBucket:
    """``burst`` tokens, refilled at ``rate`` a second; a rate of 0 never refuses."""

    __slots__ = ("_clock", "_stamp", "_tokens", "burst", "rate", "what")

    def __init__(
        self,
        rate: float,
        burst: int,
        clock: Callable[[], float] = time.monotonic,
        *,
        what: str = "requests",
    ) -> None:
        self.rate = rate
        self.burst = burst
        self.what = what
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
            f"slow down: at most {self.rate:g} {self.what} a second (try again in {wait:.1f} s)"
        )

    def refund(self) -> None:
        """Give back a token `charge` took: what was charged up front turned out free."""
        self._tokens = min(float(self.burst), self._tokens + 1)


class BucketsByKey:
    """A bucket per key (a client address, say), bounded: the oldest keys are forgotten.

    Forgetting a key only refills its bucket, so the bound costs a flooder nothing
    it could use: a fresh bucket holds ``burst`` tokens, as the first one did.
    """

    def __init__(self, rate: float, burst: int, max_keys: int, *, what: str = "requests") -> None:
        self.rate = rate
        self.burst = burst
        self.max_keys = max_keys
        self.what = what
        self._buckets: OrderedDict[str, TokenBucket] = OrderedDict()

    def charge(self, key: str) -> None:
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = TokenBucket(self.rate, self.burst, what=self.what)
            if len(self._buckets) > self.max_keys:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(key)
        bucket.charge()

    def refund(self, key: str) -> None:
        bucket = self._buckets.get(key)
        if bucket is not None:
            bucket.refund()


class Limits:
    """Every budget the server charges, each keyed by who or where (see the module)."""

    def __init__(
        self,
        *,
        rate: float = 0,
        burst: int = 1,
        login_rate: float = 0,
        login_burst: int = 1,
        guess_rate: float = 0,
        guess_burst: int = 1,
        invite_rate: float = 0,
        invite_burst: int = 1,
        max_checks: int = 1_000,
        max_keys: int = 10_000,
    ) -> None:
        self.max_checks = max_checks
        """Password checks waiting or running at once, over every address and account."""
        self.requests = BucketsByKey(rate, burst, max_keys)
        """Requests of a signed-in account, by user name: one budget for all its sessions."""
        self.strangers = BucketsByKey(rate, burst, max_keys)
        """Requests not signed in (an unknown or revoked token included), by address."""
        self.attempts = BucketsByKey(login_rate, login_burst, max_keys, what="sign-ins")
        """Password checks, by address: each costs a scrypt, so this keeps the CPU free."""
        self.guesses = BucketsByKey(
            guess_rate, guess_burst, max_keys, what="wrong passwords for one account"
        )
        """Wrong passwords, by the account name they were tried on, from any address."""
        self.guesses_at_home = BucketsByKey(
            guess_rate, guess_burst, max_keys, what="wrong passwords for one account"
        )
        """Wrong passwords tried on an account from an address it signed in from before: a
        budget of their own, so guesses from elsewhere cannot lock the owner out at home."""
        self._homes: OrderedDict[tuple[str, str], None] = OrderedDict()
        self._max_homes = max_keys
        self.invites = BucketsByKey(invite_rate, invite_burst, max_keys, what="invitations")
        """Invitations by name, by the account that sends them."""

    def guess_budget(self, user: str, address: str) -> tuple[BucketsByKey, str]:
        """Where a password attempt on ``user`` from ``address`` is charged, and its key."""
        if (user, address) in self._homes:
            return self.guesses_at_home, f"{user}\n{address}"
        return self.guesses, user

    def signed_in(self, user: str, address: str) -> None:
        """Remember that ``user`` signed in from ``address`` (the newest places, bounded)."""
        self._homes[(user, address)] = None
        self._homes.move_to_end((user, address))
        if len(self._homes) > self._max_homes:
            self._homes.popitem(last=False)

    @classmethod
    def from_settings(cls, settings: ServerSettings) -> Limits:
        """The server's budgets. ``--rate 0`` turns off the request limits only: the
        password limits stay, since they are what keeps guessing slow."""
        return cls(
            rate=settings.rate_per_s,
            burst=settings.rate_burst,
            login_rate=settings.login_rate_per_s,
            login_burst=settings.login_burst,
            guess_rate=settings.account_login_rate_per_s,
            guess_burst=settings.account_login_burst,
            invite_rate=settings.invite_rate_per_s,
            invite_burst=settings.invite_burst,
            max_checks=settings.max_password_checks,
            max_keys=settings.max_sessions,
        )
