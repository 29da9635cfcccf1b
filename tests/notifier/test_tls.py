"""STARTTLS, implicit TLS and AUTH against a real aiosmtpd with its own certificate."""

from __future__ import annotations

import datetime
import ipaddress
import logging
import ssl
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.notifier.conftest import MailServer, Running, settled
from tests.notifier.factories import ASHA, BO, p2p
from tests.notifier.waiting import eventually
from tests.support.keys import TEST_KEYS
from vellet.common.settings import Secret
from vellet.common.streams import TRANSFER_EVENTS, Redis, publish
from vellet.notifier.settings import SmtpSettings

Launch = Callable[..., Awaitable[Running]]
PASSWORD = "s3cret-relay-password"


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


def server_context(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*map(str, certificate))
    return context


class Logins:
    def __init__(self) -> None:
        self.seen: list[tuple[str, bool]] = []

    def __call__(
        self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any
    ) -> AuthResult:
        assert isinstance(data, LoginPassword)
        ok = data.login == b"vellet" and data.password == PASSWORD.encode()
        self.seen.append((mechanism, ok))
        return AuthResult(success=ok)


async def restart(smtp: MailServer, **options: Any) -> None:
    await smtp.stop()
    for name, value in options.items():
        setattr(smtp, name, value)
    await smtp.start()


def tls_settings(smtp: MailServer, certificate: tuple[Path, Path], **changes: Any) -> SmtpSettings:
    base: dict[str, Any] = {
        "host": smtp.host,
        "port": smtp.port,
        "sender": "Vellet <no-reply@vellet.test>",
        "timeout_s": 3,
        "ca_file": str(certificate[0]),
        "user": "vellet",
        "password": Secret(PASSWORD),
    }
    return SmtpSettings(**{**base, **changes})


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")
@pytest.mark.parametrize("security", ["starttls", "tls"])
async def test_mail_goes_over_tls_with_auth(
    security: str,
    notifiers: Launch,
    smtp: MailServer,
    redis: Redis,
    certificate: tuple[Path, Path],
    caplog: pytest.LogCaptureFixture,
) -> None:
    logins = Logins()
    context = server_context(certificate)
    common = {"authenticator": logins, "auth_required": True}
    if security == "starttls":
        await restart(
            smtp, smtp_options={**common, "tls_context": context, "require_starttls": True}
        )
    else:
        # aiosmtpd cannot tell an implicit-TLS socket from a plain one, so it
        # must be told that AUTH is fine here; the transport is TLS all along.
        await restart(smtp, tls=context, smtp_options={**common, "auth_require_tls": False})
    caplog.set_level(logging.DEBUG)
    await notifiers(smtp=tls_settings(smtp, certificate, security=security))
    await publish(redis, TRANSFER_EVENTS, p2p(), TEST_KEYS["wallet"])
    await eventually(lambda: settled(redis), "event acknowledged")

    assert sorted(r.rcpt_tos[0] for r in smtp.received) == sorted([ASHA["email"], BO["email"]])
    assert logins.seen
    assert all(ok for _, ok in logins.seen)
    assert PASSWORD not in caplog.text


async def test_a_wrong_password_keeps_mail_queued_and_never_logs_the_password(
    notifiers: Launch,
    smtp: MailServer,
    redis: Redis,
    certificate: tuple[Path, Path],
    caplog: pytest.LogCaptureFixture,
) -> None:
    logins = Logins()
    await restart(
        smtp,
        smtp_options={
            "authenticator": logins,
            "auth_required": True,
            "tls_context": server_context(certificate),
            "require_starttls": True,
        },
    )
    caplog.set_level(logging.DEBUG)
    wrong = tls_settings(smtp, certificate, security="starttls", password=Secret(PASSWORD + "x"))
    running = await notifiers(smtp=wrong)
    await publish(redis, TRANSFER_EVENTS, p2p(), TEST_KEYS["wallet"])

    async def refused_twice() -> bool:
        return await running.metric("vellet_notifier_emails_total", result="retried") >= 2

    await eventually(refused_twice, "login refused and retried")
    assert smtp.received == []
    assert not await settled(redis)
    assert PASSWORD not in caplog.text


async def test_starttls_required_but_not_offered_sends_nothing_in_clear(
    notifiers: Launch, smtp: MailServer, redis: Redis, certificate: tuple[Path, Path]
) -> None:
    running = await notifiers(smtp=tls_settings(smtp, certificate, security="starttls", user=None))
    await publish(redis, TRANSFER_EVENTS, p2p(), TEST_KEYS["wallet"])

    async def retried() -> bool:
        return await running.metric("vellet_notifier_emails_total", result="retried") >= 2

    await eventually(retried, "relay refused for lack of STARTTLS")
    assert smtp.rcpt_attempts == []
    assert smtp.received == []


async def test_an_untrusted_certificate_is_refused(
    notifiers: Launch, smtp: MailServer, redis: Redis, certificate: tuple[Path, Path]
) -> None:
    await restart(smtp, tls=server_context(certificate))
    running = await notifiers(
        smtp=tls_settings(smtp, certificate, security="tls", user=None, ca_file=None)
    )
    await publish(redis, TRANSFER_EVENTS, p2p(), TEST_KEYS["wallet"])

    async def retried() -> bool:
        return await running.metric("vellet_notifier_emails_total", result="retried") >= 2

    await eventually(retried, "TLS handshake refused")
    assert smtp.received == []
