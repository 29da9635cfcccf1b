"""The wallet's internal API: its own port, a service token, the public idempotency rules."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

import aiohttp
import jwt
import pytest

from tests.support.bank import RunningBank, internal_token, service_token
from tests.wallet.banking.helpers import internal_headers, move
from tests.wallet.stack import RunningWallet, WalletClient, registered
from vellet.common import tokens
from vellet.common.keys import PrivateKey


async def test_create_on_behalf_of_an_account_with_the_public_idempotency_rules(
    bank: RunningBank, wallet: RunningWallet, http: aiohttp.ClientSession
) -> None:
    alice = await registered(bank, wallet, http)
    bob = await registered(bank, wallet, http)
    assert (await move(alice, "deposit", "50.00")).status == 201
    op = WalletClient(http, wallet.internal_url)
    key = str(uuid.uuid4())  # the operator sends the Transfer's UID
    body = {"kind": "p2p", "amount": "12.50", "currency": "INR",
            "from_account": alice.account_number, "to_account": bob.account_number}  # fmt: skip

    first = await op.call("POST", "/internal/v1/transfers", json=body,
                          headers=internal_headers(key))  # fmt: skip
    assert first.status == 201, first.body
    assert (first.body["state"], first.body["from_account"]) == ("posted", alice.account_number)
    again = await op.call("POST", "/internal/v1/transfers", json=body,
                          headers=internal_headers(key))  # fmt: skip
    assert (again.status, again.body) == (201, first.body)
    assert again.headers.get("Idempotent-Replayed") == "true"
    other = await op.call("POST", "/internal/v1/transfers", json=body | {"amount": "1.00"},
                          headers=internal_headers(key))  # fmt: skip
    assert (other.status, other.body["code"]) == (422, "idempotency_mismatch")
    # The key belongs to alice's key space: her own public request with it is the same request.
    mine = await alice.call("POST", "/api/v1/transfers",
                            json={k: v for k, v in body.items() if k != "from_account"},
                            headers={"Idempotency-Key": key})  # fmt: skip
    assert (mine.status, mine.body["id"]) == (201, first.body["id"])

    me = await alice.me()
    assert me.body["balance"]["available"] == "37.50"

    withdrawal = await op.call(
        "POST", "/internal/v1/transfers",
        json={"kind": "withdrawal", "amount": "7.50", "currency": "INR",
              "from_account": alice.account_number},
        headers=internal_headers("w-1"),
    )  # fmt: skip
    assert (withdrawal.status, withdrawal.body["state"]) == (201, "posted")
    assert (await alice.me()).body["balance"]["available"] == "30.00"


# Tokens are minted when the test runs, not at import: one minted at
# collection time expires during a long suite and is refused for that reason.
def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _hs256() -> str:
    claims = {
        "iss": "operator",
        "aud": tokens.WALLET_INTERNAL_AUDIENCE,
        "sub": "operator",
        "role": "service",
        "iat": int(time.time()),
        "exp": int(time.time()) + 60,
    }
    return jwt.encode(claims, "any-secret-at-all-0123456789abcdef", algorithm="HS256")


@pytest.mark.parametrize(
    ("make_headers", "status", "code"),
    [
        (dict, 401, "missing_token"),
        (lambda: _bearer(service_token()), 401, "invalid_token"),  # the bank's audience
        (lambda: _bearer(tokens.mint(
            PrivateKey.generate(), signer="operator", audience=tokens.WALLET_INTERNAL_AUDIENCE,
            subject="operator")), 401, "invalid_token"),
        (lambda: _bearer(internal_token(signer="wallet")), 401, "invalid_token"),
        (lambda: _bearer(internal_token(signer="bank-admin")), 401, "invalid_token"),
        (lambda: _bearer(_hs256()), 401, "invalid_token"),
        (lambda: _bearer(internal_token(ttl_seconds=tokens.SERVICE_TTL_MAX + 1,
                                        max_ttl=10**9)), 401, "invalid_token"),
        (lambda: _bearer(internal_token(subject="wallet")), 403, "forbidden"),
        (lambda: _bearer(internal_token(role="admin")), 403, "forbidden"),
    ],
    ids=["no token", "bank audience", "other deployment's key", "the wallet's key",
         "the bank-admin key", "HS256 with any secret", "a lifetime over the cap",
         "the operator's key, another sub", "the operator's key, another role"],
)  # fmt: skip
async def test_the_internal_api_takes_the_operators_key_and_identity_only(
    wallet: RunningWallet,
    http: aiohttp.ClientSession,
    make_headers: Callable[[], dict[str, str]],
    status: int,
    code: str,
) -> None:
    headers = make_headers()
    client = WalletClient(http, wallet.internal_url)
    tid = uuid.uuid4()
    for method, path in [
        ("POST", "/internal/v1/transfers"),
        ("GET", f"/internal/v1/transfers/{tid}"),
        ("GET", "/internal/v1/transfers?state=queued&older_than=60"),
        ("POST", f"/internal/v1/transfers/{tid}/redrive"),
    ]:
        reply = await client.call(method, path, json={} if method == "POST" else None,
                                  headers=headers | {"Idempotency-Key": "k"})  # fmt: skip
        assert (reply.status, reply.body["code"]) == (status, code), (method, path)


async def test_a_users_session_is_not_a_service_token(
    bank: RunningBank, wallet: RunningWallet, http: aiohttp.ClientSession
) -> None:
    alice = await registered(bank, wallet, http)
    her_session = WalletClient(http, wallet.internal_url, token=alice.token)
    reply = await her_session.call("GET", f"/internal/v1/transfers/{uuid.uuid4()}")
    assert reply.status == 401


async def test_bad_internal_requests_are_4xx_problems(
    bank: RunningBank, wallet: RunningWallet, http: aiohttp.ClientSession
) -> None:
    alice = await registered(bank, wallet, http)
    op = WalletClient(http, wallet.internal_url)
    body = {"kind": "deposit", "amount": "1.00", "currency": "INR"}
    cases = [
        ("POST", "/internal/v1/transfers", body, None, 400, "missing_idempotency_key"),
        ("POST", "/internal/v1/transfers", body, "k1", 400, "invalid_account_number"),
        ("POST", "/internal/v1/transfers", body | {"from_account": "999999999999"}, "k2", 404,
         "unknown_account"),
        ("POST", "/internal/v1/transfers", body | {"from_account": alice.account_number,
                                                  "kind": "loan"}, "k3", 400, "invalid_kind"),
        ("GET", "/internal/v1/transfers/not-a-uuid", None, None, 404, "transfer_not_found"),
        ("GET", f"/internal/v1/transfers/{uuid.uuid4()}", None, None, 404, "transfer_not_found"),
        ("POST", f"/internal/v1/transfers/{uuid.uuid4()}/redrive", None, None, 404,
         "transfer_not_found"),
        ("GET", "/internal/v1/transfers?state=posted", None, None, 400, "invalid_query"),
        ("GET", "/internal/v1/transfers?older_than=-1", None, None, 400, "invalid_query"),
        ("GET", "/internal/v1/transfers?limit=0", None, None, 400, "invalid_limit"),
    ]  # fmt: skip
    for method, path, json, key, status, code in cases:
        reply = await op.call(method, path, json=json, headers=internal_headers(key))
        assert (reply.status, reply.body["code"]) == (status, code), (method, path, reply.body)
        assert reply.headers["Content-Type"].startswith("application/problem+json")


async def test_read_any_transfer_list_stuck_ones_and_redrive_is_a_no_op_when_final(
    bank: RunningBank, wallet: RunningWallet, http: aiohttp.ClientSession
) -> None:
    alice = await registered(bank, wallet, http)
    deposit = await move(alice, "deposit", "5.00")
    assert deposit.status == 201
    op = WalletClient(http, wallet.internal_url)
    got = await op.call("GET", f"/internal/v1/transfers/{deposit.body['id']}",
                        headers=internal_headers())  # fmt: skip
    assert (got.status, got.body) == (200, deposit.body)
    listed = await op.call("GET", "/internal/v1/transfers?state=queued&older_than=0",
                           headers=internal_headers())  # fmt: skip
    assert (listed.status, listed.body) == (200, {"items": []})
    redriven = await op.call("POST", f"/internal/v1/transfers/{deposit.body['id']}/redrive",
                             headers=internal_headers())  # fmt: skip
    assert (redriven.status, redriven.body) == (200, deposit.body)


async def test_the_public_port_serves_neither_the_internal_api_nor_metrics(
    bank: RunningBank, wallet: RunningWallet, http: aiohttp.ClientSession
) -> None:
    """An ingress that routes ``/`` to the public port reaches nothing internal: with a
    valid operator token, every internal route there is a 404 problem, as is /metrics;
    the same calls on the internal port work."""
    alice = await registered(bank, wallet, http)
    deposit = await move(alice, "deposit", "5.00")
    assert deposit.status == 201
    tid = deposit.body["id"]
    calls = [
        ("POST", "/internal/v1/transfers"),
        ("GET", f"/internal/v1/transfers/{tid}"),
        ("GET", "/internal/v1/transfers?state=queued&older_than=0"),
        ("POST", f"/internal/v1/transfers/{tid}/redrive"),
        ("GET", "/metrics"),
    ]
    public = WalletClient(http, wallet.url)
    for method, path in calls:
        reply = await public.call(method, path, headers=internal_headers())
        assert reply.status == 404, (method, path, reply.body)
        assert reply.headers["Content-Type"].startswith("application/problem+json"), path
        assert reply.body["code"] == "not_found", path

    internal = WalletClient(http, wallet.internal_url)
    got = await internal.call("GET", f"/internal/v1/transfers/{tid}", headers=internal_headers())
    assert (got.status, got.body) == (200, deposit.body)
    redriven = await internal.call("POST", f"/internal/v1/transfers/{tid}/redrive",
                                   headers=internal_headers())  # fmt: skip
    assert redriven.status == 200
    async with http.get(f"{wallet.internal_url}/metrics") as resp:
        assert resp.status == 200
        text = await resp.text()
    # One registry behind both ports: the public API's requests are counted here too.
    assert 'route="/api/v1/transfers"' in text
    assert 'route="/internal/v1/transfers/{transfer_id}"' in text


async def test_the_internal_port_serves_neither_the_public_api_nor_the_dashboard(
    wallet: RunningWallet, http: aiohttp.ClientSession
) -> None:
    """The other way round: the operator's port is not a second way into the public API."""
    for path in ("/api/v1/openapi.json", "/login", "/"):
        async with http.get(f"{wallet.internal_url}{path}") as resp:
            assert resp.status == 404, path
    async with http.get(f"{wallet.url}/api/v1/openapi.json") as resp:
        assert resp.status == 200
