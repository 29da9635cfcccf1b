"""Hostile and non-ASCII input arrives escaped and correctly encoded, over real SMTP."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from email.message import EmailMessage

from tests.notifier.conftest import MailServer, Running, settled
from tests.notifier.factories import ASHA, ZOE, p2p
from tests.notifier.waiting import eventually
from tests.support.keys import TEST_KEYS
from vellet.common.streams import TRANSFER_EVENTS, Redis, publish

Launch = Callable[..., Awaitable[Running]]

SCRIPT = "<script>alert(1)</script>"


def parts(message: EmailMessage) -> tuple[str, str]:
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert isinstance(text, EmailMessage)
    assert isinstance(html, EmailMessage)
    assert text.get_content_charset() == "utf-8"
    assert html.get_content_charset() == "utf-8"
    return text.get_content(), html.get_content()


def header_names(raw: bytes) -> list[str]:
    head = raw.split(b"\r\n\r\n", 1)[0].decode("ascii")
    return [line.split(":", 1)[0] for line in head.split("\r\n") if line and line[0] not in " \t"]


async def test_script_note_and_non_ascii_name_arrive_escaped_and_encoded(
    notifiers: Launch, smtp: MailServer, redis: Redis
) -> None:
    await notifiers()
    event = p2p(ZOE, ASHA, note=SCRIPT, amount="12.00", currency="EUR")
    await publish(redis, TRANSFER_EVENTS, event, TEST_KEYS["wallet"])
    await eventually(lambda: settled(redis), "event acknowledged")

    [to_zoe] = smtp.to(ZOE["email"])
    [to_asha] = smtp.to(ASHA["email"])
    for received in (to_zoe, to_asha):
        received.raw.decode("ascii")  # 7-bit clean on the wire: encoded words, QP bodies
    assert to_asha.message["Subject"] == "You received 12.00 EUR from Zoë Ångström 李"
    assert "=?utf-8?" in to_asha.raw.split(b"\r\n\r\n", 1)[0].decode()
    [zoe_address] = to_zoe.message["To"].addresses
    assert zoe_address.display_name == "Zoë Ångström 李"
    assert zoe_address.addr_spec == ZOE["email"]

    text, html = parts(to_asha.message)
    assert SCRIPT in text  # plain text shows it as typed
    assert "Zoë Ångström 李" in text
    assert "<script" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "Zoë Ångström 李" in html


async def test_crlf_in_name_or_note_cannot_add_a_header_or_recipient(
    notifiers: Launch, smtp: MailServer, redis: Redis
) -> None:
    await notifiers()
    evil_sender = {**ZOE, "name": "Zoë\r\nBcc: eve@example.test\r\nX-Evil: 1"}
    event = p2p(evil_sender, ASHA, note="hi\r\nBcc: eve@example.test\r\n\r\n<b>body</b>")
    await publish(redis, TRANSFER_EVENTS, event, TEST_KEYS["wallet"])
    await eventually(lambda: settled(redis), "event acknowledged")

    assert sorted(r.rcpt_tos[0] for r in smtp.received) == sorted([ZOE["email"], ASHA["email"]])
    for received in smtp.received:
        assert received.rcpt_tos in ([ZOE["email"]], [ASHA["email"]])
        names = header_names(received.raw)
        assert "Bcc" not in names
        assert "X-Evil" not in names
        assert received.message["Bcc"] is None
    [to_asha] = smtp.to(ASHA["email"])
    assert to_asha.message["Subject"] == (
        "You received 125.50 INR from Zoë Bcc: eve@example.test X-Evil: 1"
    )
    _, html = parts(to_asha.message)
    assert "<b>body</b>" not in html
    assert "&lt;b&gt;body&lt;/b&gt;" in html
