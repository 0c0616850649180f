"""Settings: one typed object built from the environment and passed in."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

PREFIX = "CHOREOGRAPHER_"
MODES = ("development", "production")
#: Shortest ``CHOREOGRAPHER_STATE_KEY`` accepted (``secrets.token_urlsafe(32)`` gives 43).
MIN_KEY_LENGTH = 32
#: An S3 bucket name: 3 to 63 lower-case letters, digits, dots and hyphens.
BUCKET_NAME = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
#: The largest message SQS takes (MaximumMessageSize's top), in bytes.
MAX_SQS_MESSAGE = 1_048_576


class SettingsError(ValueError):
    """A setting has a value the choreographer cannot use."""


def queue_setting(utility_name: str) -> str:
    """The environment variable naming the SQS queue of a queue utility.

    ``mail.queue`` reads ``CHOREOGRAPHER_MAIL_QUEUE``; ``slack.queue``,
    ``CHOREOGRAPHER_SLACK_QUEUE``.
    """
    stem = utility_name.removesuffix(".queue")
    return PREFIX + re.sub(r"[^A-Za-z0-9]+", "_", stem).upper() + "_QUEUE"


@dataclass(frozen=True)
class Settings:
    """Everything the worker and the command line are configured with."""

    mode: str = "development"
    region: str | None = None
    endpoint_url: str | None = None
    #: ``CHOREOGRAPHER_<NAME>_QUEUE`` variables and their values (see ``queue_setting``).
    queue_names: Mapping[str, str] = field(default_factory=dict)
    dead_letter_queue: str | None = None
    embedded_host: str = "127.0.0.1"
    embedded_port: int = 9324
    zcml: str | None = None
    log_level: str = "INFO"
    log_format: str = ""
    wait_time: int = 10
    concurrency: int = 4
    max_attempts: int = 8
    backoff_base: float = 2.0
    backoff_max: int = 900
    shutdown_timeout: float = 20.0
    startup_timeout: float = 60.0
    metrics_port: int = 0
    #: Loopback outside containers: the Docker image sets ``0.0.0.0`` for its probes.
    metrics_host: str = "127.0.0.1"
    redact: bool | None = None
    #: More keys whose values are personal data (``CHOREOGRAPHER_REDACT_KEYS``).
    redact_keys: tuple[str, ...] = ()
    #: Secrets that authenticate the retry state the worker writes on messages
    #: (``CHOREOGRAPHER_STATE_KEY``): the first signs, all verify. Empty: no state.
    state_keys: tuple[bytes, ...] = field(default=(), repr=False)
    #: Extension names to load (``CHOREOGRAPHER_EXTENSIONS``); ``None``: every installed one.
    extensions: tuple[str, ...] | None = None
    #: Where outputs too big for their queue are stored (``CHOREOGRAPHER_LARGE_PAYLOAD_BUCKET``);
    #: ``None``: nowhere (such an output is dead-lettered as ``output_rejected``).
    large_payload_bucket: str | None = None
    #: Bytes above which an output goes through S3; 0: its queue's MaximumMessageSize.
    large_payload_threshold: int = 0
    #: The S3 endpoint boto3 is told of (``AWS_ENDPOINT_URL_S3``); in development it keeps
    #: large payloads off the embedded endpoint (``AWS_ENDPOINT_URL`` turns that off anyway).
    s3_endpoint_url: str | None = None
    #: OpenTelemetry's own ``OTEL_*`` variables (``OTEL_TRACES_EXPORTER``, ``OTEL_SERVICE_NAME``...).
    otel: Mapping[str, str] = field(default_factory=dict)

    @property
    def production(self) -> bool:
        """True in production mode."""
        return self.mode == "production"

    @property
    def embedded(self) -> bool:
        """True when the worker serves its own SQS endpoint (development, no endpoint)."""
        return not self.production and not self.endpoint_url

    @property
    def embedded_url(self) -> str:
        """The address of the embedded SQS endpoint."""
        return f"http://{self.embedded_host}:{self.embedded_port}"

    @property
    def json_logs(self) -> bool:
        """JSON log lines (production default) or console output (development default)."""
        return self.log_format == "json" or (not self.log_format and self.production)

    @property
    def redact_personal_data(self) -> bool:
        """Redact names and emails from logs: on by default in production."""
        return self.production if self.redact is None else self.redact

    def queue_name(self, utility_name: str, default: str) -> str:
        """The SQS queue name (or URL) configured for a queue utility."""
        return self.queue_names.get(queue_setting(utility_name)) or default

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read settings from ``environ`` (``os.environ`` by default)."""
        env = os.environ if environ is None else environ
        reader = _Reader(env)
        mode = reader.text("MODE", "development").lower()
        if mode not in MODES:
            raise SettingsError(f"{PREFIX}MODE must be one of {', '.join(MODES)}, not {mode!r}")
        queue_names = {
            name: value
            for name, value in env.items()
            if name.startswith(PREFIX)
            and name.endswith("_QUEUE")
            and value
            and name != PREFIX + "DEAD_LETTER_QUEUE"
        }
        settings = cls(
            mode=mode,
            region=env.get("AWS_DEFAULT_REGION") or env.get("AWS_REGION") or None,
            endpoint_url=env.get("AWS_ENDPOINT_URL_SQS") or env.get("AWS_ENDPOINT_URL") or None,
            queue_names=queue_names,
            dead_letter_queue=reader.text("DEAD_LETTER_QUEUE", "") or None,
            embedded_host=reader.text("EMBEDDED_HOST", "127.0.0.1"),
            embedded_port=reader.integer("EMBEDDED_PORT", 9324, 0, 65535),
            zcml=reader.text("ZCML", "") or None,
            log_level=reader.choice("LOG_LEVEL", "INFO", ("DEBUG", "INFO", "WARNING", "ERROR")),
            log_format=reader.choice("LOG_FORMAT", "", ("", "json", "console")),
            wait_time=reader.integer("WAIT_TIME", 10, 0, 20),
            concurrency=reader.integer("CONCURRENCY", 4, 1, 64),
            max_attempts=reader.integer("MAX_ATTEMPTS", 8, 1, 1000),
            backoff_base=reader.number("BACKOFF_BASE", 2.0, 0.0, 900.0),
            backoff_max=reader.integer("BACKOFF_MAX", 900, 0, 43_200),
            shutdown_timeout=reader.number("SHUTDOWN_TIMEOUT", 20.0, 0.0, 3600.0),
            startup_timeout=reader.number("STARTUP_TIMEOUT", 60.0, 0.0, 3600.0),
            metrics_port=reader.integer("METRICS_PORT", 8000 if mode == "production" else 0, 0, 65535),
            metrics_host=reader.text("METRICS_HOST", "127.0.0.1"),
            redact=reader.flag("REDACT"),
            redact_keys=reader.names("REDACT_KEYS") or (),
            state_keys=reader.secrets("STATE_KEY", MIN_KEY_LENGTH),
            extensions=reader.names("EXTENSIONS"),
            large_payload_bucket=reader.bucket("LARGE_PAYLOAD_BUCKET"),
            large_payload_threshold=reader.integer("LARGE_PAYLOAD_THRESHOLD", 0, 0, MAX_SQS_MESSAGE),
            s3_endpoint_url=env.get("AWS_ENDPOINT_URL_S3") or None,
            otel={name: value for name, value in env.items() if name.startswith("OTEL_")},
        )
        return settings


