import os
import subprocess
import sys

import pytest

from mlstudio import config
from tests.processes import REPO


def manage(*args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=REPO,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("variable", "value", "says"),
    [
        ("DATABASE_URL", "mysql://root@localhost/x", "unsupported scheme"),
        ("DATABASE_URL", "postgresql://root@localhost:notaport/x", "port"),
        ("DATABASE_URL", "postgresql://root@localhost:5432/", "names no database"),
        ("DATABASE_URL", "sqlite://", "needs a file path"),
        ("REDIS_URL", "http://localhost", "not a Redis URL"),
        ("DEBUG", "maybe", "not a boolean"),
        ("MLSTUDIO_SECRET_KEY", "short", "too short"),
        ("MLSTUDIO_NODE_OFFLINE_SECONDS", "soon", "not a whole number"),
        ("MLSTUDIO_LOG_LEVEL", "LOUD", "not one of"),
        ("MLSTUDIO_RUN_NICENESS", "20", "above the maximum of 19"),
        ("MLSTUDIO_WEB_PROCESSES", "0", "below the minimum of 1"),
    ],
)
def test_it_stops_startup_naming_the_bad_variable(tmp_path, variable, value, says):
    result = manage("check", env={"MLSTUDIO_DATA_DIR": str(tmp_path), variable: value})
    assert result.returncode == 2
    assert variable in result.stderr
    assert says in result.stderr
    assert "Traceback" not in result.stderr


def test_it_refuses_a_data_folder_it_cannot_write(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    result = manage("check", env={"MLSTUDIO_DATA_DIR": str(blocker / "data")})
    assert result.returncode == 2
    assert "MLSTUDIO_DATA_DIR" in result.stderr
    assert "cannot be written" in result.stderr


def test_it_generates_the_secret_key_once_and_keeps_it(tmp_path, monkeypatch):
    monkeypatch.delenv("MLSTUDIO_SECRET_KEY", raising=False)
    first = config.secret_key(tmp_path)
    assert config.secret_key(tmp_path) == first
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600


def test_it_reads_postgres_urls_with_quoted_passwords():
    db = config.database("postgresql://me:p%40ss@db.example:5433/studio", None)
    assert (db["USER"], db["PASSWORD"], db["HOST"], db["PORT"], db["NAME"]) == (
        "me",
        "p@ss",
        "db.example",
        "5433",
        "studio",
    )


def test_it_defaults_to_sqlite_in_wal_mode(tmp_path):
    db = config.database("", tmp_path)
    assert db["NAME"] == str(tmp_path / "mlstudio.sqlite3")
    assert "journal_mode=WAL" in db["OPTIONS"]["init_command"]


def test_it_redacts_passwords_in_messages():
    with pytest.raises(config.ConfigError) as error:
        config.database("mysql://me:secret@host/db", None)
    assert "secret" not in str(error.value)


def test_it_lists_every_variable_in_env_example():
    example = (REPO / ".env.example").read_text()
    used = set()
    for path in [*REPO.glob("mlstudio/*.py")]:
        text = path.read_text()
        for reader in ("env_str", "env_bool", "env_int", "env_list", "env_choice"):
            for chunk in text.split(f"config.{reader}(")[1:]:
                used.add(chunk.split('"')[1])
    used |= {"MLSTUDIO_DATA_DIR", "MLSTUDIO_SECRET_KEY", "DATABASE_URL", "REDIS_URL"}
    missing = sorted(v for v in used if f"{v}=" not in example)
    assert not missing
