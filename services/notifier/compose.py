"""Turning (event, party) into one MIME message: templates in, bytes out.

Why each choice:

* The wording lives in ``templates/wording.txt`` as plain-text macros that
  both bodies import. The HTML template is autoescaped, so what a macro
  returns (it contains names) is escaped once, where it is written into HTML.
* The templates are looked up once per :class:`Composer`, not per mail.
* The message is written straight to bytes by :mod:`vellet.notifier.mime`
  (the ``email`` package cost about 1.4 ms per mail, most of the notifier's
  time): it refuses CR/LF in header values and RFC 2047-encodes non-ASCII
  names and subjects, and :func:`vellet.notifier.domain.one_line` has
  already reduced every user-supplied string to one line before it gets
  near a header.
* Bodies are UTF-8 in quoted-printable, so no relay needs 8BITMIME.
* ``Message-ID`` is derived from (event, party), so the only duplicate the
  notifier can ever send (see the package docstring) carries the same id as
  the original, and mail systems that collapse identical ids hide it.
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime
from email.headerregistry import Address
from email.utils import format_datetime, parseaddr
from typing import Final

import jinja2

from vellet.common.errors import ConfigError
from vellet.notifier import mime
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


def boundary(event: Event, party: Party) -> str:
    """Deterministic, so a resent copy is the same bytes.

    "=_" cannot occur in quoted-printable text (it would be "=3D_"), so it
    never clashes with a body.
    """
    digest = hashlib.sha256(f"{event.event_id}|{party.key}".encode()).hexdigest()[:32]
    return f"=_vellet_{digest}"


class Composer:
    """The mail for each (event, party), from templates looked up once."""

    def __init__(self, sender: Address, env: jinja2.Environment | None = None) -> None:
        env = env or templates()
        self.sender = sender
        self._text = env.get_template("mail.txt")
        self._html = env.get_template("mail.html")
        self._wording = env.get_template("wording.txt").module
        self._from = mime.mailbox("From", sender.display_name, sender.addr_spec)

    def subject(self, context: dict[str, object]) -> str:
        return one_line(str(self._wording.subject(context)), SUBJECT_LIMIT)  # type: ignore[attr-defined]

    def message(self, event: Event, party: Party) -> bytes:
        """The wire form for one party; :class:`InvalidAddress` when it cannot have one."""
        address = check_address(party.email)
        context = mail_context(event, party)
        headers = [
            self._from,
            mime.mailbox("To", party.name, address),
            mime.unstructured("Subject", self.subject(context)),
            mime.plain("Date", _date(event.occurred_at)),
            mime.plain("Message-ID", message_id(event, party, self.sender)),
            # RFC 3834: tells auto-responders (vacation replies) not to answer.
            "Auto-Submitted: auto-generated",
            mime.plain("X-Vellet-Event-Id", event.event_id),
            mime.plain("X-Vellet-Transfer-Id", event.transfer_id),
        ]
        text = self._text.render(m=context)
        html = self._html.render(m=context)
        return mime.alternative(headers, boundary(event, party), text, html)
