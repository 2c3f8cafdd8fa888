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
