"""Real Redis deployments on loopback, as production is given them: a cluster of
masters, a TLS-only server with a private CA, a Sentinel service, an ACL user.

Each starts real `redis-server` processes (Debian's; `./scripts/test` installs
it) on free ports in a test's folder, logs to files there (a start that fails
says the log's tail), and stops every process it started.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import redis
import redis.cluster
from redis.crc import key_slot

from tests.redis_server import INSTALL_HINT
from tests.support import free_port

LOOPBACK = "127.0.0.1"


def _binary() -> str:
    found = shutil.which("redis-server")
    if found is None:
        pytest.skip(INSTALL_HINT)
    return found


class _Processes:
    """redis-server processes started in one folder."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.binary = _binary()
        self.running: dict[str, subprocess.Popen[bytes]] = {}
        self.clients: list[redis.Redis | redis.cluster.RedisCluster] = []

    def client(self, port: int, **options: object) -> redis.Redis:
        """A client for the test, closed when the setup stops."""
        client = _plain(port, **options)
        self.clients.append(client)
        return client

    def spawn(self, name: str, *args: str) -> None:
        with (self.workdir / f"{name}.log").open("ab") as log:  # the child keeps its own copy
            self.running[name] = subprocess.Popen(
                [self.binary, *args], stdout=log, stderr=subprocess.STDOUT, cwd=self.workdir
            )

    def kill(self, name: str) -> None:
        process = self.running.pop(name, None)
        if process is not None and process.poll() is None:
            process.kill()
            process.wait()

    def stop(self) -> None:
        for client in self.clients:
            client.close()
        self.clients.clear()
        for process in self.running.values():
            if process.poll() is None:
                process.terminate()
        for process in self.running.values():
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.running.clear()

    def wait(self, ready: Callable[[], bool], what: str, within: float = 15.0) -> None:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            try:
                if ready():
                    return
            except (redis.RedisError, OSError):
                pass
            time.sleep(0.05)
        tails = "\n".join(
            f"--- {log.name}\n" + "\n".join(log.read_text(errors="replace").splitlines()[-15:])
            for log in sorted(self.workdir.glob("*.log"))
        )
        self.stop()
        raise AssertionError(f"{what} did not come up within {within:g} s\n{tails}")


def _command(client: redis.Redis, *args: str) -> Any:
    return client.execute_command(*args)  # type: ignore[no-untyped-call]


def _plain(port: int, **options: object) -> redis.Redis:
    return redis.Redis(host=LOOPBACK, port=port, socket_timeout=5, **options)  # type: ignore[arg-type]


def _ask(port: int, *args: str, **options: object) -> Any:
    """One command on a connection of its own, closed after."""
    with _plain(port, **options) as client:
        return _command(client, *args)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _pings(port: int) -> bool:
    return bool(_ask(port, "PING"))


def _cluster_port() -> int:
    """A free port whose bus port (10,000 higher, as Redis takes it) is free too."""
    while True:
        port = free_port()
        if port <= 55535 and _bindable(port + 10000):
            return port


