"""Demo logins for ``vellet up``: sign the seeded bank accounts up, once.

Goes through the public API, exactly as a person would, so the bank vouches
for every account and the password is hashed like any other. Idempotent: an
account that already has a wallet (409) keeps it. The password of a demo
account is derived from its number (``demo-<account number>``): fine for
a local demo stack, and said so wherever the logins are printed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import aiohttp

from vellet.common.errors import Unavailable


@dataclass(frozen=True)
class DemoLogin:
    account_number: str
    password: str


def demo_password(account_number: str) -> str:
    return f"demo-{account_number}"


async def sign_up_demo_users(wallet_url: str, account_numbers: Iterable[str]) -> list[DemoLogin]:
    """Sign each account up (or find it signed up); return its login."""
    logins = []
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as http:
        for number in account_numbers:
            login = DemoLogin(number, demo_password(number))
            body = {"account_number": number, "password": login.password}
            async with http.post(f"{wallet_url}/api/v1/auth/signup", json=body) as resp:
                if resp.status not in (201, 409):
                    detail = (await resp.text())[:200]
                    raise Unavailable(f"demo sign-up of {number} failed: {resp.status} {detail}")
            logins.append(login)
    return logins
