"""The chart's Redis: one ACL user per workload, and the ACL file really holds.

The ACL file the chart renders is loaded by a real redis-server 7 here (the
chart's image is Redis 7.4; Debian's 7.0 has the same selectors): each
workload's password opens only its own user, and the notifier's user gets
NOPERM on the bank's request stream.
"""

from __future__ import annotations

import base64
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from redis.exceptions import NoPermissionError

from tests.chart.helm import RELEASE, named, of_kind, render, scenario
from vellet.common import redis_acl, streams
from vellet.common.embedded import free_port
from vellet.common.embedded._redis import redis_server

WORKLOADS = ("bank", "wallet", "notifier")
PREFIX = f"{RELEASE}-vellet"


@pytest.fixture(scope="module")
def dev() -> list[dict[str, Any]]:
    return render([scenario("default")])


def _redis_env(docs: list[dict[str, Any]], workload: str) -> dict[str, Any]:
    spec = named(docs, "Deployment", f"{PREFIX}-{workload}")["spec"]["template"]["spec"]
    env = spec["containers"][0]["env"]
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in env if "REDIS" in e["name"]}


def _secret(docs: list[dict[str, Any]]) -> dict[str, str]:
    data = named(docs, "Secret", f"{PREFIX}-redis")["data"]
    return {key: base64.b64decode(value).decode() for key, value in data.items()}


@pytest.mark.parametrize("values", ["default", "external"])
def test_each_workload_connects_as_its_own_user(values: str) -> None:
    docs = render([scenario(values)])
    users, keys = {}, set()
    for workload in WORKLOADS:
        env = _redis_env(docs, workload)
        users[workload] = env["VELLET_REDIS_URL"].split("//", 1)[1].split(":", 1)[0]
        keys.add(env["VELLET_REDIS_PASSWORD"]["secretKeyRef"]["key"])
        assert "$(VELLET_REDIS_PASSWORD)@" in env["VELLET_REDIS_URL"]
    assert users == {w: w for w in WORKLOADS}
    assert len(keys) == len(WORKLOADS), "every workload reads its own password"
    operator = named(docs, "Deployment", f"{PREFIX}-operator")["spec"]["template"]["spec"]
    assert not [e for e in operator["containers"][0].get("env", []) if "REDIS" in e["name"]]


def test_no_redis_password_is_in_a_config_map(dev: list[dict[str, Any]]) -> None:
    passwords = [v for k, v in _secret(dev).items() if k.endswith("-password")]
    assert len(passwords) == 4
    maps = "\n".join(str(m.get("data", {})) for m in of_kind(dev, "ConfigMap"))
    assert maps
    assert not [p for p in passwords if p in maps]
    assert not [p for p in passwords if p in _secret(dev)["users.acl"]], "hashes only"


def test_the_acl_file_has_the_rules_of_vellet_common_redis_acl(
    dev: list[dict[str, Any]],
) -> None:
    lines = _secret(dev)["users.acl"].splitlines()
    assert lines[0] == "user default off resetkeys resetchannels -@all"
    for workload in WORKLOADS:
        [line] = [line for line in lines if line.startswith(f"user {workload} on #")]
        assert line.split(" ", 4)[4] == redis_acl.acl_rules(redis_acl.SERVICES[workload])


@pytest.fixture(scope="module")
def chart_redis(dev: list[dict[str, Any]], tmp_path_factory: pytest.TempPathFactory) -> Iterator[
        tuple[int, dict[str, str]]]:  # fmt: skip
    """redis-server 7 on the chart's own ACL file."""
    secret = _secret(dev)
    root = tmp_path_factory.mktemp("chart-redis")
    (root / "users.acl").write_text(secret["users.acl"])
    binary, version = redis_server()
    assert version >= (7, 0), "needs Redis 7 (deploy/setup-debian.sh installs it)"
    port = free_port()
    proc = subprocess.Popen([str(binary), "--port", str(port), "--bind", "127.0.0.1",
                             "--save", "", "--appendonly", "no", "--dir", str(root),
                             "--aclfile", str(root / "users.acl")],
                            stdout=subprocess.DEVNULL)  # fmt: skip
    try:
        _wait(port)
        yield port, secret
    finally:
        proc.terminate()
        proc.wait(10)


def _wait(port: int) -> None:
    client = redis.Redis(port=port, socket_connect_timeout=0.2)
    for _ in range(200):
        try:
            client.ping()
        except redis.exceptions.AuthenticationError:
            return  # up, and refusing the default user
        except redis.exceptions.ConnectionError:
            time.sleep(0.05)
    raise AssertionError("redis-server did not start")


def _client(port: int, secret: dict[str, str], user: str) -> redis.Redis:
    return redis.Redis(port=port, username=user, password=secret[f"{user}-password"])


def test_the_rendered_acl_keeps_each_workload_to_its_own_streams(
    chart_redis: tuple[int, dict[str, str]],
) -> None:
    port, secret = chart_redis
    with pytest.raises(redis.exceptions.AuthenticationError):
        redis.Redis(port=port).ping()
    with pytest.raises(NoPermissionError):
        _client(port, secret, "notifier").xadd(streams.BANK_REQUESTS, {"payload": "{}"})
    with pytest.raises(NoPermissionError):
        _client(port, secret, "wallet").xadd(streams.BANK_RESULTS, {"payload": "{}"})
    assert _client(port, secret, "wallet").xadd(streams.BANK_REQUESTS, {"payload": "{}"})
    assert _client(port, secret, "bank").xadd(streams.BANK_RESULTS, {"payload": "{}"})
    assert _client(port, secret, "admin").config_get("maxmemory-policy")


def test_the_redis_pod_mounts_the_acl_file(dev: list[dict[str, Any]]) -> None:
    spec = named(dev, "StatefulSet", f"{PREFIX}-redis")["spec"]["template"]["spec"]
    [volume] = [v for v in spec["volumes"] if v["name"] == "acl"]
    assert volume["secret"]["items"] == [{"key": "users.acl", "path": "users.acl"}]
    mounts = {m["name"]: m for m in spec["containers"][0]["volumeMounts"]}
    assert mounts["acl"]["mountPath"] == str(Path("/etc/redis/acl"))
    assert mounts["acl"]["readOnly"] is True
