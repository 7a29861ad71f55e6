"""`--cache-url`: what each Redis URL form names, and the one line a bad one gets."""

from __future__ import annotations

import os
import ssl
import subprocess
from pathlib import Path

import pytest

from leads_proxy.settings.redis_url import parse_redis_url, tls_context
from leads_proxy.settings.text import SettingsError, load_settings


def test_sentinel__sentinels_service_db_and_the_servers_credentials() -> None:
    target = parse_redis_url(
        "redis+sentinel://app:p%40ss@10.0.0.1:26379,[::1]:26380,s3.internal:26381/leads/2"
        "?max_connections=50&sentinel_password=sentinel-pass"
    )
    assert target.sentinels == (("10.0.0.1", 26379), ("::1", 26380), ("s3.internal", 26381))
    assert (target.service, target.db) == ("leads", 2)
    assert (target.username, target.password) == ("app", "p@ss")
    assert target.options == {"max_connections": 50}
    assert target.sentinel_auth == {"sentinel_password": "sentinel-pass"}
    assert not target.uses_tls
    assert parse_redis_url("rediss+sentinel://s1:26379/leads").uses_tls


def test_tls__options_are_taken_out_of_the_url_for_redis_py() -> None:
    target = parse_redis_url("rediss://u:pw@cache:6380/1?ssl_cert_reqs=none&socket_keepalive=yes")
    assert target.url == "rediss://u:pw@cache:6380/1?socket_keepalive=yes"
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
        # what a hostile tester found: each a clear line, never a crash later
        ("redis://:hunter2@cache/0?socket_timeout=1", "'socket_timeout' is leads-proxy's own"),
        ("redis://:hunter2@cache/0?retry_on_timeout=1", "'retry_on_timeout' is leads-proxy's"),
        ("redis+sentinel://:hunter2@s1:1/leads?health_check_interval=1", "leads-proxy's own"),
        ("rediss://:hunter2@cache/0?ssl_min_version=772", "'ssl_min_version' is not supported"),
        ("redis://:hunter2@cache/0?protocol=3", "'protocol' is not supported"),
        ("redis://:hunter2@cache/0?max_connections=1&max_connections=2",
         "option 'max_connections' is given twice"),
        ("redis+sentinel://:hunter2@s1:1/leads?db=5", "unknown option 'db'"),
        ("redis+sentinel://:hunter2@s1:1/leads?password=x", "unknown option 'password'"),
        ("rediss://:hunter2@cache/0?ssl_check_hostname=banana", "ssl_check_hostname must be"),
        ("rediss://:hunter2@cache/0?ssl_ca_certs=", "ssl_ca_certs is empty"),
        ("rediss://:hunter2@cache/0?ssl_ca_certs=/tmp", "ssl_ca_certs '/tmp': not a file"),
        ("rediss://:hunter2@cache/0?ssl_ca_certs=/a%00b", "a control character"),
        ("redis://:hunter2@h%0Ainjected/0", "expected a Redis URL like"),
        ("redis://:hunter2@a%00b/0", "expected a Redis URL like"),
        ("unix:///tmp/a%0Afake", "a control character"),
        ("unix:///", "expected a Redis URL like"),
        ("redis://:hunter2@cache/0#part", "expected a Redis URL like"),
        ("redis://:hunter2@cache/99999999999999999999", "expected a Redis URL like"),
        ("redis://:hunter2@cache/\u00b2", "expected a Redis URL like"),
        ("redis+sentinel://:hunter2@s1:\u0661/leads", "each sentinel must be host:port"),
        ("redis+sentinel://:hunter2@[...]:1/leads", "each sentinel must be host:port"),
        ("redis+sentinel://:hunter2@-:1/leads", "each sentinel must be host:port"),
        ("redis+sentinel://:hunter2@s1:1/leads/\u00b2", "the db after the service"),
        ("redis+sentinel://:hunter2@s1:1,s1:1/leads", "sentinel 's1:1' is named twice"),
        ("redis+sentinel://:hunter2@" + ",".join(f"s{n}:1" for n in range(17)) + "/leads",
         "at most 16 sentinels"),
        ("redis://:hunter2@cache/0?" + "a" * 5000, "over 4096 characters"),
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
    assert len(message) < 400


def test_bad__a_raw_control_character_is_refused_not_stripped() -> None:
    with pytest.raises(ValueError, match="a control character"):
        parse_redis_url("redis://u:pw\nX@cache/0")


def test_repr__never_shows_a_password() -> None:
    shown = repr(parse_redis_url("redis://u:hunter2@cache/0"))
    shown += repr(
        parse_redis_url("redis+sentinel://u:hunter2@s1:1/leads?sentinel_password=hunter2")
    )
    assert "hunter2" not in shown


def test_tls__a_fifo_is_refused_without_opening_it(tmp_path: Path) -> None:
    fifo = tmp_path / "ca.pem"
    os.mkfifo(fifo)
    with pytest.raises(ValueError, match="not a file"):
        tls_context(parse_redis_url(f"rediss://cache/0?ssl_ca_certs={fifo}"))


def test_tls__an_encrypted_client_key_is_one_line_not_a_prompt(tmp_path: Path) -> None:
    key, cert = tmp_path / "me.key", tmp_path / "me.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-passout", "pass:secret", "-keyout", key, "-out", cert, "-days", "1", "-subj", "/CN=me"],
        check=True, capture_output=True,
    )  # fmt: skip
    url = f"rediss://cache/0?ssl_certfile={cert}&ssl_keyfile={key}"
    with pytest.raises(ValueError, match="ssl_keyfile is encrypted"):
        tls_context(parse_redis_url(url))


def test_tls__ssl_check_hostname_false_reaches_the_sentinels_as_false() -> None:
    target = parse_redis_url("rediss+sentinel://s1:1/leads?ssl_check_hostname=false")
    assert target.check_hostname is False
    assert parse_redis_url("rediss://cache/0?ssl_check_hostname=on").check_hostname is True
