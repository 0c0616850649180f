"""Settings from the environment."""

from __future__ import annotations

import pytest

from briefy.choreographer.config import Settings, SettingsError, queue_setting


def test_defaults_are_development_with_embedded_endpoint() -> None:
    """With nothing set: development mode, embedded endpoint on 127.0.0.1:9324."""
    settings = Settings.from_env({})
    assert settings.mode == "development"
    assert settings.embedded
    assert settings.embedded_url == "http://127.0.0.1:9324"
    assert settings.queue_name("events.queue", "events") == "events"


@pytest.mark.parametrize("variable", ["AWS_ENDPOINT_URL_SQS", "AWS_ENDPOINT_URL"])
def test_a_configured_endpoint_turns_embedded_off(variable: str) -> None:
    """boto3's endpoint variables turn the embedded endpoint off."""
    assert not Settings.from_env({variable: "http://localhost:4566"}).embedded


def test_production_never_embeds() -> None:
    """Production mode never serves the embedded endpoint, JSON logs and redaction on."""
    settings = Settings.from_env({"CHOREOGRAPHER_MODE": "production"})
    assert not settings.embedded
    assert settings.json_logs
    assert settings.redact_personal_data


def test_queue_names_come_from_variables() -> None:
    """CHOREOGRAPHER_<NAME>_QUEUE names the SQS queue of the <name>.queue utility."""
    settings = Settings.from_env(
        {"CHOREOGRAPHER_MAIL_QUEUE": "prod-mail", "CHOREOGRAPHER_SLACK_ALERTS_QUEUE": "s"}
    )
    assert settings.queue_name("mail.queue", "mail") == "prod-mail"
    assert settings.queue_name("slack_alerts.queue", "x") == "s"
    assert settings.queue_name("notification.queue", "notification") == "notification"
    assert queue_setting("events.queue") == "CHOREOGRAPHER_EVENTS_QUEUE"


@pytest.mark.parametrize(
    ("variable", "value", "words"),
    [
        ("CHOREOGRAPHER_MODE", "staging", "CHOREOGRAPHER_MODE"),
        ("CHOREOGRAPHER_WAIT_TIME", "30", "between 0 and 20"),
        ("CHOREOGRAPHER_CONCURRENCY", "many", "must be a number"),
        ("CHOREOGRAPHER_MAX_ATTEMPTS", "2.5", "whole number"),
        ("CHOREOGRAPHER_LOG_LEVEL", "LOUD", "CHOREOGRAPHER_LOG_LEVEL"),
        ("CHOREOGRAPHER_REDACT", "maybe", "true or false"),
    ],
)
def test_bad_values_name_the_variable(variable: str, value: str, words: str) -> None:
    """A bad value raises SettingsError saying which variable and why."""
    with pytest.raises(SettingsError, match=words):
        Settings.from_env({variable: value})
