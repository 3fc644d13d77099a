"""Token bucket and jittered retries, on a fake clock (no real time passes)."""

from __future__ import annotations

import pytest

from providers.throttle import Backoff, Retrier, TokenBucket
from tests.doubles import FakeTime


class FlakyError(Exception):
    """A retryable failure."""


class FatalError(Exception):
    """A failure not worth retrying."""


def test_bucket_allows_its_burst_then_the_refill_rate() -> None:
    t = FakeTime(100.0)
    bucket = TokenBucket(rate=10.0, burst=50.0, clock=t.clock, sleep=t.sleep)
    for _ in range(50):
        assert bucket.acquire() == 0.0
    assert t.sleeps == []
    assert bucket.try_acquire() == pytest.approx(0.1)
    waited = sum(bucket.acquire() for _ in range(20))
    assert waited == pytest.approx(2.0)  # 20 more calls at 10/s
    assert t.now == pytest.approx(102.0)


def test_bucket_refills_up_to_its_burst_only() -> None:
    t = FakeTime(100.0)
    bucket = TokenBucket(rate=10.0, burst=5.0, clock=t.clock, sleep=t.sleep)
    for _ in range(5):
        bucket.acquire()
    t.now += 3600.0
    assert bucket.available == pytest.approx(5.0)


def test_bucket_rejects_nonsense_sizes() -> None:
    with pytest.raises(ValueError, match="rate"):
        TokenBucket(rate=0.0)
    with pytest.raises(ValueError, match="burst"):
        TokenBucket(burst=0.5)


def test_backoff_grows_exponentially_with_full_jitter_and_a_cap() -> None:
    backoff = Backoff(base=0.5, cap=4.0, max_attempts=5)
    assert [backoff.delay(n, 0.999999) for n in range(5)] == pytest.approx([0.5, 1, 2, 4, 4], 1e-4)
    assert backoff.delay(3, 0.0) == 0.0
    assert backoff.delay(2, 0.5) == pytest.approx(1.0)


def test_retrier_retries_until_success_taking_a_token_per_attempt() -> None:
    t = FakeTime(100.0)
    bucket = TokenBucket(rate=1.0, burst=2.0, clock=t.clock, sleep=t.sleep)
    retrier = Retrier(backoff=Backoff(base=1.0, cap=8.0), sleep=t.sleep, rand=lambda: 0.5)
    outcomes: list[Exception | str] = [FlakyError(), FlakyError(), "ok"]
    retries: list[tuple[int, float]] = []

    def call() -> str:
        outcome = outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    result = retrier.call(
        call,
        is_retryable=lambda e: isinstance(e, FlakyError),
        limiter=bucket,
        on_retry=lambda exc, attempt, delay: retries.append((attempt, delay)),
    )
    assert result == "ok"
    assert retries == [(0, 0.5), (1, 1.0)]
    # backoff waits 0.5 and 1.0; the third attempt also waits for a token (bucket of 2 at 1/s)
    assert t.sleeps[:2] == [0.5, 1.0]
    assert bucket.available < 1.0


def test_retrier_gives_up_after_max_attempts_with_the_last_error() -> None:
    t = FakeTime(100.0)
    retrier = Retrier(backoff=Backoff(max_attempts=3), sleep=t.sleep, rand=lambda: 0.0)
    attempts = []

    def call() -> None:
        attempts.append(1)
        raise FlakyError(len(attempts))

    with pytest.raises(FlakyError, match="3"):
        retrier.call(call, is_retryable=lambda e: isinstance(e, FlakyError))
    assert len(attempts) == 3
    assert len(t.sleeps) == 2


def test_retrier_does_not_retry_other_errors() -> None:
    t = FakeTime(100.0)
    retrier = Retrier(sleep=t.sleep)
    attempts = []

    def call() -> None:
        attempts.append(1)
        raise FatalError

    with pytest.raises(FatalError):
        retrier.call(call, is_retryable=lambda e: isinstance(e, FlakyError))
    assert attempts == [1]
    assert t.sleeps == []
