"""The rule of a batch of transfers, free of I/O so it can be tested without servers.

A batch is decided on the balances of its accounts as they were locked,
one request after the other in request order, exactly as the same
requests would be decided one at a time by :func:`executor.execute`: a
debit needs the money left by the requests before it, a withdrawal from
the settlement account needs what the deposits before it brought in, and
each rejection has the reason :func:`domain.rejection_reason` gives.
What the batch then writes is the net change per account and per currency.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from vellet.bank.domain import SETTLEMENT_SHORT, AccountState, TransferRequest, rejection_reason


@dataclass
class BatchPlan:
    """Why each request is rejected (None: moved), and the net movements to write."""

    reasons: list[str | None] = field(default_factory=list)
    #: account number -> net change of its balance (non-zero only).
    accounts: dict[str, int] = field(default_factory=dict)
    #: currency -> net change of Vellet's settlement balance (non-zero only).
    settlement: dict[str, int] = field(default_factory=dict)


def plan_batch(reqs: Sequence[TransferRequest], accounts: Mapping[str, AccountState],
               settlement: Mapping[str, int]) -> BatchPlan:  # fmt: skip
    """Decide ``reqs`` in order on the locked ``accounts`` and ``settlement`` balances.

    ``accounts`` holds every known account the requests name (an absent one
    is unknown); ``settlement`` the balance per currency (absent: none yet).
    """
    balances = {number: state.balance for number, state in accounts.items()}
    pooled = dict(settlement)
    plan = BatchPlan()
    for req in reqs:
        state = accounts.get(req.account_number)
        reason = _reason(req, state, balances, pooled)
        plan.reasons.append(reason)
        if reason is not None:
            continue
        # The customer's side moves opposite to Vellet's settlement account.
        delta = -req.amount if req.direction == "to_wallet" else req.amount
        balances[req.account_number] += delta
        pooled[req.currency] = pooled.get(req.currency, 0) - delta
    plan.accounts = _changes(balances, {n: s.balance for n, s in accounts.items()})
    plan.settlement = _changes(pooled, dict(settlement))
    return plan


def _reason(req: TransferRequest, state: AccountState | None, balances: Mapping[str, int],
            pooled: Mapping[str, int]) -> str | None:  # fmt: skip
    if state is None or state.status != "active" or state.currency != req.currency:
        return rejection_reason(state, req)
    if req.direction == "to_wallet":
        if balances[req.account_number] < req.amount:
            now = AccountState(state.currency, balances[req.account_number], state.status)
            return rejection_reason(now, req)  # insufficient funds
        return None
    # Only a wallet bug could withdraw more than it deposited (as in ``execute``).
    return SETTLEMENT_SHORT if pooled.get(req.currency, 0) < req.amount else None


def _changes(after: Mapping[str, int], before: Mapping[str, int]) -> dict[str, int]:
    changes = {key: value - before.get(key, 0) for key, value in after.items()}
    return {key: delta for key, delta in changes.items() if delta}
