"""The composer the notifier used before :mod:`vellet.notifier.mime`: the test oracle.

``email.message.EmailMessage`` with the default policy, exactly as the
notifier built each mail until the direct writer replaced it for speed. The
tests parse both outputs with Python's email parser and require the same
headers and bodies, so the fast path cannot drift from what the standard
library considers correct.
"""

from __future__ import annotations

from email import policy
from email.headerregistry import Address
from email.message import EmailMessage

from vellet.notifier.compose import (
    SUBJECT_LIMIT,
    _date,
    boundary,
    check_address,
    message_id,
    templates,
)
from vellet.notifier.domain import Event, Party, mail_context, one_line

ENV = templates()


def reference(event: Event, party: Party, sender: Address) -> bytes:
    to = Address(display_name=party.name, addr_spec=check_address(party.email))
    context = mail_context(event, party)
    wording = ENV.get_template("wording.txt").module
    subject = one_line(str(wording.subject(context)), SUBJECT_LIMIT)  # type: ignore[attr-defined]
    msg = EmailMessage(policy=policy.default)
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = _date(event.occurred_at)
    msg["Message-ID"] = message_id(event, party, sender)
    msg["Auto-Submitted"] = "auto-generated"
    msg["X-Vellet-Event-Id"] = event.event_id
    msg["X-Vellet-Transfer-Id"] = event.transfer_id
    text = ENV.get_template("mail.txt").render(m=context)
    html = ENV.get_template("mail.html").render(m=context)
    msg.set_content(text, charset="utf-8", cte="quoted-printable")
    msg.add_alternative(html, subtype="html", charset="utf-8", cte="quoted-printable")
    msg.set_boundary(boundary(event, party))
    return msg.as_bytes(policy=policy.SMTP)
