"""A circuit breaker for the bank's transfer API (pure: the caller passes the time).

Why: when the bank is down, each direct call would wait for its timeout
before the transfer is queued, so every user would wait seconds for a 202
and the wallet would pile up connections. After ``failure_threshold``
consecutive failures the breaker *opens*: calls are not even tried, the
transfer is queued at once (the bank's stream consumer will execute it when
it is back). After ``reset_after`` seconds it lets exactly one trial call
through (*half-open*); its success closes the breaker, its failure opens it
for another ``reset_after``. A trial that never reports back (its task was
cancelled) is given up after ``reset_after`` too, so the breaker cannot
stick half-open.

The breaker decides only whether to *try* the direct path; correctness never
depends on it, because a queued request and a direct call run the same
idempotent function at the bank.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

State = Literal["closed", "open", "half_open"]
STATES: Final[tuple[State, ...]] = ("closed", "open", "half_open")


@dataclass
class Breaker:
    failure_threshold: int = 5
    reset_after: float = 5.0
    state: State = "closed"
    failures: int = 0
    #: When the breaker last opened, or when the half-open trial started.
    since: float = 0.0

    def allow(self, now: float) -> bool:
        """Whether to try the bank now (True starts the trial when half-open)."""
        if self.state == "closed":
            return True
        if now - self.since < self.reset_after:
            return False
        # Open long enough, or a half-open trial that never reported: try once.
        self.state, self.since = "half_open", now
        return True

    def succeeded(self) -> None:
        self.state, self.failures = "closed", 0

    def failed(self, now: float) -> None:
        self.failures += 1
        if self.state == "half_open" or self.failures >= self.failure_threshold:
            self.state, self.since = "open", now

    @property
    def available(self) -> bool:
        """What the availability gauge shows: only a closed breaker trusts the bank."""
        return self.state == "closed"
