"""Pure rules of signing up and logging in: credentials, and how a user looks.

No I/O. The routes parse bodies with these; what a password must be is
decided here once, for sign-up and login alike.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

from vellet.common.errors import InvalidRequest, Unprocessable
from vellet.common.money import format_amount
from vellet.wallet.wire import account_number, encodable, no_unknown_fields

PASSWORD_MIN: Final = 8
PASSWORD_MAX: Final = 256


@dataclass(frozen=True)
class Credentials:
    account_number: str
    password: str = field(repr=False)


def parse_credentials(body: dict[str, Any], *, new: bool) -> Credentials:
    """Sign-up (``new``) and login bodies: an account number and a password."""
    no_unknown_fields(body, {"account_number", "password"})
    number = account_number(body.get("account_number"))
    password = body.get("password")
    if not isinstance(password, str) or not password or not encodable(password):
        raise InvalidRequest(
            "password must be a non-empty string of valid Unicode", code="invalid_password"
        )
    if len(password) > PASSWORD_MAX:
        raise InvalidRequest(
            f"password must be at most {PASSWORD_MAX} characters", code="invalid_password"
        )
    if new and len(password) < PASSWORD_MIN:
        raise Unprocessable(
            f"password must be at least {PASSWORD_MIN} characters", code="weak_password"
        )
    return Credentials(number, password)


#: What every start of a sign-up answers, whatever the account: never a hint.
SIGNUP_STARTED: Final = {
    "status": "code_sent_if_registrable",
    "detail": "If this account can be registered, its holder has been sent a one-time code "
    "at the e-mail address the bank holds for it. Complete the sign-up with that code.",
}
CODE_MAX: Final = 32


@dataclass(frozen=True)
class SignupCompletion:
    account_number: str
    code: str = field(repr=False)
    password: str = field(repr=False)


def parse_signup_start(body: dict[str, Any]) -> str:
    no_unknown_fields(body, {"account_number"})
    return account_number(body.get("account_number"))


def parse_signup_completion(body: dict[str, Any]) -> SignupCompletion:
    """The code is checked for shape only; whether it is right is the bank's to say."""
    code = body.get("code")
    if not isinstance(code, str) or not code.strip() or len(code) > CODE_MAX:
        raise InvalidRequest(
            f"code must be the non-empty string (at most {CODE_MAX} characters) from the mail",
            code="invalid_code_format",
        )
    rest = {k: v for k, v in body.items() if k != "code"}
    creds = parse_credentials(rest, new=True)
    return SignupCompletion(creds.account_number, code.strip(), creds.password)


def user_json(user: Any) -> dict[str, Any]:
    return {
        "account_number": user.account_number,
        "name": user.name,
        "email": user.email,
        "currency": user.currency,
    }


def me_json(user: Any, balance: Any) -> dict[str, Any]:
    return user_json(user) | {
        "balance": {
            "currency": balance.currency,
            "available": format_amount(balance.available, balance.currency),
            "pending": format_amount(balance.pending, balance.currency),
        }
    }
