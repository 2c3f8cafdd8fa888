import io

import pytest
from django.core.management import CommandError, call_command

from workspaces import services


def test_it_prints_a_new_token_on_the_last_line(owner, workspace):
    out = io.StringIO()
    call_command("api_token", "alice", "--workspace", "lab", stdout=out, stderr=io.StringIO())
    raw = out.getvalue().strip().splitlines()[-1]
    token = owner.api_tokens.get()
    assert token.digest == services.digest(raw)
    assert token.workspace == workspace


def test_it_refuses_a_token_for_an_unknown_workspace(owner):
    with pytest.raises(CommandError, match="not found"):
        call_command("api_token", "alice", "--workspace", "ghost", stdout=io.StringIO())
    assert not owner.api_tokens.exists()


def test_it_refuses_an_unknown_user(db):
    with pytest.raises(CommandError, match="No user named 'ghost'"):
        call_command("api_token", "ghost", stdout=io.StringIO())


def test_it_prints_a_login_link(owner):
    out = io.StringIO()
    call_command("login_link", "alice", "--url", "http://example:9", stdout=out)
    link = out.getvalue().strip()
    assert link.startswith("http://example:9/login/link/")
    assert services.login_link_consume(raw=link.rstrip("/").rsplit("/", 1)[1]) == owner


def test_it_prints_a_login_link_on_the_port_the_studio_started_on(owner, settings, tmp_path):
    from mlstudio.urls_public import studio_address_write

    settings.DATA_DIR = tmp_path
    settings.MLSTUDIO_PUBLIC_URL = ""
    out = io.StringIO()
    call_command("login_link", "alice", stdout=out)
    assert out.getvalue().startswith("http://127.0.0.1:8000/login/link/")
    studio_address_write(url="http://127.0.0.1:8123")
    out = io.StringIO()
    call_command("login_link", "alice", stdout=out)
    assert out.getvalue().startswith("http://127.0.0.1:8123/login/link/")


def test_it_prints_a_login_link_at_the_public_url(owner, settings, tmp_path):
    from mlstudio.urls_public import studio_address_write

    settings.DATA_DIR = tmp_path
    studio_address_write(url="http://127.0.0.1:8123")
    settings.MLSTUDIO_PUBLIC_URL = "https://studio.example.org/"
    out = io.StringIO()
    call_command("login_link", "alice", stdout=out)
    assert out.getvalue().startswith("https://studio.example.org/login/link/")
