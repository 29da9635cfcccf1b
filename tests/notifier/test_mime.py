"""The direct MIME writer: what Python's parser reads back is what was meant.

The oracle is the ``EmailMessage`` composer the notifier used before
(:mod:`tests.notifier.reference_mail`): for the same event and party both
messages must parse to the same headers and the same bodies, for plain
ASCII, for non-ASCII names and notes, and for arbitrary text (hypothesis).
"""

from __future__ import annotations

import email
from email import policy
from email.header import decode_header, make_header
from email.headerregistry import Address
from email.message import EmailMessage
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.notifier.factories import ASHA, BO, ZOE, bank, p2p
from tests.notifier.reference_mail import reference
from vellet.notifier import mime
from vellet.notifier.compose import Composer
from vellet.notifier.domain import Event, Party, mail_context, parse_event

SENDER = Address(display_name="Vellet", addr_spec="no-reply@vellet.test")
COMPOSER = Composer(SENDER)
HEADERS = ("From", "To", "Subject", "Date", "Message-ID", "Auto-Submitted",
           "X-Vellet-Event-Id", "X-Vellet-Transfer-Id", "MIME-Version")  # fmt: skip


def parsed(raw: bytes) -> EmailMessage:
    msg = email.message_from_bytes(raw, policy=policy.default)
    assert isinstance(msg, EmailMessage)
    return msg


def bodies(msg: EmailMessage) -> tuple[str, str]:
    text, html = msg.get_body(("plain",)), msg.get_body(("html",))
    assert isinstance(text, EmailMessage)
    assert isinstance(html, EmailMessage)
    assert text.get_content_charset() == html.get_content_charset() == "utf-8"
    return text.get_content(), html.get_content()


def check_wire_form(raw: bytes) -> None:
    raw.decode("ascii")  # 7-bit clean: encoded words and quoted-printable
    assert b"\n" not in raw.replace(b"\r\n", b"")  # no bare LF
    assert b"\r" not in raw.replace(b"\r\n", b"")  # no bare CR
    lines = raw.split(b"\r\n")
    assert max(len(line) for line in lines) <= 998
    head = raw.split(b"\r\n\r\n", 1)[0].split(b"\r\n")
    # 78 is a SHOULD; only a line holding one unbreakable word may pass it.
    long = [line for line in head if len(line) > 78 and len(line.split()) > 2]
    assert long == []
    assert all(line.strip() for line in head)  # no white-space-only folded line


def rfc2047(raw: bytes, name: str) -> str:
    """A header decoded as RFC 2047 says (white space between encoded words dropped)."""
    value = email.message_from_bytes(raw, policy=policy.compat32)[name]
    return str(make_header(decode_header(value.replace("\r\n", ""))))


def reference_misread(old: EmailMessage, event: Event, party: Party) -> bool:
    """The reference's own header does not read back as what it was given."""
    [to] = old["To"].addresses
    subject = COMPOSER.subject(mail_context(event, party))
    return to.display_name != party.name or str(old["Subject"]) != subject


def same_as_reference(event: Event) -> None:
    for party in event.parties:
        raw = COMPOSER.message(event, party)
        check_wire_form(raw)
        new, old = parsed(raw), parsed(reference(event, party, SENDER))
        for name in HEADERS:
            assert str(new[name]) == str(old[name]) or reference_misread(old, event, party), name
        # Against the truth too: the reference writes a name that looks like
        # an encoded word ("=?utf-8?b?QQ==?=") as it is, and it reads back as
        # "A". The To header is decoded by the RFC 2047 decoder: the
        # policy.default parser puts a space between adjacent encoded words
        # of a display name (a CPython quirk, the reference reads back the same).
        [to] = new["To"].addresses
        assert to.addr_spec == party.email
        to_header = f"{party.name} <{party.email}>" if party.name else party.email
        assert rfc2047(raw, "To") == to_header
        assert str(new["Subject"]) == COMPOSER.subject(mail_context(event, party))
        assert new.get_content_type() == old.get_content_type() == "multipart/alternative"
        assert new.get_boundary() == old.get_boundary()
        assert [p.get_content_type() for p in new.iter_parts()] == ["text/plain", "text/html"]
        assert bodies(new) == bodies(old)
        assert new.defects == []
        assert all(part.defects == [] for part in new.walk())


@pytest.mark.parametrize(
    "event",
    [
        p2p(),
        p2p(ZOE, ASHA, note="<script>alert(1)</script> & ünïcödé ☃", currency="EUR"),
        p2p(BO, ZOE, state="failed", failure_reason="Zoë's limit — 李"),
        p2p({**ASHA, "name": 'Dr. "Asha", Rao \\ (admin): x@y'}, BO),
        p2p({**ASHA, "name": "=?utf-8?b?QQ==?= looks encoded"}, BO),
        p2p({**ASHA, "name": "李" * 100}, {**BO, "name": "x" * 100}, note="n" * 500),
        p2p({**ASHA, "name": ""}, BO),
        bank("deposit", ZOE),
        bank("withdrawal", state="failed", failure_reason="=?x?= " + "é" * 300),
    ],
)
def test_parses_to_what_email_message_made(event: Any) -> None:
    same_as_reference(parse_event(event))


TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=120)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sender=TEXT, recipient=TEXT, note=st.none() | TEXT, reason=st.none() | TEXT)
def test_any_text_parses_to_what_email_message_made(
    sender: str, recipient: str, note: str | None, reason: str | None
) -> None:
    event = p2p({**ASHA, "name": sender}, {**BO, "name": recipient}, note=note,
                state="failed" if reason else "posted", failure_reason=reason)  # fmt: skip
    same_as_reference(parse_event(event))


@given(text=st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=300))
def test_encoded_words_hold_whole_characters_and_decode_to_the_text(text: str) -> None:
    words = mime.encoded_words(text)
    assert all(len(word) <= 75 for word in words)
    assert "".join(decode_header(word)[0][0].decode("utf-8") for word in words) == text


@pytest.mark.parametrize("value", ["a\r\nBcc: eve@x", "a\nb", "a\rb"])
def test_a_line_break_never_reaches_a_header(value: str) -> None:
    with pytest.raises(ValueError, match="line break"):
        mime.unstructured("Subject", value)
    with pytest.raises(ValueError, match="line break"):
        mime.mailbox("To", value, "bo@example.test")
    with pytest.raises(ValueError, match="line break"):
        mime.plain("X-Vellet-Event-Id", value)


def test_an_address_must_be_plain() -> None:
    with pytest.raises(ValueError, match="plain ASCII"):
        mime.mailbox("To", "Bo", "bö@example.test")
    with pytest.raises(ValueError, match="plain ASCII"):
        mime.mailbox("To", "Bo", "bo@example.test eve@example.test")


def test_a_body_gets_crlf_line_ends_and_a_final_line_break() -> None:
    assert mime.quoted_printable("a\nb") == b"a\r\nb\r\n"
    assert mime.quoted_printable("a \nb\r\nc\rd\n") == b"a=20\r\nb\r\nc\r\nd\r\n"
    long = mime.quoted_printable("é" * 200)
    assert all(len(line) <= 76 for line in long.split(b"\r\n"))
