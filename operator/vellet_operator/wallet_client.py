"""The operator's client for the wallet's internal API and the bank's health.

Services never import each other, so this is the operator's own view of the
contract (API.md, "Wallet (internal)"). Every failure is sorted into one of
two exceptions, because that is the only decision a handler has to make:

- ``WalletRefused``: the wallet said no for good (insufficient funds, unknown
  recipient, invalid amount, an idempotency mismatch...). Retrying cannot
  help; the Transfer ends Failed (kopf's PermanentError).
- ``WalletUnavailable``: down, slow, 5xx, garbage, 429, or 409
  ``idempotency_in_flight`` (the same key is still being executed). Retrying
  later is safe because every create carries the Transfer's uid as its
  ``Idempotency-Key``: the wallet executes it once however often it is sent
  (kopf's TemporaryError, with the server's ``Retry-After`` when given).

The session and base URLs are injected, so tests point them at real servers.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import aiohttp

from vellet.common import jsontext, tokens
from vellet.operator.domain import PHASES, WalletTransfer

log = logging.getLogger("vellet.operator.wallet")

#: The ``sub`` of the operator's tokens; the wallet's internal API accepts no other.
SUBJECT = tokens.WALLET_INTERNAL.subject or "operator"
# Refusals the wallet may change its mind about: the same request will be
# answered differently later, so they are temporary, not final.
_TEMPORARY_CODES = frozenset({"idempotency_in_flight", "too_many_attempts", "bank_unavailable"})


class WalletRefused(Exception):
    """A final answer: the wallet will never execute this request."""

    def __init__(self, status: int, code: str, detail: str) -> None:
        super().__init__(f"{code}: {detail}")
        self.status = status
        self.code = code
        self.detail = detail


class WalletUnavailable(Exception):
    """Not now: try again later (after ``retry_after`` seconds when known)."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


class WalletClient:
    def __init__(
        self,
        session: aiohttp.ClientSession,
        base_url: str,
        issuer: tokens.Issuer,
        timeout: float,
    ) -> None:
        self._session = session
        self._base = base_url.rstrip("/")
        self._issuer = issuer
        self._timeout = aiohttp.ClientTimeout(total=timeout)

    def _headers(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        token = self._issuer.mint(audience=tokens.WALLET_INTERNAL_AUDIENCE, subject=SUBJECT)
        return {"Authorization": f"Bearer {token}", "Accept": "application/json", **(extra or {})}

    async def create(self, body: Mapping[str, Any], idempotency_key: str) -> WalletTransfer:
        """Create (or, with the same key, find again) a transfer."""
        data = await self._call(
            "POST",
            "/internal/v1/transfers",
            json=dict(body),
            headers={"Idempotency-Key": idempotency_key},
        )
        return parse_transfer(data)

    async def get(self, transfer_id: str) -> WalletTransfer:
        data = await self._call("GET", f"/internal/v1/transfers/{quote(transfer_id, safe='')}")
        return parse_transfer(data)

    async def stuck(self, state: str = "queued", older_than: float = 60) -> list[WalletTransfer]:
        """Transfers in ``state`` for longer than ``older_than`` seconds."""
        params = {"state": state, "older_than": str(int(older_than))}
        data = await self._call("GET", "/internal/v1/transfers", params=params)
        items = data.get("items") if isinstance(data, dict) else data
        if not isinstance(items, list):
            raise WalletUnavailable("the wallet's list of stuck transfers was malformed")
        return [parse_transfer(item) for item in items]

    async def redrive(self, transfer_id: str) -> None:
        """Re-publish a stuck transfer to the bank request stream (idempotent)."""
        path = f"/internal/v1/transfers/{quote(transfer_id, safe='')}/redrive"
        await self._call("POST", path)

    async def _call(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Any:
        try:
            async with self._session.request(
                method,
                self._base + path,
                json=json,
                params=params,
                headers=self._headers(headers),
                timeout=self._timeout,
            ) as response:
                if response.status < 300:
                    return await response.json(content_type=None, loads=jsontext.loads)
                problem = await _problem(response)
                error = classify(response.status, problem, response.headers.get("Retry-After"))
        except (TimeoutError, aiohttp.ClientError, ValueError) as err:
            log.warning("wallet %s %s failed: %s", method, path, type(err).__name__)
            raise WalletUnavailable(f"the wallet did not answer ({type(err).__name__})") from None
        log.info("wallet answered %d %s to %s %s", response.status, error, method, path)
        raise error


async def _problem(response: aiohttp.ClientResponse) -> dict[str, Any]:
    try:
        body = await response.json(content_type=None, loads=jsontext.loads)
    except (ValueError, aiohttp.ClientError):
        return {}
    return body if isinstance(body, dict) else {}


def classify(
    status: int, problem: Mapping[str, Any], retry_after: str | None
) -> WalletRefused | WalletUnavailable:
    code = str(problem.get("code") or f"http_{status}")
    detail = str(problem.get("detail") or problem.get("title") or f"HTTP {status}")
    delay = _seconds(retry_after)
    if status >= 500 or status in (408, 429) or code in _TEMPORARY_CODES:
        return WalletUnavailable(f"{code}: {detail}", delay)
    if status in (401, 403):
        # The operator's own credentials are wrong: a deployment problem to fix,
        # not the transfer's fault. Keep retrying (and alerting) instead of failing it.
        return WalletUnavailable(f"the wallet refused the operator's token ({code})", delay)
    return WalletRefused(status, code, detail)


def _seconds(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None


def parse_transfer(data: Any) -> WalletTransfer:
    """A transfer from the wallet's JSON; garbage counts as the wallet being unwell."""
    if not isinstance(data, dict) or not all(
        isinstance(data.get(key), str) for key in ("id", "kind", "state", "amount", "currency")
    ):
        raise WalletUnavailable("the wallet answered with something that is not a transfer")
    if data["state"] not in PHASES:
        raise WalletUnavailable(f"the wallet reported an unknown state {data['state']!r}")
    return WalletTransfer(
        id=data["id"],
        kind=data["kind"],
        state=data["state"],
        amount=data["amount"],
        currency=data["currency"],
        from_account=data.get("from_account"),
        to_account=data.get("to_account"),
        failure_reason=data.get("failure_reason"),
        updated_at=data.get("updated_at"),
    )


class BankHealth:
    """Whether the bank answers ``GET /readyz`` (any failure means no).

    Readiness, not liveness: a bank process that is up but cannot reach its
    database or Redis cannot execute a re-driven request either.
    """

    def __init__(self, session: aiohttp.ClientSession, base_url: str, timeout: float) -> None:
        self._session = session
        self._url = base_url.rstrip("/") + "/readyz"
        self._timeout = aiohttp.ClientTimeout(total=timeout)

    async def healthy(self) -> bool:
        try:
            async with self._session.get(self._url, timeout=self._timeout) as response:
                return response.status == 200
        except (TimeoutError, aiohttp.ClientError):
            return False
