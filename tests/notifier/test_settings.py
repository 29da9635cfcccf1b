"""Configuration from the environment: defaults, refusals, and no password leaks."""

from __future__ import annotations

import pytest

from tests.support.keys import key_env
from vellet.common.errors import ConfigError
from vellet.notifier.settings import NotifierSettings

BASE = {"VELLET_REDIS_URL": "redis://127.0.0.1:6379/0", **key_env(None, ("wallet",))}


def test_defaults_are_a_local_plain_relay() -> None:
    settings = NotifierSettings.from_env(BASE)
    assert settings.smtp.host == "127.0.0.1"
    assert settings.smtp.port == 25
    assert settings.smtp.security == "none"
    assert settings.smtp.user is None
    assert settings.http.port == 8083
    assert settings.retry.attempts == 6
    assert settings.ready_needs_smtp is False


def test_everything_is_configurable_and_the_password_never_prints() -> None:
    password = "hunter2-but-longer"
    settings = NotifierSettings.from_env(
        {
            **BASE,
            "VELLET_SMTP_HOST": "smtp.example.com",
            "VELLET_SMTP_PORT": "465",
            "VELLET_SMTP_SECURITY": "TLS",
            "VELLET_SMTP_USER": "vellet",
            "VELLET_SMTP_PASSWORD": password,
            "VELLET_SMTP_FROM": "Vellet <no-reply@example.com>",
            "VELLET_SMTP_TIMEOUT": "2.5",
            "VELLET_NOTIFIER_RETRY_BASE_MS": "100",
            "VELLET_NOTIFIER_RETRY_MAX_MS": "5000",
            "VELLET_NOTIFIER_RETRY_ATTEMPTS": "3",
            "VELLET_CONSUMER_NAME": "notifier-0",
            "VELLET_NOTIFIER_READY_NEEDS_SMTP": "true",
        }
    )
    assert settings.smtp.security == "tls"
    assert settings.smtp.port == 465
    assert settings.smtp.password.get() == password
    assert settings.smtp.timeout_s == 2.5
    assert (settings.retry.base_ms, settings.retry.max_ms, settings.retry.attempts) == (
        100,
        5000,
        3,
    )
    assert settings.consumer_name == "notifier-0"
    assert settings.ready_needs_smtp is True
    assert password not in repr(settings)
    assert password not in str(settings)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({}, "VELLET_REDIS_URL"),
        ({**BASE, "VELLET_SMTP_SECURITY": "ssl3"}, "VELLET_SMTP_SECURITY"),
        ({**BASE, "VELLET_SMTP_USER": "u", "VELLET_SMTP_SECURITY": "tls"}, "VELLET_SMTP_PASSWORD"),
        ({**BASE, "VELLET_SMTP_USER": "u", "VELLET_SMTP_PASSWORD": "p"}, "starttls or tls"),
        ({**BASE, "VELLET_SMTP_PORT": "0"}, "VELLET_SMTP_PORT"),
        ({**BASE, "VELLET_NOTIFIER_RETRY_ATTEMPTS": "0"}, "VELLET_NOTIFIER_RETRY_ATTEMPTS"),
    ],
)
def test_bad_configuration_is_refused_with_the_variable_named(
    env: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        NotifierSettings.from_env(env)
