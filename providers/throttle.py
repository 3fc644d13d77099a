"""Client-side rate limiting and retries for cloud APIs: a token bucket and jittered backoff.

Nothing here knows about boto3: the caller says which exceptions are worth retrying. Clock,
sleep and randomness are injected so tests run without real time.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

__all__ = ["Backoff", "Retrier", "TokenBucket"]

T = TypeVar("T")
_EPSILON = 1e-9


class TokenBucket:
    """A thread-safe token bucket: ``burst`` tokens at most, refilled at ``rate`` per second.

    Share one bucket between every caller of the same API in a process (Route53 allows about
    5 requests per second per account; AWS's SDK default client-side bucket is 10/s, 50 burst).
    """

    def __init__(
        self,
        *,
        rate: float = 10.0,
        burst: float = 50.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("a token bucket needs rate > 0 and burst >= 1")
        self.rate = rate
        """Tokens added per second."""
        self.burst = burst
        """Capacity: the most tokens the bucket holds."""
        self._clock = clock
        self._sleep = sleep
        self._tokens = burst
        self._stamp = clock()
        self._lock = threading.Lock()

    def _refill(self) -> None:
        now = self._clock()
        elapsed = max(0.0, now - self._stamp)
        self._tokens = min(self.burst, self._tokens + elapsed * self.rate)
        self._stamp = now

    def try_acquire(self, tokens: float = 1.0) -> float:
        """Take ``tokens`` if available and return 0.0; else take nothing and return the wait."""
        with self._lock:
            self._refill()
            # a hair of slack: a float refill can land just short of a whole token
            if self._tokens >= tokens - _EPSILON:
                self._tokens = max(0.0, self._tokens - tokens)
                return 0.0
            return (tokens - self._tokens) / self.rate

    def acquire(self, tokens: float = 1.0) -> float:
        """Block (through the injected sleep) until ``tokens`` are taken; return the time waited."""
        waited = 0.0
        while True:
            wait = self.try_acquire(tokens)
            if wait <= 0.0:
                return waited
            self._sleep(wait)
            waited += wait

    @property
    def available(self) -> float:
        """Tokens in the bucket right now."""
        with self._lock:
            self._refill()
            return self._tokens


@dataclass(frozen=True, slots=True)
class Backoff:
    """Exponential backoff with full jitter: attempt n waits uniform(0, min(cap, base * 2**n))."""

    base: float = 0.2
    """Ceiling of the first wait, in seconds."""
    cap: float = 20.0
    """Largest ceiling of any wait, in seconds."""
    max_attempts: int = 8
    """Attempts in all (the first call included) before giving up."""

    def delay(self, attempt: int, rand: float) -> float:
        """The wait after failed attempt ``attempt`` (0-based), given ``rand`` in [0, 1)."""
        return rand * min(self.cap, self.base * (2.0**attempt))


class Retrier:
    """Calls a function, taking a token from ``limiter`` before every attempt, and retries the
    exceptions ``is_retryable`` accepts with jittered backoff; the last one propagates."""

    def __init__(
        self,
        *,
        backoff: Backoff | None = None,
        sleep: Callable[[float], None] = time.sleep,
        rand: Callable[[], float] | None = None,
    ) -> None:
        self.backoff = backoff or Backoff()
        """The backoff schedule."""
        self._sleep = sleep
        self._rand = rand or random.SystemRandom().random

    def call(
        self,
        fn: Callable[[], T],
        *,
        is_retryable: Callable[[Exception], bool],
        limiter: TokenBucket | None = None,
        on_retry: Callable[[Exception, int, float], None] | None = None,
    ) -> T:
        """``fn()`` with retries; ``on_retry(exc, attempt, delay)`` is told before each wait."""
        attempt = 0
        while True:
            if limiter is not None:
                limiter.acquire()
            try:
                return fn()
            except Exception as exc:
                if not is_retryable(exc) or attempt + 1 >= self.backoff.max_attempts:
                    raise
                delay = self.backoff.delay(attempt, self._rand())
                if on_retry is not None:
                    on_retry(exc, attempt, delay)
                self._sleep(delay)
                attempt += 1