def _bindable(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind((LOOPBACK, port))
        except OSError:
            return False
    return True


BASE = ("--bind", LOOPBACK, "--save", "", "--appendonly", "no")


class RedisCluster:
    """`masters` cluster masters, no replicas, still answering for the slots of the
    masters that are up (`cluster-require-full-coverage no`)."""

    def __init__(self, workdir: Path, masters: int = 3) -> None:
        self.processes = _Processes(workdir)
        self.ports = [_cluster_port() for _ in range(masters)]

    @property
    def url(self) -> str:
        return f"redis://{LOOPBACK}:{self.ports[0]}"

    def _spawn(self, index: int) -> None:
        port = self.ports[index]
        self.processes.spawn(
            f"node{index}", "--port", str(port), *BASE, "--cluster-enabled", "yes",
            "--cluster-config-file", f"nodes-{port}.conf", "--cluster-node-timeout", "1000",
            "--cluster-require-full-coverage", "no",
        )  # fmt: skip

    def start(self) -> RedisCluster:
        for index in range(len(self.ports)):
            self._spawn(index)
        for port in self.ports:
            self.processes.wait(partial(_pings, port), f"node {port}")
        subprocess.run(
            ["redis-cli", "--cluster", "create", *(f"{LOOPBACK}:{p}" for p in self.ports),
             "--cluster-replicas", "0", "--cluster-yes"],
            check=True, capture_output=True, timeout=30,
        )  # fmt: skip
        self._wait_ok()
        return self

    def _wait_ok(self) -> None:
        def ok() -> bool:
            for port in self.ports:
                info = _ask(port, "CLUSTER", "INFO").decode()
                if "cluster_state:ok" not in info or "cluster_slots_assigned:16384" not in info:
                    return False
                if f"cluster_known_nodes:{len(self.ports)}" not in info:
                    return False
            return True

        self.processes.wait(ok, "the cluster")

    def client(self) -> redis.cluster.RedisCluster:
        client = redis.cluster.RedisCluster(host=LOOPBACK, port=self.ports[0])
        self.processes.clients.append(client)
        return client

    def node_client(self, index: int) -> redis.Redis:
        return self.processes.client(self.ports[index])

    def master_of(self, key: str) -> int:
        """Which node serves `key`'s slot."""
        slot = key_slot(key.encode())
        for start, end, master, *_ in _ask(self.ports[0], "CLUSTER", "SLOTS"):
            if start <= slot <= end:
                return self.ports.index(int(master[1]))
        raise AssertionError(f"no node serves slot {slot}")

    def kill(self, index: int) -> None:
        """Master `index` gone at once, as in a crash."""
        self.processes.kill(f"node{index}")

    def restart(self, index: int) -> None:
        """Master `index` again, on its port and configuration: it takes its slots back."""
        self._spawn(index)
        self._wait_ok()

    def stop(self) -> None:
        self.processes.stop()


class TlsRedis:
    """A server that speaks TLS only, its certificate made by a CA of the test's."""

    def __init__(self, workdir: Path, *, client_certs: bool = False) -> None:
        self.processes = _Processes(workdir)
        self.workdir = workdir
        self.client_certs = client_certs
        self.port = free_port()
        self.ca = workdir / "ca.pem"
        self.other_ca = workdir / "other-ca.pem"
        self.client_cert = workdir / "client.pem"
        self.client_key = workdir / "client.key"

    def _openssl(self, *args: str | Path) -> None:
        subprocess.run(["openssl", *map(str, args)], check=True, capture_output=True,
                       cwd=self.workdir, timeout=30)  # fmt: skip

    def _ca(self, name: str) -> None:
        self._openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                      "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.pem", "-days", "2",
                      "-subj", f"/CN=leads-proxy tests {name}")  # fmt: skip

    def _signed(self, name: str, subject: str, extensions: str) -> None:
        (self.workdir / f"{name}.ext").write_text(extensions)
        self._openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                      "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.csr",
                      "-subj", subject)  # fmt: skip
        self._openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                      "-CAcreateserial", "-out", f"{name}.pem", "-days", "2",
                      "-extfile", f"{name}.ext")  # fmt: skip

    def start(self) -> TlsRedis:
        self._ca("ca")
        self._ca("other-ca")
        self._signed("server", "/CN=localhost", "subjectAltName=IP:127.0.0.1,DNS:localhost\n")
        self._signed("client", "/CN=leads-proxy", "extendedKeyUsage=clientAuth\n")
        self.processes.spawn(
            "tls", "--port", "0", "--tls-port", str(self.port), *BASE,
            "--tls-cert-file", "server.pem", "--tls-key-file", "server.key",
            "--tls-ca-cert-file", "ca.pem",
            "--tls-auth-clients", "yes" if self.client_certs else "no",
        )  # fmt: skip
        self.processes.wait(lambda: bool(self.client().ping()), "the TLS server")
        return self

    def url(self, *, ca: bool = True, client: bool = False) -> str:
        options = []
        if ca:
            options.append(f"ssl_ca_certs={quote(str(self.ca))}")
        if client:
            options += [f"ssl_certfile={quote(str(self.client_cert))}",
                        f"ssl_keyfile={quote(str(self.client_key))}"]  # fmt: skip
        query = "&".join([*options, "ssl_cert_reqs=required"])
        return f"rediss://{LOOPBACK}:{self.port}/0?{query}"

    def client(self) -> redis.Redis:
        files = {"ssl_certfile": str(self.client_cert), "ssl_keyfile": str(self.client_key)}
        return self.processes.client(self.port, ssl=True, ssl_ca_certs=str(self.ca), **files)

    def stop(self) -> None:
        self.processes.stop()


