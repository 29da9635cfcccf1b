"""Pure wallet rules: parsing, fingerprints, cursors, rendering. No servers."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest

from vellet.common.errors import ConfigError, InvalidAmount, InvalidRequest, Unprocessable
from vellet.wallet import domain, settings

BOB = "100000000002"


def body(**changes: object) -> dict[str, object]:
    return {"kind": "p2p", "amount": "12.50", "currency": "INR", "to_account": BOB} | changes


def test_a_transfer_request_parses_to_minor_units() -> None:
    req = domain.parse_transfer(body(note="lunch"))
    assert (req.amount, req.currency, req.to_account, req.note) == (1250, "INR", BOB, "lunch")


def test_the_fingerprint_is_about_meaning_not_spelling() -> None:
    same = domain.parse_transfer(body(amount="12.5")).fingerprint()
    assert domain.parse_transfer(body()).fingerprint() == same
    assert domain.parse_transfer(body(amount="12.51")).fingerprint() != same
    assert domain.parse_transfer(body(note="x")).fingerprint() != same
    assert domain.parse_transfer(body(to_account="100000000003")).fingerprint() != same


@pytest.mark.parametrize(
    ("changes", "error", "code"),
    [
        ({"kind": "deposit"}, InvalidRequest, "invalid_kind"),
        ({"currency": "XYZ"}, InvalidRequest, "invalid_currency"),
        ({"currency": 5}, InvalidRequest, "invalid_currency"),
        ({"amount": "0"}, InvalidAmount, "invalid_amount"),
        ({"amount": 12.5}, InvalidAmount, "invalid_amount"),
        ({"to_account": "12"}, InvalidRequest, "invalid_account_number"),
        ({"to_account": "１２３４５６７"}, InvalidRequest, "invalid_account_number"),
        ({"note": "x" * 141}, InvalidRequest, "invalid_request"),
        ({"note": "nul\x00"}, InvalidRequest, "invalid_request"),
        ({"note": "\ud800"}, InvalidRequest, "invalid_request"),
        ({"note": 7}, InvalidRequest, "invalid_request"),
        ({"extra": 1}, InvalidRequest, "invalid_request"),
    ],
)
def test_bad_transfer_requests_say_why(changes: dict[str, object], error: type, code: str) -> None:
    with pytest.raises(error) as caught:
        domain.parse_transfer(body(**changes))
    assert caught.value.code == code


@pytest.mark.parametrize(
    ("header", "ok"),
    [(None, False), ("", False), ("a" * 255, True), ("a" * 256, False), ("has space", False),
     ("ünï", False), ("order-1:retry/2", True)],
)  # fmt: skip
def test_idempotency_keys(header: str | None, ok: bool) -> None:
    if ok:
        assert domain.idempotency_key(header) == header
    else:
        with pytest.raises(InvalidRequest):
            domain.idempotency_key(header)


def test_credentials() -> None:
    creds = domain.parse_credentials({"account_number": BOB, "password": "long enough"}, new=True)
    assert "long enough" not in repr(creds)
    with pytest.raises(Unprocessable):
        domain.parse_credentials({"account_number": BOB, "password": "short"}, new=True)
    assert domain.parse_credentials({"account_number": BOB, "password": "short"}, new=False)
    for bad in ({"account_number": BOB}, {"account_number": BOB, "password": "x" * 257},
                {"account_number": BOB, "password": "\udcff" * 9}):  # fmt: skip
        with pytest.raises(InvalidRequest):
            domain.parse_credentials(bad, new=False)


def test_cursors_round_trip_to_the_microsecond() -> None:
    cursor = domain.Cursor(datetime(2026, 11, 23, 10, 0, 0, 123456, tzinfo=UTC), uuid.uuid4())
    assert domain.Cursor.decode(cursor.encode()) == cursor


@pytest.mark.parametrize(
    "text",
    [
        "",
        "@@@",
        "bm9wZQ",
        "MTIzOng",
        "LTE6MDAwMDAwMDAtMDAwMC0wMDAwLTAwMDAtMDAwMDAwMDAwMDAw",
        "x" * 200,
    ],
)
def test_foreign_cursors_are_400(text: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        domain.Cursor.decode(text)
    assert caught.value.code == "invalid_cursor"


def test_timestamps_match_the_sql_rendering() -> None:
    stamp = datetime(2026, 1, 2, 3, 4, 5, 60, tzinfo=UTC)
    assert domain.timestamp(stamp) == "2026-01-02T03:04:05.000060Z"


def test_refusals_are_fixed_problem_documents() -> None:
    stored = json.loads(domain.REFUSALS_JSON)
    assert set(stored) == {"unknown_recipient", "same_account", "currency_mismatch",
                           "insufficient_funds"}  # fmt: skip
    assert stored["unknown_recipient"]["status"] == 404
    assert stored["insufficient_funds"]["body"]["code"] == "insufficient_funds"


ENV = {
    "VELLET_WALLET_DATABASE_URL": "postgresql://db/wallet",
    "VELLET_REDIS_URL": "redis://r/0",
    "VELLET_BANK_URL": "http://bank:8081/",
    "VELLET_JWT_SECRET": "s" * 32,
    "VELLET_SESSION_SECRET": "t" * 32,
}


def test_settings_from_env_defaults_and_overrides() -> None:
    s = settings.WalletSettings.from_env(ENV)
    assert (s.bank_url, s.http.port, s.sessions.ttl_seconds) == ("http://bank:8081", 8080, 900)
    assert "t" * 32 not in repr(s)
    custom = settings.WalletSettings.from_env(
        ENV | {"VELLET_WALLET_PORT": "9000", "VELLET_LOGIN_MAX_FAILURES_PER_ACCOUNT": "3",
               "VELLET_COOKIE_SECURE": "true", "VELLET_IDEMPOTENCY_RETENTION_HOURS": "24"}
    )  # fmt: skip
    assert (custom.http.port, custom.login.per_account, custom.sessions.cookie_secure) == (
        9000, 3, True,
    )  # fmt: skip
    assert custom.idempotency_retention_hours == 24


@pytest.mark.parametrize(
    "broken",
    [
        {"VELLET_SESSION_SECRET": ""},
        {"VELLET_SESSION_SECRET": "short"},
        {"VELLET_BANK_URL": ""},
        {"VELLET_WALLET_PORT": "http"},
    ],
)
def test_settings_refuse_what_cannot_work(broken: dict[str, str]) -> None:
    with pytest.raises(ConfigError):
        settings.WalletSettings.from_env(ENV | broken)
