"""Who may be debited from a namespace: the AccountBinding rule, pure.

A Transfer may debit (``spec.fromAccount``) only an account listed in the
AccountBinding named ``vellet`` of its own namespace, which only cluster
administrators write. The admission policy shipped with the CRDs refuses
anything else at ``kubectl apply``; the operator applies the same rule
before it calls the wallet, so a cluster without the policy (or a Transfer
admitted before a binding was withdrawn) still cannot spend an account that
is not the namespace's. A denied Transfer ends in phase ``Denied`` and the
wallet is never asked.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping
from typing import Any, Final

from vellet.operator.conditions import with_condition

GROUP, VERSION, PLURAL = "vellet.io", "v1alpha1", "accountbindings"
#: The one AccountBinding per namespace that counts (the admission policy reads it by name).
NAME: Final = "vellet"
DENIED: Final = "Denied"
REASON: Final = "NotAuthorized"


def index_entry(namespace: str | None, name: str, spec: Mapping[str, Any]) -> dict[str, Any]:
    """What the operator remembers of one AccountBinding: namespace -> its accounts."""
    if name != NAME or namespace is None:
        return {}  # the CRD refuses other names; ignore any that slipped in before
    accounts = spec.get("accounts") or []
    return {namespace: tuple(str(a) for a in accounts)}


def is_bound(account: str, bound: Iterable[Iterable[str]]) -> bool:
    return any(account in accounts for accounts in bound)


def denial_message(account: str, namespace: str) -> str:
    """The same words the admission policy answers with."""
    return (
        f"account {account} is not bound to namespace {namespace}: a Transfer here may only "
        f'debit the accounts listed in its AccountBinding "{NAME}" (written by cluster '
        "administrators)"
    )


def after_denial(
    previous: Mapping[str, Any], message: str, *, now: datetime.datetime, generation: int
) -> dict[str, Any]:
    """The final status of a Transfer whose fromAccount is not bound: nothing was sent."""
    conditions = with_condition(
        previous.get("conditions", []),
        type_="Accepted",
        status=False,
        reason=REASON,
        message=message,
        now=now,
        generation=generation,
    )
    conditions = with_condition(
        conditions,
        type_="Ready",
        status=True,
        reason=DENIED,
        message=message,
        now=now,
        generation=generation,
    )
    return {
        "phase": DENIED,
        "observedGeneration": generation,
        "message": message[:1024],
        "lastError": f"{REASON}: {message}"[:1024],
        "conditions": conditions,
    }
