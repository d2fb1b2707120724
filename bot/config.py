"""Settings: one pydantic-settings model read from a TOML file, overridable by ESSAIM_* variables.

A wrong setting must stop the start with one line naming the key, so `load_settings` turns
pydantic's validation errors into a `ConfigError` whose message is that line.
"""

from __future__ import annotations

import tomllib
from datetime import time
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

TELEGRAM_API = "https://api.telegram.org/bot"
TELEGRAM_FILES = "https://api.telegram.org/file/bot"

Language = Literal["fr", "en"]


class ConfigError(Exception):
    """A configuration problem, said in one line that names the key."""


class Section(BaseModel):
    """A [section] of the file: a key it does not know is a typo, refused with its name
    (`[database] paht = ...` must not start with the default path)."""

    model_config = ConfigDict(extra="forbid")


class TelegramSettings(Section):
    token: SecretStr | None = None
    base_url: str = TELEGRAM_API
    base_file_url: str = TELEGRAM_FILES
    mode: Literal["polling", "webhook"] = "polling"
    webhook_listen: str = "127.0.0.1"
    webhook_port: int = Field(default=8443, ge=1, le=65535)
    webhook_url: str | None = None
    webhook_path: str = "/telegram"
    webhook_secret: SecretStr | None = None

    @field_validator("token")
    @classmethod
    def _token_shape(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value():
            return None
        raw = value.get_secret_value()
        head, _, tail = raw.partition(":")
        if not head.isdigit() or len(tail) < 4:
            raise ValueError("does not look like a BotFather token (digits:secret)")
        return value

    @model_validator(mode="after")
    def _webhook_needs_url(self) -> TelegramSettings:
        if self.mode == "webhook" and not self.webhook_url:
            raise ValueError("webhook mode needs telegram.webhook_url")
        return self


class OrganisationSettings(Section):
    name: str = Field(default="Essaim", min_length=1, max_length=120)
    contact: str = Field(default="contact@example.org", min_length=1, max_length=200)


class DatabaseSettings(Section):
    path: Path = Path("essaim.sqlite3")
    url: str | None = None
    """A `postgresql://` URL; when set it wins over `path`."""

    @property
    def target(self) -> str | Path:
        """What `storage.db.open_database` takes: the URL when there is one, else the path."""
        return self.url or self.path


class CheckinSettings(Section):
    interval_days: int = Field(default=14, ge=1, le=365)
    day_start: time = time(9, 0)
    day_end: time = time(20, 0)

    @model_validator(mode="after")
    def _window_order(self) -> CheckinSettings:
        if self.day_start >= self.day_end:
            raise ValueError("checkins.day_start must be before checkins.day_end")
        return self


class SendingSettings(Section):
    messages_per_second: float = Field(default=30.0, gt=0, le=30)
    per_chat_per_second: float = Field(default=1.0, gt=0, le=10)
    # Replies (the interactive lane) keep the per-chat pace too, with at most this many at
    # once: a fast coordinator must not earn 429s, each of which pauses all sending.
    interactive_chat_burst: int = Field(default=1, ge=1, le=5)
    allow_paid_broadcast: bool = False
    paid_messages_per_second: float = Field(default=1000.0, gt=0, le=1000)
    # Broadcasts run at this share of the limits above, so that they never meet a 429.
    rate_margin: float = Field(default=0.985, ge=0.5, le=1.0)
    # A message Telegram could not be reached for (network error, 5xx) is retried with
    # exponential backoff capped at `retry_backoff_max_seconds`, for `retry_hours` after it
    # was first due; `max_attempts` optionally caps the attempts too (none by default).
    retry_hours: float = Field(default=24.0, gt=0, le=24 * 14)
    retry_backoff_max_seconds: float = Field(default=60.0, ge=1, le=3600)
    max_attempts: int | None = Field(default=None, ge=1)
    max_in_flight: int = Field(default=64, ge=1, le=512)
    # Finished outbox rows (sent, refused, blocked, dropped, expired) are deleted after this
    # many days: the message is in the member's chat, who a broadcast reached stays counted
    # in its recipients table, and the outbox keeps no personal data longer than needed.
    keep_finished_days: float = Field(default=30.0, gt=0, le=3650)
    # On SIGTERM/SIGINT: how long in-flight sends may take to finish before the rest is requeued.
    shutdown_grace_seconds: float = Field(default=10.0, ge=0, le=300)


class CallSettings(Section):
    reminder_hours: list[int] = Field(default_factory=lambda: [24, 2])
    summary_edit_seconds: float = Field(default=5.0, ge=1.0)


class ConsultationSettings(Section):
    # How long to wait for the coordinator's "what we will do with it" message before the
    # results go to those who answered without it.
    results_wait_hours: float = Field(default=24.0, ge=0.0)
    summary_edit_seconds: float = Field(default=5.0, ge=1.0)


class InitiativeSettings(Section):
    digest_hours: float = Field(default=6.0, gt=0)
    max_pending_per_member: int = Field(default=3, ge=1)


class CircleSettings(Section):
    """Initiative circles: their size, how long what is said there is kept, flood control,
    and the share of the bot's sending budget circle traffic may use as a whole."""

    size_limit: int = Field(default=30, ge=2, le=200)
    history_days: int = Field(default=30, ge=1, le=365)
    member_messages_per_minute: int = Field(default=6, ge=1, le=60)
    circle_messages_per_minute: int = Field(default=20, ge=1, le=600)
    budget_share: float = Field(default=0.2, gt=0, le=0.5)


class ReportSettings(Section):
    """Signalements: how often non-urgent ones are gathered, when they are raised again,
    and how long their content is kept (it concerns a third person who never chose)."""

    digest_hours: float = Field(default=3.0, gt=0, le=48)
    overdue_hours: float = Field(default=48.0, gt=0)
    remind_days: float = Field(default=7.0, gt=0)
    keep_closed_days: int = Field(default=183, ge=1, le=3650)
    max_age_days: int = Field(default=365, ge=30, le=3650)
    warn_days: int = Field(default=14, ge=1, le=60)


class PairSettings(Section):
    auto_confirm: bool = False


class SchedulerSettings(Section):
    tick_seconds: float = Field(default=5.0, gt=0, le=3600)


class SandboxSettings(Section):
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=1, le=65535)
    api_port: int = Field(default=8081, ge=0, le=65535)


