"""Process settings, read once from the environment.

This is the only module that reads ``os.environ``: Chalice sets a stage's variables only during an
invocation (test client, local mode), so the container builds Settings lazily on first use, never at
import time.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from chalicelib.domain.brokers import TOKEN_MASTERS
from chalicelib.services.clock import ClockShift

TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
#: Stages that run on the emulator: the only ones allowed a shifted clock.
EMULATOR_STAGES = frozenset({"local", "test"})


@dataclass(frozen=True)
class Settings:
    """Everything a process needs to reach its AWS resources and behave per stage."""

    stage: str
    region: str
    table_name: str
    user_pool_id: str
    user_pool_client_id: str
    secrets_kms_key_id: str
    aws_endpoint_url: str | None = None
    jwks_url_override: str | None = None
    auto_confirm_signup: bool = False
    schedule_shards: int = 4
    app_name: str = "optexec"
    public_api_url: str = "http://127.0.0.1:8000"
    # The web app's origin (empty: none): a browser finishing a broker login is sent back to it.
    web_app_url: str = ""
    # Per broker, host key -> base URL overrides (the fake brokers on loopback, a sandbox).
    broker_hosts: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    alarm_topic_arn: str | None = None
    # Where paper orders fill: "book" (the platform's own book in the table, priced from a live
    # account's quotes or the simulator's; works on AWS) or "sim" (the simulator's Kite fake
    # matches them: the older path, kept for comparison). docs/paper.md.
    paper_engine: str = "book"
    order_rate: int = 8  # order requests per second per broker account (capped at 10)
    # Instrument masters: where downloads are cached (empty: a directory under the system temp
    # dir) and whose public masters the morning refresh downloads (services/instrument_refresh).
    instrument_cache_dir: str = ""
    instrument_brokers: tuple[str, ...] = TOKEN_MASTERS
    # Telegram notifications: the Bot API host (the fake on loopback locally), the bot's username
    # for deep links, and its token: given directly (local) or as the name of an SSM SecureString
    # parameter read at start-up (AWS). No token: Telegram delivery is off, in-app still works.
    telegram_api_url: str = "https://api.telegram.org"
    telegram_bot_username: str = ""
    telegram_bot_token: str = field(default="", repr=False)
    telegram_bot_token_parameter: str = ""
    telegram_webhook_secret: str = field(default="", repr=False)
    # The webhook secret on AWS: the name of an SSM SecureString Terraform generates (read once).
    telegram_webhook_secret_parameter: str = ""
    # Notification delivery through SQS (AWS): the queue a recorded notification's id goes to, read
    # by the deliver_notifications function. Empty (local runs): the in-process worker delivers.
    notification_queue_url: str = ""
    # E-mail notifications through SES: the verified sender (infra/notifications.tf); empty: off.
    notification_email_sender: str = ""
    # AWS calls (DynamoDB through PynamoDB, Cognito, KMS, SNS): a stalled dependency must turn
    # into a 503 within 5 s, not hang the API for botocore's 60 s x 5. A call costs at most
    # attempts x (connect or read timeout) plus one backoff of up to 1 s: 2 x 1.5 + 1 = 4 s.
    aws_connect_timeout: float = 1.0
    aws_read_timeout: float = 1.5
    aws_max_attempts: int = 2
    # Broker calls made while an API request waits (the login's token exchange): one attempt
    # must end well inside 5 s. The engine's adapters keep their own (adapters/brokers/http_client.py).
    broker_api_connect_timeout: float = 1.5
    broker_api_read_timeout: float = 3.0
    # The platform's clock: None = the wall clock; else a shift (PLATFORM_CLOCK="<at>@<anchor>",
    # set by `make run AT=`): it reads `at` when the wall clock reads `anchor`, real speed after.
    clock_shift: ClockShift | None = None

    def __post_init__(self) -> None:
        if self.clock_shift is not None and self.stage not in EMULATOR_STAGES:
            raise ValueError(
                f"PLATFORM_CLOCK shifts the clock, which only emulator stages allow "
                f"({', '.join(sorted(EMULATOR_STAGES))}); stage {self.stage!r} runs on the wall clock"
            )
        if self.stage not in EMULATOR_STAGES and _loopback(self.public_api_url):
            # Brokers would send the trader's login back to this machine's loopback address.
            raise ValueError(
                f"PUBLIC_API_URL is {self.public_api_url!r} on stage {self.stage!r}: it must be the "
                "API's public URL (Terraform sets it: the custom domain or the API Gateway URL)"
            )

    @property
    def jwt_issuer(self) -> str:
        # Cognito (and the emulator) put the real AWS URL in `iss`, whatever the endpoint.
        return f"https://cognito-idp.{self.region}.amazonaws.com/{self.user_pool_id}"

    @property
    def jwks_url(self) -> str:
        """Where the signing keys live: AWS's well-known URL, or the emulator's copy."""
        if self.jwks_url_override:
            return self.jwks_url_override
        if self.aws_endpoint_url:
            return f"{self.aws_endpoint_url}/{self.user_pool_id}/.well-known/jwks.json"
        return f"{self.jwt_issuer}/.well-known/jwks.json"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        source = os.environ if env is None else env
        return cls(
            stage=source.get("STAGE", "local"),
            region=source.get("AWS_REGION", source.get("AWS_DEFAULT_REGION", "ap-south-1")),
            table_name=source.get("TABLE_NAME", ""),
            user_pool_id=source.get("USER_POOL_ID", ""),
            user_pool_client_id=source.get("USER_POOL_CLIENT_ID", ""),
            secrets_kms_key_id=source.get("SECRETS_KMS_KEY_ID", ""),
            aws_endpoint_url=source.get("AWS_ENDPOINT_URL") or None,
            jwks_url_override=source.get("JWKS_URL") or None,
            auto_confirm_signup=source.get("AUTO_CONFIRM_SIGNUP", "").lower() in TRUE_WORDS,
            schedule_shards=int(source.get("SCHEDULE_SHARDS", "4")),
            public_api_url=source.get("PUBLIC_API_URL") or "http://127.0.0.1:8000",
            web_app_url=source.get("WEB_APP_URL", "").rstrip("/"),
            broker_hosts=_json_mapping(source.get("BROKER_HOSTS", ""), "BROKER_HOSTS"),
            alarm_topic_arn=source.get("ALARM_TOPIC_ARN") or None,
            paper_engine=_paper_engine(source.get("PAPER_ENGINE", "book")),
            order_rate=int(source.get("ORDER_RATE", "8")),
            instrument_cache_dir=source.get("INSTRUMENT_CACHE_DIR", ""),
            instrument_brokers=_names(source.get("INSTRUMENT_BROKERS"), cls.instrument_brokers),
            telegram_api_url=source.get("TELEGRAM_API_URL") or "https://api.telegram.org",
            telegram_bot_username=source.get("TELEGRAM_BOT_USERNAME", ""),
            telegram_bot_token=source.get("TELEGRAM_BOT_TOKEN", ""),
            telegram_bot_token_parameter=source.get("TELEGRAM_BOT_TOKEN_PARAMETER", ""),
            telegram_webhook_secret=source.get("TELEGRAM_WEBHOOK_SECRET", ""),
            telegram_webhook_secret_parameter=source.get("TELEGRAM_WEBHOOK_SECRET_PARAMETER", ""),
            notification_queue_url=source.get("NOTIFICATION_QUEUE_URL", ""),
            notification_email_sender=source.get("NOTIFICATION_EMAIL_SENDER", ""),
            aws_connect_timeout=float(source.get("AWS_CONNECT_TIMEOUT", "1.0")),
            aws_read_timeout=float(source.get("AWS_READ_TIMEOUT", "1.5")),
            aws_max_attempts=max(1, int(source.get("AWS_MAX_ATTEMPTS", "2"))),
            broker_api_connect_timeout=float(source.get("BROKER_API_CONNECT_TIMEOUT", "1.5")),
            broker_api_read_timeout=float(source.get("BROKER_API_READ_TIMEOUT", "3.0")),
            clock_shift=_shift(source.get("PLATFORM_CLOCK", "")),
        )

    def missing(self) -> list[str]:
        """Names of required settings that are empty, so start-up can fail with a clear message."""
        required = {
            "TABLE_NAME": self.table_name,
            "USER_POOL_ID": self.user_pool_id,
            "USER_POOL_CLIENT_ID": self.user_pool_client_id,
            "SECRETS_KMS_KEY_ID": self.secrets_kms_key_id,
        }
        return [name for name, value in required.items() if not value]


def _loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    return host in ("", "localhost") or host.startswith("127.") or host == "::1"


def _names(raw: str | None, default: tuple[str, ...]) -> tuple[str, ...]:
    """A comma-separated list; unset keeps ``default``, an empty value means none."""
    if raw is None:
        return default
    return tuple(n.strip() for n in raw.split(",") if n.strip())


def _shift(raw: str) -> ClockShift | None:
    if not raw.strip():
        return None
    try:
        return ClockShift.parse(raw.strip())
    except ValueError as error:
        raise ValueError(f"PLATFORM_CLOCK: {error}") from error


def _json_mapping(raw: str, name: str) -> dict[str, dict[str, str]]:
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except ValueError as error:
        raise ValueError(f"{name} must be a JSON object: {error}") from error
    if not isinstance(value, dict) or not all(isinstance(v, dict) for v in value.values()):
        raise ValueError(f"{name} must map broker names to objects of host URLs")
    return {str(k): {str(a): str(b) for a, b in v.items()} for k, v in value.items()}


def _paper_engine(value: str) -> str:
    engine = (value or "book").strip().lower()
    if engine not in ("book", "sim"):
        raise ValueError(f"PAPER_ENGINE must be book or sim, got {value!r}")
    return engine
