"""The rules of sign-up challenges, free of I/O.

A challenge proves that whoever signs an account up reads the e-mail the
bank holds for it. The bank, not the wallet, makes the code and mails it:
the bank knows its customer, and the wallet never sees the code, the
address, or whether the account exists until the code comes back.

* Codes are 6 random digits from ``secrets`` (1 in a million per guess).
* Only ``HMAC-SHA256(key, challenge id : account : code)`` is stored. A
  plain hash of 6 digits is reversed by trying all million of them; with a
  key the database does not hold, a stolen table reveals nothing. The
  challenge id in the MAC ties a hash to its one challenge.
* A challenge allows ``max_attempts`` guesses and then dies, expires after
  ``ttl_seconds``, and is deleted by the guess that matches (single use).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from vellet.bank.domain import account_number
from vellet.common.errors import InvalidRequest

CODE_DIGITS: Final = 6


@dataclass(frozen=True)
class NewChallenge:
    account_number: str
    challenge_id: uuid.UUID
    code: str
    code_hash: bytes


@dataclass(frozen=True)
class Guess:
    account_number: str
    code: str


def new_challenge(key: bytes, number: str) -> NewChallenge:
    code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
    challenge_id = uuid.uuid4()
    return NewChallenge(number, challenge_id, code, code_hash(key, challenge_id, number, code))


def code_hash(key: bytes, challenge_id: uuid.UUID, number: str, code: str) -> bytes:
    message = f"{challenge_id}:{number}:{code}".encode()
    return hmac.new(key, message, hashlib.sha256).digest()


def matches(key: bytes, challenge_id: uuid.UUID, number: str, code: str, stored: bytes) -> bool:
    return hmac.compare_digest(code_hash(key, challenge_id, number, code), stored)


def parse_start(data: Mapping[str, Any]) -> str:
    _only(data, {"account_number"})
    return account_number(data.get("account_number"))


def parse_guess(data: Mapping[str, Any]) -> Guess:
    _only(data, {"account_number", "code"})
    number = account_number(data.get("account_number"))
    code = data.get("code")
    if not isinstance(code, str) or len(code) > 32:
        raise InvalidRequest("code must be a string", code="invalid_code_format")
    return Guess(number, code.strip())


def _only(data: Mapping[str, Any], allowed: set[str]) -> None:
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise InvalidRequest(f"unknown field(s): {', '.join(unknown)}")
