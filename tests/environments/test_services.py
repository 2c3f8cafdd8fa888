import threading

import pytest
from django.db import connection

from environments import crypto, selectors, services
from environments.models import EnvironmentVersion
from mlstudio.errors import NotFound, UserError

OLD_KEY = "the-old-secret-key-that-was-used-to-encrypt-0123"
NEW_KEY = "the-new-secret-key-after-rotation-0123456789abcd"


SECRET = "s3cret"


def private(password=SECRET, **extra) -> dict:
    registry = {"address": "r.example.com", "username": "ann", "password": password}
    return {
        "name": "priv",
        "docker": {"base_image": "img:1", "base_image_registry": registry},
        **extra,
    }


def test_it_encrypts_the_password_and_decrypts_it_for_the_builder(owner, workspace):
    version, _ = services.environment_register(workspace=workspace, spec=private(), user=owner)
    assert version.password_set and "s3cret" not in version.registry_password_encrypted
    assert services.environment_registry_password(version=version) == "s3cret"


def test_it_fails_loudly_after_the_secret_key_changed(owner, workspace, settings):
    settings.SECRET_KEY = OLD_KEY
    version, _ = services.environment_register(workspace=workspace, spec=private(), user=owner)
    settings.SECRET_KEY = NEW_KEY
    with pytest.raises(crypto.SecretUnreadable) as caught:
        services.environment_registry_password(version=version)
    assert caught.value.message.startswith(
        "The registry password of environment 'priv' version 1 cannot be decrypted: the "
        "server's secret key changed"
    )
    # An edited copy without the password cannot silently lose it either.
    with pytest.raises(crypto.SecretUnreadable):
        services.environment_register(
            workspace=workspace, spec=private(password=None, environment_variables={"A": "1"}),
            user=owner,
        )  # fmt: skip
    # Registering again with the password is the way out.
    again, created = services.environment_register(workspace=workspace, spec=private(), user=owner)
    assert created and services.environment_registry_password(version=again) == "s3cret"


def test_it_still_decrypts_with_the_old_key_among_the_fallbacks(owner, workspace, settings):
    settings.SECRET_KEY = OLD_KEY
    version, _ = services.environment_register(workspace=workspace, spec=private(), user=owner)
    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = NEW_KEY, [OLD_KEY]
    assert services.environment_registry_password(version=version) == "s3cret"


def test_it_resolves_a_run_environment_to_its_registered_version(owner, workspace):
    v1, _ = services.environment_register(workspace=workspace, spec=private(), user=owner)
    services.environment_register(
        workspace=workspace, spec=private(environment_variables={"A": "1"}), user=owner
    )
    fetched = {**private(password=None), "version": "1"}
    assert services.environment_resolve(workspace=workspace, spec=fetched, user=owner) == v1
    unregistered = {"name": "fresh", "python": {"user_managed_dependencies": True}}
    made = services.environment_resolve(workspace=workspace, spec=unregistered, user=owner)
    assert (made.name, made.version) == ("fresh", "1")
    edited = {**private(password=None), "version": "1", "environment_variables": {"B": "2"}}
    assert services.environment_resolve(workspace=workspace, spec=edited, user=owner).number == 3


def test_it_resolves_a_curated_environment_but_refuses_to_change_it(owner, workspace):
    curated = selectors.environment_version_get(workspace=workspace, name="MLStudio-Minimal")
    sent = {
        "name": "MLStudio-Minimal",
        "version": "1",
        "python": {"user_managed_dependencies": True},
    }
    assert services.environment_resolve(workspace=workspace, spec=sent, user=owner) == curated
    changed = {**sent, "environment_variables": {"A": "1"}}
    with pytest.raises(UserError) as caught:
        services.environment_resolve(workspace=workspace, spec=changed, user=owner)
    assert "cannot be changed" in caught.value.message


def test_it_refuses_an_unknown_version_at_resolve(owner, workspace):
    with pytest.raises(NotFound):
        services.environment_resolve(
            workspace=workspace, spec={"name": "nope", "version": "3"}, user=owner
        )


@pytest.mark.django_db(transaction=True)
def test_it_numbers_concurrent_registrations_without_gaps_or_duplicates(owner, workspace):
    errors = []

    def register(i):
        try:
            spec = {"name": "race", "environment_variables": {"I": str(i)}}
            services.environment_register(workspace=workspace, spec=spec, user=owner)
        except Exception as exc:  # surfaced by the assertion below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=register, args=(i,)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors
    numbers = sorted(
        EnvironmentVersion.objects.filter(environment__name="race").values_list("number", flat=True)
    )
    assert numbers == [1, 2, 3, 4, 5, 6]


def test_it_keeps_the_curated_environments_after_a_flush(db):
    from django.core.management import call_command

    call_command("flush", interactive=False, verbosity=0)
    names = set(
        EnvironmentVersion.objects.filter(environment__workspace=None).values_list(
            "environment__name", flat=True
        )
    )
    assert names == {"MLStudio-Minimal", "MLStudio-SKLearn", "MLStudio-PyTorch-CPU"}
