"""Password hashing with real argon2id, and the login throttle on a hand-moved clock."""
from __future__ import annotations

import pytest

from voicebot.errors import LoginThrottledError, VoicebotError
from voicebot.security.passwords import LoginThrottle, PasswordHasher

# small parameters keep the tests quick; the defaults are tested once for their shape
FAST = dict(time_cost=1, memory_cost_kib=1024, parallelism=1)


def test_hash_is_argon2id_salted_and_verifies():
    hasher = PasswordHasher(**FAST)
    first, second = hasher.hash("correct horse"), hasher.hash("correct horse")
    assert first.startswith("$argon2id$") and "correct horse" not in first
    assert first != second  # a fresh salt each time
    assert hasher.verify(first, "correct horse") and hasher.verify(second, "correct horse")
    assert not hasher.verify(first, "correct horsE")
    assert not hasher.verify(first, "")


def test_default_parameters_are_rfc9106_low_memory():
    stored = PasswordHasher().hash("pw")
    assert "$m=65536,t=3,p=4$" in stored


@pytest.mark.parametrize("damaged", ["", "plain-text-password", "$argon2id$v=19$m=1024,t=1,p=1$broken",
                                     "$2b$12$abcdefghijklmnopqrstuv"])
def test_damaged_or_foreign_hash_is_a_mismatch_not_a_crash(damaged):
    hasher = PasswordHasher(**FAST)
    assert hasher.verify(damaged, "anything") is False
    assert hasher.needs_rehash(damaged) is True


def test_needs_rehash_when_parameters_grow():
    weak = PasswordHasher(**FAST).hash("pw")
    assert PasswordHasher(**FAST).needs_rehash(weak) is False
    stronger = PasswordHasher(time_cost=2, memory_cost_kib=2048, parallelism=1)
    assert stronger.needs_rehash(weak) is True
    assert stronger.verify(weak, "pw")  # old hashes still log in, then get rehashed


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_lockout_after_n_failures_then_expires():
    clock = Clock()
    throttle = LoginThrottle(max_failures=3, lockout_s=300, max_attempts=100, window_s=60, clock=clock)
    for _ in range(3):
        throttle.check("alice")
        throttle.record_failure("alice")
    with pytest.raises(LoginThrottledError) as info:
        throttle.check("alice")
    assert isinstance(info.value, VoicebotError)
    assert info.value.retry_after_s == pytest.approx(300)
    throttle.check("bob")  # other keys are not affected
    clock.now += 299
    assert throttle.retry_after("alice") == pytest.approx(1)
    with pytest.raises(LoginThrottledError):
        throttle.check("alice")
    clock.now += 1.5
    throttle.check("alice")  # lock expired
    throttle.record_failure("alice")
    throttle.check("alice")  # the failure count started again after the lockout


def test_success_resets_failures_and_old_failures_expire():
    clock = Clock()
    throttle = LoginThrottle(max_failures=3, lockout_s=100, max_attempts=100, clock=clock)
    throttle.record_failure("u"), throttle.record_failure("u")
    throttle.record_success("u")
    throttle.record_failure("u"), throttle.record_failure("u")
    throttle.check("u")  # 2 failures since the success: not locked
    clock.now += 101  # those two are now older than the lockout window
    throttle.record_failure("u")
    throttle.check("u")


def test_rate_limit_per_window_and_refused_attempts_do_not_extend_it():
    clock = Clock()
    throttle = LoginThrottle(max_failures=100, max_attempts=3, window_s=60, clock=clock)
    for step in range(3):
        throttle.check("10.0.0.1")
        clock.now += 1
    with pytest.raises(LoginThrottledError) as info:
        throttle.check("10.0.0.1")
    assert info.value.retry_after_s == pytest.approx(57)
    clock.now += 57
    throttle.check("10.0.0.1")


def test_any_locked_key_refuses_and_nothing_is_counted():
    clock = Clock()
    throttle = LoginThrottle(max_failures=1, lockout_s=60, max_attempts=2, window_s=60, clock=clock)
    throttle.record_failure("mallory")
    for _ in range(5):
        with pytest.raises(LoginThrottledError):
            throttle.check("mallory", "203.0.113.9")
    throttle.check("203.0.113.9")  # the refused attempts were not counted against the address
    throttle.check("203.0.113.9")


def test_memory_is_bounded_and_spraying_keys_does_not_flush_a_lockout():
    clock = Clock()
    throttle = LoginThrottle(max_failures=1, lockout_s=600, clock=clock, max_keys=50)
    throttle.record_failure("admin")
    for i in range(500):
        throttle.check(f"user{i}")
    assert len(throttle._keys) <= 50
    with pytest.raises(LoginThrottledError):
        throttle.check("admin")


def test_invalid_limits_are_refused():
    with pytest.raises(ValueError):
        LoginThrottle(max_failures=0)
