"""Settings: file, environment overrides, and one clear line for each wrong key."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bot.config import ConfigError, load_settings

ROOT = Path(__file__).resolve().parents[1]


def test_example_config_is_valid():
    settings = load_settings(ROOT / "config.example.toml", must_exist=True)
    assert settings.checkins.interval_days == 14
    assert settings.sending.messages_per_second == 30
    assert settings.timezone == "Europe/Paris"
    assert settings.retention_months == 24


def test_environment_overrides_the_file(tmp_path, monkeypatch):
    path = tmp_path / "config.toml"
    path.write_text('[telegram]\nbase_url = "http://127.0.0.1:9/bot"\n[database]\npath = "a.db"\n')
    monkeypatch.setenv("ESSAIM_TELEGRAM__TOKEN", "42:abcdef")
    monkeypatch.setenv("ESSAIM_DATABASE__PATH", "/tmp/other.db")
    settings = load_settings(path)
    assert settings.telegram.token is not None
    assert settings.telegram.token.get_secret_value() == "42:abcdef"
    assert settings.telegram.base_url == "http://127.0.0.1:9/bot"
    assert str(settings.database.path) == "/tmp/other.db"
    assert "abcdef" not in repr(settings)


def test_a_database_url_in_the_environment_selects_postgresql(tmp_path, monkeypatch):
    path = tmp_path / "config.toml"
    path.write_text('[database]\npath = "a.db"\n')
    assert load_settings(path).database.target == Path("a.db")  # SQLite unless told
    monkeypatch.setenv("ESSAIM_DATABASE__URL", "postgresql://essaim@db.internal/essaim")
    assert load_settings(path).database.target == "postgresql://essaim@db.internal/essaim"


@pytest.mark.parametrize(
    ("toml", "key"),
    [
        ('timezone = "Mars/Olympus"', "timezone"),
        ("[checkins]\ninterval_days = 0", "checkins.interval_days"),
        ('[telegram]\ntoken = "nope"', "telegram.token"),
        ("[sending]\nmessages_per_second = 500", "sending.messages_per_second"),
        ("territories = []", "territories"),
        ("colour = 3", "colour"),
        ('[checkins]\nday_start = "21:00:00"\nday_end = "08:00:00"', "checkins"),
        ('[database]\npaht = "x.db"', "database.paht"),
        ('[organisation]\ncontacts = "x@example.org"', "organisation.contacts"),
        ("[sending]\nmessages_per_secnd = 30", "sending.messages_per_secnd"),
        ('[telegram]\ntokn = "1:abcd"', "telegram.tokn"),
        ("[checkins]\nintervall_days = 3", "checkins.intervall_days"),
        ("[calls]\nreminder_hour = [2]", "calls.reminder_hour"),
        ("[initiatives]\ndigest_hour = 2", "initiatives.digest_hour"),
        ("[pairs]\nauto_confirmm = true", "pairs.auto_confirmm"),
        ("[reports]\ndigest = 2", "reports.digest"),
        ("[scheduler]\ntick = 2", "scheduler.tick"),
        ("[sandbox]\nprt = 2", "sandbox.prt"),
        ("[health]\nenable = true", "health.enable"),
    ],
)
def test_wrong_setting_names_the_key(tmp_path, toml, key):
    path = tmp_path / "config.toml"
    path.write_text(toml + "\n")
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    assert str(caught.value).startswith(key)
    assert "\n" not in str(caught.value)


def test_broken_file_stops_start_with_one_line(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text("[checkins]\ninterval_days = -3\n")
    result = subprocess.run(
        [sys.executable, "-m", "bot", "--config", str(path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "checkins.interval_days" in lines[0]
    assert "Traceback" not in result.stderr


def test_check_config_refuses_a_typo_inside_a_section(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text('[organisation]\nname = "Mairie"\ncontacts = "dpo@mairie.fr"\n')
    result = subprocess.run(
        [sys.executable, "-m", "bot", "check-config", "--config", str(path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert result.returncode == 1
    assert "organisation.contacts: unknown setting" in result.stdout
