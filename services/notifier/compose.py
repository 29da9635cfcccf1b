"""Turning (event, party) into one MIME message: templates in, bytes out.

Why each choice:

* The wording lives in ``templates/wording.txt`` as plain-text macros that
  both bodies import. The HTML template is autoescaped, so what a macro
  returns (it contains names) is escaped once, where it is written into HTML.
* ``email.message.EmailMessage`` with the default policy builds the message:
  it refuses CR/LF in header values and RFC 2047-encodes non-ASCII names, and
  :func:`vellet.notifier.domain.one_line` has already reduced every
  user-supplied string to one line before it gets near a header.
* Bodies are UTF-8 in quoted-printable, so no relay needs 8BITMIME.
* ``Message-ID`` is derived from (event, party), so the only duplicate the
  notifier can ever send (see the package docstring) carries the same id as
  the original, and mail systems that collapse identical ids hide it.
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from typing import Final

import jinja2

from vellet.common.errors import ConfigError
from vellet.notifier.domain import MAX_NAME, Event, Party, mail_context, one_line

# Plain ASCII addresses only: a mailbox the relay can take without SMTPUTF8,
# and nothing that could smuggle a second header or recipient.
_ADDRESS_RE: Final = re.compile(
    r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$"
)
SUBJECT_LIMIT: Final = 200


class InvalidAddress(ValueError):
    """A party's e-mail address cannot be written to."""


def templates() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("vellet.notifier", "templates"),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html",), default=False),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def check_address(value: str) -> str:
    if len(value) > 254 or not _ADDRESS_RE.fullmatch(value):
        raise InvalidAddress("not a plain e-mail address")
    return value


def sender_address(value: str) -> Address:
    """Parse ``VELLET_SMTP_FROM`` ("Name <addr>" or "addr") once, at start-up."""
    name, addr = parseaddr(value)
    try:
        return Address(display_name=one_line(name, MAX_NAME), addr_spec=check_address(addr))
    except (InvalidAddress, ValueError):
        raise ConfigError(
            "VELLET_SMTP_FROM must be an address like 'Vellet <no-reply@example.com>'"
        ) from None


def _date(occurred_at: str) -> str:
    # The transfer's time, not the send time: a resent copy is then
    # byte-for-byte the original, and the mail dates what it reports.
    try:
        when = datetime.fromisoformat(occurred_at.replace("Z", "+00:00"))
    except ValueError:
        when = datetime.now(UTC)
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return format_datetime(when)


def message_id(event: Event, party: Party, sender: Address) -> str:
    local = f"{event.event_id}.{party.role}.{party.account_number}"
    return f"<{local}@{sender.domain or 'vellet.localhost'}>"


def compose(env: jinja2.Environment, event: Event, party: Party, sender: Address) -> EmailMessage:
    """The mail for one party; :class:`InvalidAddress` when it cannot have one."""
    to = Address(display_name=party.name, addr_spec=check_address(party.email))
    context = mail_context(event, party)
    wording = env.get_template("wording.txt").module
    subject = one_line(str(wording.subject(context)), SUBJECT_LIMIT)  # type: ignore[attr-defined]

    msg = EmailMessage(policy=policy.default)
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = _date(event.occurred_at)
    msg["Message-ID"] = message_id(event, party, sender)
    # RFC 3834: tells auto-responders (vacation replies) not to answer.
    msg["Auto-Submitted"] = "auto-generated"
    msg["X-Vellet-Event-Id"] = event.event_id
    msg["X-Vellet-Transfer-Id"] = event.transfer_id
    text = env.get_template("mail.txt").render(m=context)
    html = env.get_template("mail.html").render(m=context)
    msg.set_content(text, charset="utf-8", cte="quoted-printable")
    msg.add_alternative(html, subtype="html", charset="utf-8", cte="quoted-printable")
    # Deterministic, so a resent copy is the same bytes. "=_" cannot occur in
    # quoted-printable text (it would be "=3D_"), so it never clashes with a body.
    digest = hashlib.sha256(f"{event.event_id}|{party.key}".encode()).hexdigest()[:32]
    msg.set_boundary(f"=_vellet_{digest}")
    return msg


def to_bytes(msg: EmailMessage) -> bytes:
    """Wire form: CRLF line ends, 7-bit clean (encoded words, QP bodies)."""
    return msg.as_bytes(policy=policy.SMTP)
