"""Password sign-in is throttled after repeated failures; one-time links work once."""

from django.test import Client

from workspaces import services


def sign_in(client: Client, username: str, password: str):
    return client.post("/login/", {"username": username, "password": password})


def test_it_locks_password_sign_in_after_repeated_failures(owner, settings):
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert sign_in(client, "alice", "wrong").status_code == 200  # the form again
    locked = sign_in(client, "alice", "wrong")
    assert locked.status_code == 429
    assert "Too many failed sign-ins" in locked.content.decode()
    # Even the right password is refused while the lock holds.
    assert sign_in(client, "alice", "alice-pw-1234").status_code == 429
    assert "_auth_user_id" not in client.session


def test_a_success_before_the_limit_clears_the_failures(owner, settings):
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        sign_in(client, "alice", "wrong")
    assert sign_in(client, "alice", "alice-pw-1234").status_code == 302
    assert sign_in(Client(), "alice", "wrong").status_code == 200


def test_a_one_time_link_signs_in_once(owner):
    path = f"/login/link/{services.login_link_create(user=owner)}/"
    first, second = Client(), Client()
    assert first.get(path).status_code == 302
    again = second.get(path)
    assert again.status_code == 400
    assert "_auth_user_id" not in second.session