class HealthSettings(Section):
    enabled: bool = False
    host: str = "127.0.0.1"
    port: int = Field(default=8090, ge=1, le=65535)
    # /healthz answers 503 when the oldest due delivery has waited longer than this.
    max_queue_age_seconds: float = Field(default=300.0, gt=0)
    # ... and when every send has failed (Telegram unreachable) for longer than this.
    max_failing_seconds: float = Field(default=60.0, gt=0)
    # Also serve Prometheus text at /metrics.
    metrics: bool = True


class WorkersSettings(Section):
    """Several workers on one PostgreSQL database (one lease holder sends; all take updates)."""

    # The lease holder renews every `renew_seconds`; when it dies, another worker takes over
    # once `lease_seconds` have passed without a renewal.
    lease_seconds: float = Field(default=3.0, ge=1.0, le=60.0)
    renew_seconds: float = Field(default=0.75, gt=0, le=20.0)
    # How often a worker without the lease tries to take it.
    standby_poll_seconds: float = Field(default=0.5, gt=0, le=20.0)
    # Telegram's limits are per bot token: on PostgreSQL every worker takes its sending
    # slots from one budget in the database.
    shared_budget: bool = True
    # Shown by /healthz and the logs; the host name and process id when empty.
    name: str | None = Field(default=None, max_length=80)

    @model_validator(mode="after")
    def _renew_in_time(self) -> WorkersSettings:
        if self.renew_seconds * 2 > self.lease_seconds:
            raise ValueError("workers.renew_seconds must be at most half of lease_seconds")
        return self


class Settings(BaseSettings):
    """Everything a deployment chooses. Environment variables win over the file."""

    model_config = SettingsConfigDict(
        env_prefix="ESSAIM_", env_nested_delimiter="__", extra="forbid", case_sensitive=False
    )

    telegram: TelegramSettings = TelegramSettings()
    organisation: OrganisationSettings = OrganisationSettings()
    database: DatabaseSettings = DatabaseSettings()
    coordinators: list[int] = Field(default_factory=list)
    territories: list[str] = Field(
        default_factory=lambda: ["Blaye", "Libourne", "Saint-André-de-Cubzac"], min_length=1
    )
    themes: list[str] = Field(
        default_factory=lambda: ["Solidarité", "Environnement", "Culture", "Jeunesse"],
        min_length=1,
    )
    default_language: Language = "fr"
    timezone: str = "Europe/Paris"
    checkins: CheckinSettings = CheckinSettings()
    retention_months: int = Field(default=24, ge=1, le=120)
    invite_days: int = Field(default=7, ge=1, le=90)
    sending: SendingSettings = SendingSettings()
    calls: CallSettings = CallSettings()
    consultations: ConsultationSettings = ConsultationSettings()
    initiatives: InitiativeSettings = InitiativeSettings()
    circles: CircleSettings = CircleSettings()
    pairs: PairSettings = PairSettings()
    reports: ReportSettings = ReportSettings()
    scheduler: SchedulerSettings = SchedulerSettings()
    sandbox: SandboxSettings = SandboxSettings()
    health: HealthSettings = HealthSettings()
    workers: WorkersSettings = WorkersSettings()

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @field_validator("territories", "themes")
    @classmethod
    def _distinct_names(cls, values: list[str]) -> list[str]:
        cleaned = [v.strip() for v in values]
        if any(not v or len(v) > 40 for v in cleaned):
            raise ValueError("each name must have 1 to 40 characters")
        if len(set(cleaned)) != len(cleaned):
            raise ValueError("names must be distinct")
        return cleaned

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Environment first so that ESSAIM_* overrides what the TOML file (init) says.
        return (env_settings, init_settings)


def _key_of(location: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in location) or "(root)"


def load_settings(path: Path | None, *, must_exist: bool = False) -> Settings:
    """Read the TOML file (if any) and the environment into validated settings."""
    data: dict[str, Any] = {}
    if path is not None and path.exists():
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: not valid TOML ({exc})") from None
        except OSError as exc:
            raise ConfigError(f"{path}: cannot be read ({exc.strerror})") from None
    elif must_exist and path is not None:
        raise ConfigError(f"{path}: no such configuration file")
    try:
        return Settings(**data)
    except ValidationError as exc:
        lines = []
        for error in exc.errors():
            message = str(error["msg"]).removeprefix("Value error, ")
            if error["type"] == "extra_forbidden":
                message = "unknown setting (a typo? see config.example.toml)"
            lines.append(f"{_key_of(error['loc'])}: {message}")
        raise ConfigError("; ".join(lines)) from None
