"""SMTP settings and one-message sending, shared by the notifier and the bank.

Both send mail through a relay configured the same way, each with its own
variables (the notifier ``VELLET_SMTP_*``, the bank ``VELLET_BANK_SMTP_*``):
the bank is another party than the wallet and keeps its own mail relay and
sender. The notifier's delivery bookkeeping (leases, the duplicate window)
stays in the notifier; :func:`send` is for the bank's one-off messages.

The password is a :class:`Secret` so a logged settings object never shows it.
It is not held to ``Env.secret``'s 32-character rule (that rule is for keys
Vellet generates; a mail provider's password is whatever it issued).
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Final, Literal

import aiosmtplib

from vellet.common.errors import ConfigError
from vellet.common.settings import Env, Secret

Security = Literal["none", "starttls", "tls"]
SECURITY_CHOICES: Final[tuple[Security, ...]] = ("none", "starttls", "tls")


@dataclass(frozen=True)
class SmtpSettings:
    """An SMTP relay to send through."""

    #: Relay host name or address.
    host: str = "127.0.0.1"
    #: Relay port (25 plain, 587 STARTTLS, 465 implicit TLS are the usual ones).
    port: int = 25
    #: ``none`` (plain; loopback sinks only), ``starttls`` (upgrade, required)
    #: or ``tls`` (implicit TLS from the first byte).
    security: Security = "none"
    #: Login user; no AUTH when unset.
    user: str | None = None
    #: Login password (only used with ``user``).
    password: Secret = field(default=Secret(""), repr=False)
    #: The From header and envelope sender, e.g. ``Vellet <no-reply@example.com>``.
    sender: str = "Vellet <no-reply@vellet.localhost>"
    #: Seconds to wait for any one SMTP reply (also bounds the connect).
    timeout_s: float = 10.0
    #: Verify the relay's TLS certificate (never switch off in production).
    verify_tls: bool = True
    #: Extra CA bundle (PEM) to trust, e.g. a private relay's CA.
    ca_file: str | None = None

    @property
    def lease_ms(self) -> int:
        """How long one party's send may hold its delivery lease (notifier).

        Covers MAIL, RCPT and DATA (each bounded by ``timeout_s``) with room
        to spare, so a live sender never loses its lease mid-transaction.
        """
        return int(self.timeout_s * 4 * 1000) + 1000


def smtp_from_env(
    env: Env, group: str = "SMTP", *, sender: str = SmtpSettings.sender
) -> SmtpSettings:
    """``VELLET_<group>_HOST``, ``_PORT``, ``_SECURITY``, ``_USER``, ``_PASSWORD``,
    ``_FROM``, ``_TIMEOUT``, ``_VERIFY_TLS`` and ``_CA_FILE``, checked together."""
    prefix = f"VELLET_{group}_"
    security = env.text(f"{prefix}SECURITY", "none").lower()
    if security not in SECURITY_CHOICES:
        raise ConfigError(
            f"{prefix}SECURITY must be one of {', '.join(SECURITY_CHOICES)}, got {security!r}"
        )
    user = env.optional(f"{prefix}USER")
    password = env.optional(f"{prefix}PASSWORD")
    if user is not None and password is None:
        raise ConfigError(f"{prefix}PASSWORD must be set when {prefix}USER is")
    if user is not None and security == "none":
        raise ConfigError(f"{prefix}USER needs {prefix}SECURITY starttls or tls")
    return SmtpSettings(
        host=env.text(f"{prefix}HOST", "127.0.0.1"),
        port=env.integer(f"{prefix}PORT", 25, minimum=1, maximum=65535),
        security=security,
        user=user,
        password=Secret(password or ""),
        sender=env.text(f"{prefix}FROM", sender),
        timeout_s=env.number(f"{prefix}TIMEOUT", 10.0, minimum=0.1),
        verify_tls=env.flag(f"{prefix}VERIFY_TLS", True),
        ca_file=env.optional(f"{prefix}CA_FILE"),
    )


def tls_context(settings: SmtpSettings) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=settings.ca_file)
    if not settings.verify_tls:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def client(settings: SmtpSettings) -> aiosmtplib.SMTP:
    """An unconnected client for ``settings``: TLS exactly as configured, never guessed."""
    secure = settings.security != "none"
    return aiosmtplib.SMTP(
        hostname=settings.host,
        port=settings.port,
        timeout=settings.timeout_s,
        use_tls=settings.security == "tls",
        # False, not None: "none" must never upgrade behind our back, and
        # "starttls" must fail rather than fall back to plain text.
        start_tls=settings.security == "starttls",
        tls_context=tls_context(settings) if secure else None,
        username=settings.user,
        password=settings.password.get() if settings.user else None,
    )


async def send(settings: SmtpSettings, message: EmailMessage) -> None:
    """Send one message (connect, send, quit); raises ``aiosmtplib`` errors or ``OSError``."""
    smtp = client(settings)
    await smtp.connect()
    try:
        await smtp.send_message(message)
    finally:
        try:
            await smtp.quit()
        except (aiosmtplib.SMTPException, OSError):
            smtp.close()