class _Reader:
    """Reads and checks ``CHOREOGRAPHER_*`` variables, naming the culprit on error."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = env

    def text(self, name: str, default: str) -> str:
        return self.env.get(PREFIX + name, default).strip()

    def choice(self, name: str, default: str, choices: tuple[str, ...]) -> str:
        value = self.text(name, default)
        value = value.upper() if name == "LOG_LEVEL" else value.lower()
        if value not in choices:
            allowed = ", ".join(c for c in choices if c)
            raise SettingsError(f"{PREFIX}{name} must be one of {allowed}, not {value!r}")
        return value

    def number(self, name: str, default: float, low: float, high: float) -> float:
        raw = self.text(name, "")
        if not raw:
            return default
        try:
            value = float(raw)
        except ValueError:
            raise SettingsError(f"{PREFIX}{name} must be a number, not {raw!r}") from None
        if not low <= value <= high:
            raise SettingsError(f"{PREFIX}{name} must be between {low:g} and {high:g}, not {raw}")
        return value

    def integer(self, name: str, default: int, low: int, high: int) -> int:
        value = self.number(name, default, low, high)
        if value != int(value):
            raise SettingsError(f"{PREFIX}{name} must be a whole number, not {value:g}")
        return int(value)

    def names(self, name: str) -> tuple[str, ...] | None:
        """A comma-separated list; unset means ``None`` (all), ``none`` an empty list."""
        raw = self.text(name, "")
        if not raw:
            return None
        if raw.lower() == "none":
            return ()
        return tuple(part.strip() for part in raw.split(",") if part.strip())

    def secrets(self, name: str, shortest: int) -> tuple[bytes, ...]:
        """A comma-separated list of secrets, each at least ``shortest`` characters long."""
        raw = self.env.get(PREFIX + name, "")
        keys = tuple(part.strip() for part in raw.split(",") if part.strip())
        for number, key in enumerate(keys, 1):
            if len(key) < shortest:
                raise SettingsError(
                    f"{PREFIX}{name}: key {number} has {len(key)} characters, fewer than {shortest}; "
                    'make one with: python -c "import secrets; print(secrets.token_urlsafe(32))"'
                )
        return tuple(key.encode("utf-8") for key in keys)

    def bucket(self, name: str) -> str | None:
        """An S3 bucket name, or None when unset."""
        raw = self.text(name, "")
        if not raw:
            return None
        if not BUCKET_NAME.fullmatch(raw) or ".." in raw:
            raise SettingsError(
                f"{PREFIX}{name} must be an S3 bucket name (3 to 63 lower-case letters, digits, dots "
                f"and hyphens), not {raw!r}"
            )
        return raw

    def flag(self, name: str) -> bool | None:
        raw = self.text(name, "").lower()
        if not raw:
            return None
        if raw in ("1", "true", "yes", "on"):
            return True
        if raw in ("0", "false", "no", "off"):
            return False
        raise SettingsError(f"{PREFIX}{name} must be true or false, not {raw!r}")
