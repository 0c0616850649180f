"""Shared fixtures: a clean component registry, moto's mock, moto's server."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
import structlog
import zope.component.testing
from botocore.config import Config
from moto import mock_aws

from briefy.choreographer.admin.provision import create_queues
from briefy.choreographer.bootstrap import Application, connect
from briefy.choreographer.config import Settings
from briefy.choreographer.site import load_site, reset_site
from tests.fixtures.twoactions import SITE_ZCML
from tests.pairs import Pairs, pairs_settings
from tests.support import TEST_STATE_KEY, MotoServer, Queues


@pytest.fixture(autouse=True)
def _quiet_structlog() -> Iterator[None]:
    """Tests start from structlog's defaults, whatever an earlier test configured."""
    yield
    structlog.reset_defaults()


@pytest.fixture
def registry() -> Iterator[Any]:
    """A clean global registry with the site configuration (reference choreography) loaded."""
    zope.component.testing.setUp()
    reset_site()
    yield load_site(Settings()).registry
    zope.component.testing.tearDown()
    reset_site()


@pytest.fixture
def settings() -> Settings:
    """Development settings tuned for tests: short waits, fast backoff."""
    return Settings(
        mode="development",
        endpoint_url="http://mocked",
        wait_time=0,
        backoff_base=1.0,
        state_keys=(TEST_STATE_KEY.encode(),),
    )


@pytest.fixture
def sqs(registry: Any) -> Iterator[Any]:
    """moto's in-process mock of SQS and a client for it."""
    with mock_aws():
        # No botocore retries: tests that inject failures see each one.
        yield boto3.client("sqs", region_name="us-east-1", config=Config(retries={"total_max_attempts": 1}))


@pytest.fixture
def app(sqs: Any, registry: Any, settings: Settings) -> Application:
    """The reference queues created in moto's mock and bound, as bootstrap binds them."""
    create_queues(sqs, registry, settings)
    return connect(load_site(settings), sqs)


@pytest.fixture(scope="session")
def moto_server() -> Iterator[MotoServer]:
    """moto's server in its own process on a free loopback port (shared by a session)."""
    server = MotoServer().start()
    yield server
    server.stop()


@pytest.fixture
def queues(moto_server: MotoServer) -> Queues:
    """Fresh, uniquely named events/mail/notification/DLQ queues on the moto server."""
    return Queues(moto_server.client()).create()


@pytest.fixture
def pairs_client() -> Iterator[Any]:
    """A clean registry with the twoactions site loaded, and moto's mock."""
    zope.component.testing.setUp()
    reset_site()
    load_site(Settings(zcml=SITE_ZCML))
    with mock_aws():
        yield boto3.client("sqs", region_name="us-east-1", config=Config(retries={"total_max_attempts": 1}))
    zope.component.testing.tearDown()
    reset_site()


@pytest.fixture
def pairs(pairs_client: Any) -> Pairs:
    return Pairs(pairs_client, pairs_settings())
