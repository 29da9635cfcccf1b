"""One pass over one Transfer: ask the wallet (and the bank), let ``domain`` decide.

The functions here do the I/O and return a ``Step``: the status fields to
write, the Events to post, and whether kopf should retry (TemporaryError)
or give up (PermanentError). They know nothing of kopf, so the handlers stay
a few lines each and the rules for money stay in one place:

- The wallet transfer is created with the resource's uid as Idempotency-Key.
  Calling again -- a retry, or an operator restarted after dying between
  the wallet's answer and the status patch -- finds the same transfer; money
  moves once.
- A final refusal (insufficient funds...) ends the Transfer as Failed and is
  never sent again: retrying the same request could only get the same no.
- Reading a transfer back never fails it: if the wallet cannot be read, we
  do not know that nothing moved, so the Transfer keeps its phase.
- A re-drive only re-publishes the request the wallet already recorded; the
  bank executes it once, however often it arrives.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from vellet.operator import backoff, bindings, conditions, domain
from vellet.operator.runtime import Runtime
from vellet.operator.wallet_client import WalletRefused, WalletUnavailable

Event = tuple[str, str, str]

#: Longest back-off between two attempts to reach a wallet that is down.
RETRY_CAP = 300.0


@dataclass
class Step:
    """What one pass decided."""

    #: Fields of ``status`` to set (others are left as they are).
    status: dict[str, Any]
    #: Kubernetes Events to post: (type, reason, message).
    events: list[Event] = field(default_factory=list)
    #: For the reconcile counter: ok, retry or failed.
    outcome: str = "ok"
    #: Try the whole pass again after this many seconds (kopf's TemporaryError).
    retry_after: float | None = None
    #: Give up for good with this message (kopf's PermanentError).
    final_error: str | None = None


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _transition(previous: Mapping[str, Any], current: Mapping[str, Any]) -> list[Event]:
    event = domain.transition_event(previous.get("phase"), str(current["phase"]))
    return [event] if event else []


def authorize(
    rt: Runtime,
    *,
    spec: Mapping[str, Any],
    namespace: str,
    bound: bool,
    status: Mapping[str, Any],
    generation: int,
    retry: int,
) -> Step | None:
    """None when ``spec.fromAccount`` is bound to ``namespace``; else the Step that ends it.

    A binding and a Transfer applied together reach the operator on two
    watch streams in either order, so an unbound account gets one grace
    period (``binding_grace``) before it is denied for good.
    """
    if bound:
        return None
    message = bindings.denial_message(str(spec.get("fromAccount")), namespace)
    if retry == 0 and rt.settings.binding_grace > 0:
        waiting = {"phase": status.get("phase") or "Pending", "observedGeneration": generation,
                   "message": f"Waiting for an AccountBinding: {message}"[:1024]}  # fmt: skip
        return Step(waiting, [], "retry", retry_after=rt.settings.binding_grace)
    new = bindings.after_denial(status, message, now=_now(), generation=generation)
    return Step(new, [("Warning", bindings.REASON, message)], "failed", final_error=message)


async def submit(
    rt: Runtime,
    *,
    spec: Mapping[str, Any],
    uid: str,
    status: Mapping[str, Any],
    generation: int,
    retry: int,
) -> Step:
    """Create the wallet transfer for a new Transfer (or find it again)."""
    attempts = int(status.get("attempts") or 0) + 1
    try:
        transfer = await rt.wallet.create(domain.wallet_request(spec), idempotency_key=uid)
    except WalletRefused as err:
        new = domain.after_refusal(status, err.code, err.detail, now=_now(), generation=generation)
        new["attempts"] = attempts
        return Step(new, _transition(status, new), "failed", final_error=new["message"])
    except WalletUnavailable as err:
        new = domain.after_temporary_error(
            status, err.reason, attempts=attempts, generation=generation
        )
        delay = err.retry_after
        if delay is None:
            delay = backoff.retry_delay(retry, base=rt.settings.timer_interval, cap=RETRY_CAP)
        event = domain.error_event(status, err.reason)
        return Step(new, [event] if event else [], "retry", retry_after=delay)
    new = domain.after_wallet_answer(status, transfer, now=_now(), generation=generation)
    new["attempts"] = attempts
    return Step(new, _transition(status, new))


async def follow(rt: Runtime, *, status: Mapping[str, Any], generation: int) -> Step:
    """Re-read an unfinished transfer; re-drive it if it is stuck and the bank is up."""
    transfer_id = str(status["transferId"])
    try:
        transfer = await rt.wallet.get(transfer_id)
    except (WalletUnavailable, WalletRefused) as err:
        # Even a 404 is not a verdict on the money: keep the phase, note it, look again.
        reason = err.reason if isinstance(err, WalletUnavailable) else str(err)
        event = domain.error_event(status, reason)
        return Step({"lastError": reason[:1024]}, [event] if event else [], "retry")
    now = _now()
    new = domain.after_wallet_answer(status, transfer, now=now, generation=generation)
    events = _transition(status, new)
    stuck = False
    if transfer.state == "queued":
        healthy = await rt.probe.healthy()
        new |= domain.bank_availability(new, healthy, now=now, generation=generation)
        stuck = domain.is_stuck(transfer, now=now, threshold=rt.settings.stuck_after)
        due = backoff.is_redrive_due(
            transfer,
            now=now,
            threshold=rt.settings.stuck_after,
            redriven_at=rt.tracker.redriven_at(transfer.id),
        )
        if due and healthy:
            step = await _redrive(rt, status, new, transfer.id, now)
            new, outcome = step.status, step.outcome
            events += step.events
        else:
            outcome = "ok"
    else:
        new |= _bank_back(new, transfer, now=now, generation=generation)
        outcome = "ok"
    rt.tracker.mark_stuck(transfer.id, stuck)
    bank = domain.bank_event(status, new)
    if bank:
        events.append(bank)
    return Step(new, events, outcome)


def _bank_back(
    status: Mapping[str, Any], transfer: domain.WalletTransfer, *, now: Any, generation: int
) -> dict[str, Any]:
    # Left the queue (pending again, or settled): the bank took the request.
    previous = conditions.condition(status, domain.BANK_AVAILABLE)
    if previous is None or previous.get("status") == "True" or transfer.kind == "p2p":
        return {}
    return domain.bank_availability(status, True, now=now, generation=generation)


async def _redrive(
    rt: Runtime,
    previous: Mapping[str, Any],
    new: dict[str, Any],
    transfer_id: str,
    now: datetime.datetime,
) -> Step:
    attempts = int(previous.get("attempts") or 0) + 1
    try:
        await rt.wallet.redrive(transfer_id)
    except (WalletUnavailable, WalletRefused) as err:
        reason = f"re-drive failed: {err}"
        event = domain.error_event(previous, reason)
        return Step(new | {"lastError": reason[:1024]}, [event] if event else [], "retry")
    rt.tracker.redriven(transfer_id, now)
    new = new | domain.after_redrive(previous, transfer_id, attempts=attempts)
    return Step(new, [("Normal", "Redriven", str(new["message"]))])
