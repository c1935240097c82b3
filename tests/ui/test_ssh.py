"""The console over a real SSH login, as a responder on a jump host would use it.

The test starts its own `sshd` on 127.0.0.1 (throwaway host and user keys, its own config,
nothing of the machine's sshd touched), logs in with `ssh -tt` inside tmux so there is a
real terminal at both ends, runs `ddbtrail demo`, types a query and reads the screen.
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time

import pytest

from ddbtrail.query import parse
from tests.ui.tmux import TmuxSession, private_demo, repo_root

pytestmark = pytest.mark.ssh

QUERY = "op:Scan error:*"


def _tool(name: str, *extra_dirs: str) -> str:
    """Path of an OpenSSH program; missing is a failure (CI installs openssh-server)."""
    path = shutil.which(name, path=os.pathsep.join([os.environ.get("PATH", ""), *extra_dirs]))
    assert path, f"{name} is not installed: this test needs it (apt-get install openssh-server)"
    return path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _keygen(path) -> None:
    subprocess.run([_tool("ssh-keygen"), "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True)


@pytest.fixture
def sshd(tmp_path):
    """A private sshd on 127.0.0.1; yields (port, user key path)."""
    sshd_bin = _tool("sshd", "/usr/sbin", "/usr/local/sbin")
    _keygen(tmp_path / "host_key")
    _keygen(tmp_path / "user_key")
    (tmp_path / "authorized_keys").write_bytes((tmp_path / "user_key.pub").read_bytes())
    port = _free_port()
    config = tmp_path / "sshd_config"
    config.write_text(f"""\
ListenAddress 127.0.0.1
Port {port}
HostKey {tmp_path / 'host_key'}
AuthorizedKeysFile {tmp_path / 'authorized_keys'}
PidFile {tmp_path / 'sshd.pid'}
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
StrictModes no
UsePAM no
PrintMotd no
""")
    # sshd run as root insists on its privilege-separation directory.
    os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
    log = tmp_path / "sshd.log"
    server = subprocess.Popen([sshd_bin, "-D", "-e", "-f", str(config)],
                              stdout=subprocess.DEVNULL, stderr=open(log, "wb"))
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert server.poll() is None, f"sshd exited: {log.read_text()}"
                assert time.monotonic() < deadline, f"sshd did not listen: {log.read_text()}"
                time.sleep(0.1)
        yield port, tmp_path / "user_key"
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_console_over_ssh_answers_a_typed_query(sshd, tmp_path):
    port, key = sshd
    env, table = private_demo(tmp_path / "cache")
    matched, total = int(parse(QUERY).mask(table).sum()), len(table)
    assert matched > 0, "the demo incident should contain failed scans"
    remote = (f"cd {repo_root()} && TERM=xterm-256color XDG_CACHE_HOME={env['XDG_CACHE_HOME']} "
              f".venv/bin/ddbtrail demo")
    login = (f"{_tool('ssh')} -tt -p {port} -i {key} -o StrictHostKeyChecking=no "
             f"-o UserKnownHostsFile={tmp_path / 'known_hosts'} -o BatchMode=yes "
             f"root@127.0.0.1 '{remote}'")
    with TmuxSession(login, width=100, height=30, cwd=str(tmp_path)) as term:
        term.wait_for(f"{total:,} of {total:,} events", timeout=300, what="the demo to load over SSH")
        term.send("/")
        term.wait_for("Back to table", what="the query line to take focus")
        term.type(QUERY)
        term.send("Enter")
        term.wait_for(f"{matched:,} of {total:,} events", what="the query's count over SSH")
        term.send("q")
        term.wait_for("[exited with status 0]", what="the console and the SSH session to end")
