"""Typed readers for MLStudio's environment variables.

Every reader fails loudly with a `ConfigError` that names the variable and says what a
good value looks like, so a typo stops start-up instead of surfacing as a strange bug.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from urllib.parse import unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured

TRUE_WORDS = {"1", "true", "yes", "on"}
FALSE_WORDS = {"0", "false", "no", "off", ""}


class ConfigError(ImproperlyConfigured):
    """A bad environment variable; the message names it and the way out."""


def env_str(name: str, default: str) -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    word = raw.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ConfigError(f"{name}={raw!r} is not a boolean; use one of 1/0, true/false, yes/no.")


def env_int(name: str, default: int, *, minimum: int = 0, maximum: int | None = None) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a whole number.") from None
    if value < minimum:
        raise ConfigError(f"{name}={value} is below the minimum of {minimum}.")
    if maximum is not None and value > maximum:
        raise ConfigError(f"{name}={value} is above the maximum of {maximum}.")
    return value


def env_choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    raw = os.environ.get(name) or default
    value = raw.strip().upper()
    if value not in choices:
        raise ConfigError(f"{name}={raw!r} is not one of {', '.join(choices)}.")
    return value


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def data_dir(name: str = "MLSTUDIO_DATA_DIR", default: str = "./.mlstudio") -> Path:
    """The data folder, created if missing and proven writable."""
    path = Path(os.environ.get(name) or default).expanduser().resolve()
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / f".write-test-{os.getpid()}"
        probe.write_text("ok")
        probe.unlink()
    except OSError as exc:
        raise ConfigError(
            f"{name}: the data folder {path} cannot be written ({exc.strerror}). "
            f"Point {name} at a folder you can write, or fix its permissions."
        ) from None
    return path


def secret_key(folder: Path, name: str = "MLSTUDIO_SECRET_KEY") -> str:
    """The secret key from the environment, else one generated once into the data folder."""
    raw = os.environ.get(name)
    if raw:
        if len(raw) < 32:
            raise ConfigError(f"{name} is too short ({len(raw)} characters); use at least 32.")
        return raw
    key_file = folder / "secret_key"
    if key_file.exists():
        return key_file.read_text().strip()
    key = secrets.token_urlsafe(50)
    fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(key)
    return key


def database(url: str | None, folder: Path, name: str = "DATABASE_URL") -> dict:
    """A Django DATABASES entry from a URL: sqlite:///path or postgresql://user:pw@host:port/db."""
    if not url:
        return sqlite_database(folder / "mlstudio.sqlite3")
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme == "sqlite":
        path = unquote(parts.path)
        if parts.netloc or not path or path == "/":
            raise ConfigError(
                f"{name}={url!r}: a SQLite URL needs a file path, e.g. sqlite:////abs/path/db.sqlite3"
            )
        return sqlite_database(Path(path))
    if scheme in {"postgres", "postgresql", "pgsql"}:
        db_name = unquote(parts.path.lstrip("/"))
        try:
            port = parts.port
        except ValueError:
            raise ConfigError(f"{name}: the port in {_redact(url)!r} is not a number.") from None
        if not db_name or "/" in db_name:
            raise ConfigError(
                f"{name}={_redact(url)!r} names no database; "
                "use postgresql://user:password@host:5432/dbname"
            )
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": db_name,
            "USER": unquote(parts.username or ""),
            "PASSWORD": unquote(parts.password or ""),
            "HOST": parts.hostname or "",
            "PORT": str(port or ""),
            "CONN_MAX_AGE": env_int("MLSTUDIO_DB_CONN_MAX_AGE", 60),
            "CONN_HEALTH_CHECKS": True,
        }
    raise ConfigError(
        f"{name}={_redact(url)!r} has an unsupported scheme {scheme!r}; "
        "use sqlite:///path or postgresql://user:password@host:port/dbname"
    )


def sqlite_database(path: Path) -> dict:
    return {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": str(path),
        # WAL lets the web server read while a worker writes; IMMEDIATE avoids
        # "database is locked" on read-then-write transactions.
        "OPTIONS": {
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
        },
        "TEST": {"NAME": str(path.with_name("test_" + path.name))},
    }


def redis_url(url: str | None, folder: Path, name: str = "REDIS_URL") -> tuple[str, bool]:
    """The Redis URL and whether it is the studio's private, embedded server."""
    if not url:
        return f"unix://{folder / 'redis.sock'}", True
    scheme = urlsplit(url).scheme
    if scheme not in {"redis", "rediss", "unix"}:
        raise ConfigError(
            f"{name}={_redact(url)!r} is not a Redis URL; use redis://host:6379/0 "
            "or unix:///path/to/redis.sock"
        )
    return url, False


def kombu_url(url: str) -> str:
    """Kombu spells a Redis unix socket as redis+socket://."""
    if url.startswith("unix://"):
        return "redis+socket://" + url[len("unix://") :]
    return url


def _redact(url: str) -> str:
    parts = urlsplit(url)
    if parts.password:
        return url.replace(f":{parts.password}@", ":***@")
    return url


def control_beat(task: str, seconds: float, *, expires: int | None = None) -> dict:
    """A Celery beat entry: `task` every `seconds` on the control queue; with `expires`, a
    message still queued after that many seconds is dropped (the next beat sends another)."""
    options: dict = {"queue": "control"}
    if expires is not None:
        options["expires"] = expires
    return {"task": task, "schedule": seconds, "options": options}
