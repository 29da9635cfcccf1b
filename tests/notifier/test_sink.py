"""The mail sink `vellet up` runs: mail lands in a Maildir and on a page a person can read."""

from __future__ import annotations

import mailbox
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp

from tests.notifier.conftest import Running, settled
from tests.notifier.factories import ASHA, ZOE, p2p
from tests.notifier.waiting import eventually
from tests.support.keys import TEST_KEYS
from vellet.common.streams import TRANSFER_EVENTS, Redis, publish
from vellet.notifier.settings import SmtpSettings
from vellet.notifier.sink import start_sink

Launch = Callable[..., Awaitable[Running]]


async def test_the_sink_keeps_mail_in_a_maildir_and_lists_it_over_http(
    notifiers: Launch, redis: Redis, tmp_path: Path
) -> None:
    sink = await start_sink(tmp_path / "data" / "mail")
    try:
        await notifiers(smtp=SmtpSettings(host=sink.host, port=sink.smtp_port))
        await publish(
            redis,
            TRANSFER_EVENTS,
            p2p(ZOE, ASHA, note="<script>alert(1)</script>"),
            TEST_KEYS["wallet"],
        )
        await eventually(lambda: settled(redis), "event acknowledged")

        assert len(mailbox.Maildir(sink.maildir, create=False)) == 2
        assert str(sink.maildir) in sink.describe()
        assert sink.http_url in sink.describe()
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{sink.http_url}/messages.json") as resp:
                listed = await resp.json()
            assert sorted(m["to"] for m in listed) == [
                "Asha Rao <asha@example.test>",
                "Zoë Ångström 李 <zoe@example.test>",
            ]
            async with http.get(f"{sink.http_url}/") as resp:
                index = await resp.text()
            assert "You received 125.50 INR from Zoë Ångström 李" in index
            [to_asha] = [m for m in listed if "asha" in m["to"]]
            async with http.get(f"{sink.http_url}/messages/{to_asha['id']}") as resp:
                page = await resp.text()
            assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
            assert "<script>" not in page
            async with http.get(f"{sink.http_url}/messages/{to_asha['id']}/html") as resp:
                assert "sandbox" in resp.headers["Content-Security-Policy"]
                assert "&lt;script&gt;" in await resp.text()
            async with http.get(f"{sink.http_url}/messages/no-such-mail") as resp:
                assert resp.status == 404
    finally:
        await sink.stop()