class SentinelSetup:
    """A master, one replica and `sentinels` sentinels watching them as `service`."""

    def __init__(self, workdir: Path, sentinels: int = 3, service: str = "leads") -> None:
        self.processes = _Processes(workdir)
        self.workdir = workdir
        self.service = service
        self.master, self.replica = free_port(), free_port()
        self.sentinels = [free_port() for _ in range(sentinels)]

    @property
    def url(self) -> str:
        hosts = ",".join(f"{LOOPBACK}:{port}" for port in self.sentinels)
        return f"redis+sentinel://{hosts}/{self.service}/0"

    def start(self) -> SentinelSetup:
        quick = ("--repl-diskless-sync-delay", "0")
        self.processes.spawn("master", "--port", str(self.master), *BASE, *quick)
        self.processes.spawn("replica", "--port", str(self.replica), *BASE, *quick,
                             "--replicaof", LOOPBACK, str(self.master))  # fmt: skip

        def synced() -> bool:
            with _plain(self.replica) as replica:
                info = replica.info("replication")
            return bool(info.get("master_link_status") == "up")

        self.processes.wait(synced, "the replica")
        quorum = len(self.sentinels) // 2 + 1
        for port in self.sentinels:
            conf = self.workdir / f"sentinel-{port}.conf"
            conf.write_text(
                f"port {port}\nbind {LOOPBACK}\n"
                f"sentinel monitor {self.service} {LOOPBACK} {self.master} {quorum}\n"
                f"sentinel down-after-milliseconds {self.service} 1000\n"
                f"sentinel failover-timeout {self.service} 5000\n"
                f"sentinel parallel-syncs {self.service} 1\n"
            )
            self.processes.spawn(f"sentinel-{port}", str(conf), "--sentinel")

        for port in self.sentinels:
            self.processes.wait(partial(self._knows_all, port), f"sentinel {port}")
        return self

    def _knows_all(self, port: int) -> bool:
        said = _ask(port, "SENTINEL", "MASTER", self.service)
        if isinstance(said, list):  # unparsed: name, value, name, value, ...
            said = dict(zip(said[::2], said[1::2], strict=True))
        master = {_text(name): _text(value) for name, value in said.items()}
        others = len(self.sentinels) - 1
        return int(master["num-slaves"]) == 1 and int(master["num-other-sentinels"]) == others

    def _named_master(self, port: int) -> int:
        """The master's port, as the sentinel on `port` names it."""
        host_port = _ask(port, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", self.service)
        return int(host_port[1])

    def master_port(self) -> int:
        return self._named_master(self.sentinels[0])

    def client(self) -> redis.Redis:
        return self.processes.client(self.master_port())

    def failover(self, timeout: float = 15.0) -> int:
        """Move the master to the replica; the new master's port once every sentinel
        names it and it says it is the master."""
        old = self.master_port()
        new = self.replica if old == self.master else self.master

        def asked() -> bool:  # NOGOODSLAVE until the sentinel has seen the replica lately
            _ask(self.sentinels[0], "SENTINEL", "FAILOVER", self.service)
            return True

        self.processes.wait(asked, "a failover asked", within=timeout)

        def moved() -> bool:
            agree = all(self._named_master(port) == new for port in self.sentinels)
            return agree and _ask(new, "ROLE")[0] == b"master"

        self.processes.wait(moved, "the failover", within=timeout)
        return new

    def stop(self) -> None:
        self.processes.stop()


class AclRedis:
    """A server whose default user is off, with an admin and `user` under `rules`."""

    def __init__(self, workdir: Path, rules: str, user: str = "leads-proxy") -> None:
        self.processes = _Processes(workdir)
        self.workdir = workdir
        self.rules = rules
        self.user = user
        self.password = "acl-" + workdir.name[-8:].replace("_", "x") + "-pw"
        self.port = free_port()

    @property
    def url(self) -> str:
        return f"redis://{self.user}:{self.password}@{LOOPBACK}:{self.port}/0"

    def start(self) -> AclRedis:
        acl = self.workdir / "users.acl"
        acl.write_text(
            "user default off\n"
            "user admin on >admin-pw ~* &* +@all\n"
            f"user {self.user} on >{self.password} {self.rules}\n"
        )
        self.processes.spawn("acl", "--port", str(self.port), *BASE, "--aclfile", str(acl))
        self.processes.wait(lambda: bool(self.admin().ping()), "the ACL server")
        return self

    def admin(self) -> redis.Redis:
        return self.processes.client(self.port, username="admin", password="admin-pw")

    def stop(self) -> None:
        self.processes.stop()
