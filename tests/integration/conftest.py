"""Fixtures shared by the integration tests: one moto server for the whole session."""
from __future__ import annotations

import pytest

from tests.servers.moto_server import FAKE_CREDENTIALS, MotoServer


@pytest.fixture(scope="session")
def moto_server():
    """moto on 127.0.0.1 (port chosen by the OS) with fake credentials in the environment.

    Shared by the session: give each test its own bucket/trail names.
    """
    with pytest.MonkeyPatch.context() as env:
        for name, value in FAKE_CREDENTIALS.items():
            env.setenv(name, value)
        for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
            env.delenv(name, raising=False)
        env.setenv("AWS_CONFIG_FILE", "/dev/null")
        env.setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        server = MotoServer().start()
        try:
            yield server
        finally:
            server.stop()


@pytest.fixture(scope="session")
def moto_endpoint(moto_server) -> str:
    """Endpoint URL of the session's moto server, for `LoadOptions(endpoint_url=...)`."""
    return moto_server.url
