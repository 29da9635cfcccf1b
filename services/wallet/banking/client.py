"""The wallet's client for the bank's HTTP API.

Services never import each other, so this is the wallet's own view of the
bank's contract (API.md, "Bank"). It presents a short-lived service JWT for
the bank's audience, signed with the wallet's own key, bounds every call
with a timeout, and maps every way the bank can fail (down, slow, 5xx,
garbage) to one error the wallet can answer with: 503 ``bank_unavailable``.
The aiohttp session and base URL are injected, so tests point it at a real
bank on a random port.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp import web

from vellet.common import jsontext, tokens
from vellet.common.errors import Unavailable

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BankAccount:
    account_number: str
    name: str
    email: str
    currency: str
    status: str


def _unavailable() -> Unavailable:
    return Unavailable(
        "the bank cannot be reached right now; please try again in a moment",
        code="bank_unavailable",
    )


class BankClient:
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

    def _headers(self) -> dict[str, str]:
        token = self._issuer.mint(audience=tokens.BANK_AUDIENCE)
        return {"Authorization": f"Bearer {token}", "Accept": "application/json"}

    async def _call(
        self, what: str, method: str, path: str, expected: set[int], body: Any = None
    ) -> tuple[int, Any]:
        """(status, JSON body or None) when the bank answers one of ``expected``;
        503 ``bank_unavailable`` for any other answer, a timeout or garbage."""
        try:
            async with self._session.request(
                method, f"{self._base}{path}", json=body, headers=self._headers(),
                timeout=self._timeout,
            ) as response:  # fmt: skip
                if response.status not in expected:
                    log.warning("bank answered %d to %s", response.status, what)
                    raise _unavailable()
                data = await response.json(loads=jsontext.loads) if response.status == 200 else None
                return response.status, data
        except (TimeoutError, aiohttp.ClientError, ValueError) as err:
            log.warning("bank %s failed: %s", what, type(err).__name__)
            raise _unavailable() from None

    async def start_signup(self, number: str) -> None:
        """Ask the bank to mail a code to the holder of ``number``, if it has one.

        The bank answers 202 whatever the account; the wallet learns nothing.
        """
        body = {"account_number": number}
        await self._call("a sign-up challenge", "POST", "/api/v1/signup-challenges", {202}, body)

    async def verify_signup(self, number: str, code: str) -> BankAccount | None:
        """The account, if ``code`` is its live challenge's code; None otherwise.

        The bank counts the guess and, on a match, spends the challenge.
        """
        body = {"account_number": number, "code": code}
        path = "/api/v1/signup-challenges/verify"
        status, data = await self._call("a sign-up code", "POST", path, {200, 401}, body)
        return None if status == 401 else _parse_account(data)


def _parse_account(data: Any) -> BankAccount:
    keys = ("account_number", "name", "email", "currency", "status")
    if not isinstance(data, dict) or not all(isinstance(data.get(k), str) for k in keys):
        log.warning("bank sent an account record that does not match its contract")
        raise _unavailable()
    return BankAccount(*(str(data[k]) for k in keys))


class BankNoAnswer(Exception):
    """The bank gave no usable answer: it may or may not have executed the
    transfer, so the caller must queue it (the bank is idempotent on its id)."""


class BankTransfers:
    """The direct path of deposits and withdrawals: ``POST /api/v1/transfers``.

    Its own (tighter) timeout: a user waits for it, and when it expires the
    transfer is simply queued. Any non-200 answer counts as no answer: a
    4xx would mean the wallet sent something the bank cannot read, which
    queueing does not fix either, but it keeps the transfer's fate in one
    place (the stream, the reconciler, the dead-letter stream) instead of
    guessing here.
    """

    def __init__(self, session: aiohttp.ClientSession, base_url: str,
                 issuer: tokens.Issuer, timeout: float) -> None:  # fmt: skip
        self._session = session
        self._base = base_url.rstrip("/")
        self._issuer = issuer
        self._timeout = aiohttp.ClientTimeout(total=timeout)

    async def execute(self, request: dict[str, str]) -> Any:
        """The bank's JSON outcome of ``request``; :class:`BankNoAnswer` otherwise."""
        token = self._issuer.mint(audience=tokens.BANK_AUDIENCE)
        headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        try:
            async with self._session.post(
                f"{self._base}/api/v1/transfers", json=request, headers=headers,
                timeout=self._timeout,
            ) as response:  # fmt: skip
                if response.status != 200:
                    log.warning("bank answered %d to a transfer", response.status)
                    raise BankNoAnswer(f"HTTP {response.status}")
                return await response.json(loads=jsontext.loads)
        except (TimeoutError, aiohttp.ClientError, ValueError) as err:
            raise BankNoAnswer(type(err).__name__) from None

    async def ready(self) -> bool:
        """Whether the bank says it can work (``/readyz``: its database and Redis)."""
        try:
            async with self._session.get(f"{self._base}/readyz", timeout=self._timeout) as resp:
                return resp.status == 200
        except (TimeoutError, aiohttp.ClientError):
            return False


BANK = web.AppKey("wallet_bank", BankClient)
