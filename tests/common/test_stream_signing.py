"""The signing envelope itself: what a consumer accepts and why it refuses the rest.

Pure: no Redis here (the consumers' tests show the same refusals on real
streams). Each case is one way an attacker with Redis access could try to
get a message acted on.
"""

from __future__ import annotations

import json

import pytest

from tests.support.keys import TEST_KEYS
from vellet.common import streams

WALLET, BANK = TEST_KEYS["wallet"], TEST_KEYS["bank"]
TRUSTS_WALLET = (WALLET.public(),)
REQUEST = {"transfer_id": "5f0e", "account_number": "100000000001", "direction": "to_wallet",
           "amount": "10.00", "currency": "INR"}  # fmt: skip


def signed(key=WALLET, stream=streams.BANK_REQUESTS, payload=REQUEST):  # type: ignore[no-untyped-def]
    return streams.message(key, stream, payload)


def refusal(fields: dict[str, str], stream: str = streams.BANK_REQUESTS) -> str:
    with pytest.raises(streams.Refused) as caught:
        streams.verify(stream, fields, TRUSTS_WALLET)
    return caught.value.reason


def test_a_message_signed_by_the_expected_producer_for_this_stream_is_accepted() -> None:
    fields = signed()
    assert set(fields) == {"payload", "kid", "signed_at", "sig"}
    assert fields["kid"] == WALLET.key_id
    streams.verify(streams.BANK_REQUESTS, fields, TRUSTS_WALLET)
    assert streams.payload_of(fields) == REQUEST


def test_an_unsigned_message_is_refused() -> None:
    assert refusal({"payload": json.dumps(REQUEST)}) == "unsigned"


def test_a_message_signed_by_another_key_is_refused() -> None:
    assert refusal(signed(key=BANK)) == "unknown_key"
    assert refusal(signed(key=TEST_KEYS["operator"])) == "unknown_key"


def test_a_forgery_that_claims_the_right_key_id_is_refused() -> None:
    forged = signed(key=BANK) | {"kid": WALLET.key_id}
    assert refusal(forged) == "bad_signature"


@pytest.mark.parametrize("field", ["amount", "account_number", "direction", "currency",
                                   "transfer_id"])  # fmt: skip
def test_changing_any_field_of_the_payload_breaks_the_signature(field: str) -> None:
    fields = signed()
    altered = dict(REQUEST, **{field: REQUEST[field] + "0"})
    fields["payload"] = json.dumps(altered, sort_keys=True)
    assert refusal(fields) == "bad_signature"


def test_changing_the_timestamp_or_adding_a_field_breaks_the_signature() -> None:
    assert refusal(signed() | {"signed_at": "2030-01-01T00:00:00+00:00"}) == "bad_signature"
    assert refusal(signed() | {"extra": "x"}) == "bad_signature"


def test_a_genuine_message_copied_onto_another_stream_is_refused() -> None:
    event = signed(stream=streams.TRANSFER_EVENTS)
    assert refusal(event, streams.BANK_REQUESTS) == "wrong_stream"


def test_a_message_without_its_key_id_or_timestamp_is_refused() -> None:
    for name in ("kid", "signed_at"):
        fields = signed()
        del fields[name]
        assert refusal(fields) == "missing_field"
    assert refusal(signed() | {"sig": "***"}) in ("malformed", "bad_signature")


def test_a_consumer_that_trusts_no_key_refuses_everything() -> None:
    with pytest.raises(streams.Refused):
        streams.verify(streams.BANK_REQUESTS, signed(), ())
