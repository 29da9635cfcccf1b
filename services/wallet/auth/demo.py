"""Demo logins for ``vellet up``: sign the seeded bank accounts up, once.

Goes through the public two-step sign-up, exactly as a person would: the
bank mails each holder a code, and ``read_code`` (``vellet up`` passes one
that reads the local mail sink, a trusted path only a local stack has)
hands it back. So the bank vouches for every account, the code proves the
mail arrived, and the password is hashed like any other. Idempotent: an
account whose demo password already logs in is left alone (no new mail), and
one that already has a wallet (409) keeps it. The password of a demo account
is derived from its number (``demo-<account number>``): fine for a local demo
stack, and said so wherever the logins are printed.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

import aiohttp

from vellet.common.errors import Unavailable

#: Account number -> the code the bank mailed to its holder.
ReadCode = Callable[[str], Awaitable[str]]


@dataclass(frozen=True)
class DemoLogin:
    account_number: str
    password: str


def demo_password(account_number: str) -> str:
    return f"demo-{account_number}"


async def sign_up_demo_users(
    wallet_url: str, account_numbers: Iterable[str], read_code: ReadCode
) -> list[DemoLogin]:
    """Sign each account up (or find it signed up); return its login."""
    logins = []
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as http:
        for number in account_numbers:
            login = DemoLogin(number, demo_password(number))
            if not await _logs_in(http, wallet_url, login):
                await _sign_up(http, wallet_url, login, read_code)
            logins.append(login)
    return logins


async def _logs_in(http: aiohttp.ClientSession, wallet_url: str, login: DemoLogin) -> bool:
    body = {"account_number": login.account_number, "password": login.password}
    async with http.post(f"{wallet_url}/api/v1/auth/login", json=body) as resp:
        return resp.status == 200


async def _sign_up(
    http: aiohttp.ClientSession, wallet_url: str, login: DemoLogin, read_code: ReadCode
) -> None:
    number = login.account_number
    async with http.post(f"{wallet_url}/api/v1/auth/signup", json={"account_number": number}) as r:
        if r.status != 202:
            raise Unavailable(
                f"demo sign-up of {number} failed: {r.status} {(await r.text())[:200]}"
            )
    body = {"account_number": number, "code": await read_code(number), "password": login.password}
    async with http.post(f"{wallet_url}/api/v1/auth/signup/complete", json=body) as r:
        if r.status not in (201, 409):
            raise Unavailable(
                f"demo sign-up of {number} failed: {r.status} {(await r.text())[:200]}"
            )
