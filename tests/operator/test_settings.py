"""The operator's settings: environment in, typed settings and kopf's settings out."""

from __future__ import annotations

import logging

import pytest

from tests.support.keys import TEST_KEYS, key_env
from vellet.common.errors import ConfigError
from vellet.operator.settings import OperatorSettings

MINIMAL = {
    "VELLET_WALLET_INTERNAL_URL": "http://wallet:8080/",
    "VELLET_BANK_URL": "http://bank:8081",
    **key_env("operator"),
    # A scope must be chosen; "*" is the explicit whole cluster.
    "VELLET_OPERATOR_NAMESPACES": "*",
}


def test_defaults_are_safe_for_one_standalone_replica() -> None:
    settings = OperatorSettings.from_env(MINIMAL)
    assert settings.wallet_url == "http://wallet:8080"  # no trailing slash to double
    assert settings.bank_url == "http://bank:8081"
    assert settings.namespaces == ()
    assert settings.peering is None
    assert settings.watch.server_timeout < settings.watch.client_timeout
    assert settings.stuck_after == 60
    assert settings.sweep_api_transfers is True
    assert (settings.http.host, settings.http.port) == ("127.0.0.1", 8084)
    assert settings.keys.signer().key_id == TEST_KEYS["operator"].key_id
    assert "PRIVATE KEY" not in repr(settings)  # the signing key never prints


def test_every_setting_comes_from_the_environment() -> None:
    env = MINIMAL | {
        "VELLET_OPERATOR_NAMESPACES": "vellet, payments,vellet",
        "VELLET_OPERATOR_PEERING": "vellet-operator",
        "VELLET_OPERATOR_WATCH_SERVER_TIMEOUT": "60",
        "VELLET_OPERATOR_WATCH_CLIENT_TIMEOUT": "75",
        "VELLET_OPERATOR_WATCH_CONNECT_TIMEOUT": "2",
        "VELLET_OPERATOR_STUCK_AFTER": "120",
        "VELLET_OPERATOR_TIMER_INTERVAL": "2.5",
        "VELLET_OPERATOR_SWEEP_API_TRANSFERS": "false",
        "VELLET_OPERATOR_HTTP_TIMEOUT": "3",
        "VELLET_OPERATOR_HOST": "0.0.0.0",
        "VELLET_OPERATOR_PORT": "9100",
        "VELLET_SERVICE_TOKEN_TTL": "60",
    }
    settings = OperatorSettings.from_env(env)
    assert settings.namespaces == ("vellet", "payments")
    assert settings.peering == "vellet-operator"
    assert (settings.watch.server_timeout, settings.watch.client_timeout) == (60, 75)
    assert settings.watch.connect_timeout == 2
    assert (settings.stuck_after, settings.timer_interval) == (120, 2.5)
    assert settings.sweep_api_transfers is False
    assert settings.http_timeout == 3
    assert (settings.http.host, settings.http.port) == ("0.0.0.0", 9100)
    assert settings.tokens.ttl_seconds == 60


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        ({"VELLET_WALLET_INTERNAL_URL": ""}, "VELLET_WALLET_INTERNAL_URL"),
        ({"VELLET_BANK_URL": ""}, "VELLET_BANK_URL"),
        ({"VELLET_OPERATOR_KEY": ""}, "VELLET_OPERATOR_KEY"),
        ({"VELLET_OPERATOR_KEY": "not a key"}, "VELLET_OPERATOR_KEY is not a PEM private key"),
        ({"VELLET_SERVICE_TOKEN_TTL": "3600"}, "VELLET_SERVICE_TOKEN_TTL"),
        ({"VELLET_OPERATOR_NAMESPACES": "Payments"}, "namespace name"),
        (
            {
                "VELLET_OPERATOR_WATCH_SERVER_TIMEOUT": "300",
                "VELLET_OPERATOR_WATCH_CLIENT_TIMEOUT": "300",
            },
            "longer than",
        ),
        ({"VELLET_OPERATOR_STUCK_AFTER": "0"}, "VELLET_OPERATOR_STUCK_AFTER"),
        ({"VELLET_OPERATOR_TIMER_INTERVAL": "soon"}, "must be a number"),
        ({"VELLET_OPERATOR_PORT": "70000"}, "VELLET_OPERATOR_PORT"),
    ],
)
def test_unusable_settings_are_refused_with_the_variable_named(
    change: dict[str, str], complaint: str
) -> None:
    with pytest.raises(ConfigError, match=complaint):
        OperatorSettings.from_env(MINIMAL | change)


def test_kopf_gets_watch_timeouts_and_standalone_mode() -> None:
    settings = OperatorSettings.from_env(MINIMAL)
    kopf_settings = settings.kopf_settings()
    assert kopf_settings.watching.server_timeout == settings.watch.server_timeout
    assert kopf_settings.watching.client_timeout == settings.watch.client_timeout
    assert kopf_settings.watching.connect_timeout == settings.watch.connect_timeout
    assert kopf_settings.peering.standalone is True
    assert kopf_settings.posting.level == logging.WARNING  # kopf's chatter is not an Event
    assert settings.run_options() == {
        "clusterwide": True,
        "namespaces": [],
        "standalone": True,
        "peering_name": None,
    }


def test_kopf_gets_peering_and_namespaces_when_configured() -> None:
    env = MINIMAL | {"VELLET_OPERATOR_PEERING": "vellet", "VELLET_OPERATOR_NAMESPACES": "pay"}
    settings = OperatorSettings.from_env(env)
    kopf_settings = settings.kopf_settings()
    assert kopf_settings.peering.standalone is False
    assert kopf_settings.peering.mandatory is True
    assert kopf_settings.peering.name == "vellet"
    assert settings.run_options() == {
        "clusterwide": False,
        "namespaces": ["pay"],
        "standalone": False,
        "peering_name": "vellet",
    }


@pytest.mark.parametrize("scope", ["", "  "])
def test_no_scope_is_refused_the_whole_cluster_is_never_the_default(scope: str) -> None:
    with pytest.raises(ConfigError, match=r"must name the namespaces to watch .* or be \*"):
        OperatorSettings.from_env(MINIMAL | {"VELLET_OPERATOR_NAMESPACES": scope})


def test_a_star_is_the_whole_cluster_and_a_list_is_just_those_namespaces() -> None:
    everywhere = OperatorSettings.from_env(MINIMAL)
    listed = OperatorSettings.from_env(MINIMAL | {"VELLET_OPERATOR_NAMESPACES": "team-a,team-b"})
    assert (everywhere.clusterwide, everywhere.namespaces) == (True, ())
    assert (listed.clusterwide, listed.namespaces) == (False, ("team-a", "team-b"))
    assert listed.run_options()["clusterwide"] is False
    assert OperatorSettings.from_env(MINIMAL).binding_grace == 5.0
