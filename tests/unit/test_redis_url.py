"""`--cache-url`: what each Redis URL form names, and the one line a bad one gets."""

from __future__ import annotations

import ssl
import subprocess
from pathlib import Path

import pytest

from leads_proxy.settings.redis_url import parse_redis_url, tls_context
from leads_proxy.settings.text import SettingsError, load_settings


def test_sentinel__sentinels_service_db_and_the_servers_credentials() -> None:
    target = parse_redis_url(
        "redis+sentinel://app:p%40ss@10.0.0.1:26379,[::1]:26380,s3.internal:26381/leads/2"
        "?socket_timeout=0.5&sentinel_password=sentinel-pass"
    )
    assert target.sentinels == (("10.0.0.1", 26379), ("::1", 26380), ("s3.internal", 26381))
    assert (target.service, target.db) == ("leads", 2)
    assert (target.username, target.password) == ("app", "p@ss")
    assert target.options == {"socket_timeout": 0.5}
    assert target.sentinel_auth == {"sentinel_password": "sentinel-pass"}
    assert not target.uses_tls
    assert parse_redis_url("rediss+sentinel://s1:26379/leads").uses_tls


def test_tls__options_are_taken_out_of_the_url_for_redis_py() -> None:
    target = parse_redis_url("rediss://u:pw@cache:6380/1?ssl_cert_reqs=none&socket_timeout=2")
    assert target.url == "rediss://u:pw@cache:6380/1?socket_timeout=2"
    assert target.tls == {"ssl_cert_reqs": "none"}
    context = tls_context(target)
    assert context is not None
    assert context.verify_mode is ssl.CERT_NONE
    assert not context.check_hostname
    assert tls_context(parse_redis_url("redis://cache")) is None


def test_tls__one_context_with_the_ca_and_client_certificate(tmp_path: Path) -> None:
    key, cert = tmp_path / "me.key", tmp_path / "me.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-keyout", key, "-out", cert, "-days", "1", "-subj", "/CN=me"],
        check=True, capture_output=True,
    )  # fmt: skip
    url = f"rediss://cache/0?ssl_ca_certs={cert}&ssl_certfile={cert}&ssl_keyfile={key}"
    context = tls_context(parse_redis_url(url))
    assert context is not None
    assert context.verify_mode is ssl.CERT_REQUIRED
    assert context.check_hostname
    assert len(context.get_ca_certs()) == 1


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("redis://:hunter2@cache/0?ssl_ca_certs=/ca.pem", "'ssl_ca_certs' needs TLS: write rediss://"),
        ("rediss://:hunter2@cache/0?ssl_cert_reqs=maybe", "ssl_cert_reqs must be one of"),
        ("rediss://:hunter2@cache/0?ssl_keyfile=/k", "ssl_keyfile needs ssl_certfile"),
        ("rediss://:hunter2@cache/0?ssl_ca_certs=/nowhere/ca.pem",
         "ssl_ca_certs '/nowhere/ca.pem': No such file or directory"),
        ("rediss://:hunter2@cache/0?ssl_ca_certs=/etc/hostname", "ssl_ca_certs '/etc/hostname': "
         "not usable in PEM form"),
        ("redis://:hunter2@cache/0?sentinel_password=x", "needs a redis+sentinel:// URL"),
        ("redis+sentinel://:hunter2@s1/leads", "each sentinel must be host:port"),
        ("redis+sentinel://:hunter2@s1:26379,s2:0/leads", "each sentinel must be host:port"),
        ("redis+sentinel://:hunter2@s1:26379", "name the Sentinel service"),
        ("redis+sentinel://:hunter2@s1:26379/leads/zero", "the db after the service"),
        ("redis+sentinel://:hunter2@s1:26379/leads?bogus=1", "unknown option 'bogus'"),
    ],
)  # fmt: skip
def test_bad__one_line_saying_what_never_the_password(url: str, says: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(cache_url=url, key_secret="s" * 16)
    message = str(caught.value)
    assert message.startswith("invalid value for --cache-url / LEADS_PROXY_CACHE_URL: ")
    assert says in message
    assert "\n" not in message
    assert "hunter2" not in message
