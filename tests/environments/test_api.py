import json

import pytest

from environments.models import BuildStatus, Environment, EnvironmentVersion

URL = "/api/workspaces/lab/environments"
SECRET = "hunter2-registry-secret"


def post(client, spec: dict):
    return client.post(URL, spec, content_type="application/json")


def sklearn(**extra) -> dict:
    return {
        "name": "sk",
        "python": {"conda_dependencies": {"pip_packages": ["scikit-learn==1.9.1"]}},
        **extra,
    }


def private(password: str | None = SECRET, **docker) -> dict:
    registry = {"address": "registry.example.com", "username": "ann", "password": password}
    return {
        "name": "priv",
        "docker": {"enabled": True, "base_image": "team/img:1", "base_image_registry": registry},
        **docker,
    }


def test_it_registers_version_1_then_returns_it_for_an_identical_spec(owner, workspace, api_as):
    client = api_as(owner)
    first = post(client, sklearn())
    assert first.status_code == 201
    assert first.json()["version"] == "1" and first.json()["created"] is True
    again = post(client, sklearn())
    assert again.status_code == 200
    assert again.json()["version"] == "1" and again.json()["created"] is False
    assert EnvironmentVersion.objects.filter(environment__name="sk").count() == 1


def test_it_registers_the_next_version_when_anything_changes(owner, workspace, api_as):
    client = api_as(owner)
    post(client, sklearn())
    changed = post(client, sklearn(environment_variables={"EPOCHS": "3"}))
    assert changed.status_code == 201 and changed.json()["version"] == "2"
    assert changed.json()["content_hash"] == post(client, sklearn()).json()["content_hash"]
    versions = client.get(f"{URL}/sk").json()["versions"]
    assert [v["version"] for v in versions] == ["3", "2", "1"]


def test_it_keeps_versions_immutable(owner, workspace, api_as):
    client = api_as(owner)
    post(client, sklearn())
    post(client, sklearn(environment_variables={"EPOCHS": "3"}))
    first = client.get(f"{URL}/sk/versions/1").json()
    assert first["spec"]["environment_variables"] == {}
    assert first["spec"]["python"]["conda_dependencies"]["pip_packages"] == ["scikit-learn==1.9.1"]


def test_it_gets_the_latest_version_and_lists_names(owner, workspace, api_as):
    client = api_as(owner)
    post(client, sklearn())
    post(client, sklearn(environment_variables={"A": "1"}))
    latest = client.get(f"{URL}/sk/versions/latest").json()
    assert latest["version"] == "2"
    listing = client.get(URL).json()
    assert listing["sk"]["version"] == "2"
    assert listing["sk"]["kind"] == "virtualenv"
    assert listing["sk"]["build_status"] == BuildStatus.NOT_BUILT


def test_it_lists_the_curated_environments_in_every_workspace(owner, workspace, api_as):
    listing = api_as(owner).get(URL).json()
    assert {"MLStudio-Minimal", "MLStudio-SKLearn", "MLStudio-PyTorch-CPU"} <= set(listing)
    assert listing["MLStudio-Minimal"]["kind"] == "user-managed"
    assert listing["MLStudio-SKLearn"]["curated"] is True
    torch = api_as(owner).get(f"{URL}/MLStudio-PyTorch-CPU/versions/1").json()
    assert "torch==2.13.0" in torch["spec"]["python"]["conda_dependencies"]["pip_packages"]


def test_it_names_what_exists_when_a_name_or_version_is_unknown(owner, workspace, api_as):
    client = api_as(owner)
    post(client, sklearn())
    missing = client.get(f"{URL}/nope/versions/1")
    assert missing.status_code == 404
    assert "sk" in missing.json()["detail"] and "MLStudio-Minimal" in missing.json()["detail"]
    no_version = client.get(f"{URL}/sk/versions/9")
    assert no_version.status_code == 404
    assert "its versions are: 1" in no_version.json()["detail"]


@pytest.mark.parametrize(
    ("spec", "words"),
    [
        (
            {"name": "x", "docker": {"base_image": "a:1", "base_dockerfile": "FROM a:1\n"}},
            "both",
        ),
        ({"name": "MLStudio-SKLearn"}, "reserved"),
        (
            {
                "name": "x",
                "python": {
                    "user_managed_dependencies": True,
                    "conda_dependencies": {"pip_packages": ["numpy"]},
                },
            },
            "user_managed_dependencies",
        ),
        ({"name": "x", "docker": {"base_dockerfile": "FORM ubuntu\nRUN x\n"}}, "FORM"),
        ({"name": "x", "docker": {"shm_size": "big"}}, "shm_size"),
        ({"name": "x", "environment_variables": {"N": 1}}, "strings"),
        ({"name": ""}, "Invalid environment name"),
    ],
)
def test_it_refuses_bad_specs_and_registers_nothing(owner, workspace, api_as, spec, words):
    before = EnvironmentVersion.objects.count()
    response = post(api_as(owner), spec)
    assert response.status_code == 400
    assert words in response.json()["detail"]
    assert EnvironmentVersion.objects.count() == before
    assert not Environment.objects.filter(workspace=workspace).exists()


def test_it_refuses_a_body_that_is_not_an_object(owner, workspace, api_as):
    response = api_as(owner).post(URL, "[1, 2]", content_type="application/json")
    assert 400 <= response.status_code < 500


def test_it_returns_warnings_with_the_registration(owner, workspace, api_as):
    response = post(api_as(owner), {"name": "x", "docker": {"base_image": "img:1"}})
    assert "docker.enabled is False" in response.json()["warnings"][0]


def test_it_lets_a_reader_read_but_not_register(owner, teammate, workspace, api_as):
    post(api_as(owner), sklearn())
    reader = api_as(teammate)
    assert reader.get(f"{URL}/sk").status_code == 200
    response = post(reader, sklearn(environment_variables={"A": "1"}))
    assert response.status_code == 403
    assert EnvironmentVersion.objects.filter(environment__name="sk").count() == 1


def test_it_gives_a_stranger_404(owner, stranger, workspace, api_as):
    post(api_as(owner), sklearn())
    client = api_as(stranger)
    assert client.get(URL).status_code == 404
    assert client.get(f"{URL}/sk/versions/1").status_code == 404
    assert post(client, sklearn(name="mine")).status_code == 404


def test_it_keeps_environments_of_other_workspaces_apart(owner, workspace, api_as):
    from workspaces import services as workspaces

    workspaces.workspace_create(name="other", owner=owner)
    post(api_as(owner), sklearn())
    assert "sk" not in api_as(owner).get("/api/workspaces/other/environments").json()
    assert api_as(owner).get("/api/workspaces/other/environments/sk").status_code == 404


def test_it_never_returns_the_registry_password(owner, workspace, api_as):
    client = api_as(owner)
    created = post(client, private())
    answers = [
        created,
        client.get(URL),
        client.get(f"{URL}/priv"),
        client.get(f"{URL}/priv/versions/1"),
        client.get(f"{URL}/priv/versions/1/log"),
    ]
    for answer in answers:
        assert answer.status_code in (200, 201)
        assert SECRET not in answer.content.decode()
    stored = EnvironmentVersion.objects.get(environment__name="priv")
    assert (
        SECRET not in json.dumps(stored.spec) and SECRET not in stored.registry_password_encrypted
    )
    details = client.get(f"{URL}/priv/versions/1").json()
    assert details["spec"]["docker"]["base_image_registry"] == {
        "address": "registry.example.com",
        "username": "ann",
        "password_set": True,
    }
    assert stored.registry_password_encrypted not in json.dumps(details)


def test_it_keeps_the_password_when_a_copy_comes_back_without_it(owner, workspace, api_as):
    client = api_as(owner)
    post(client, private())
    same = post(client, private(password=None))
    assert same.json()["version"] == "1" and same.json()["created"] is False
    edited = post(client, private(password=None, environment_variables={"A": "1"}))
    assert edited.json()["version"] == "2"
    assert edited.json()["spec"]["docker"]["base_image_registry"]["password_set"] is True
    changed = post(client, private(password="new-password"))
    assert changed.json()["version"] == "3"
    dropped = post(client, private(password=""))
    assert dropped.json()["spec"]["docker"]["base_image_registry"]["password_set"] is False


def test_it_shows_the_generated_dockerfile(owner, workspace, api_as):
    spec = {
        "name": "img",
        "docker": {"enabled": True, "base_image": "mlstudio/python:bookworm"},
        "python": {"conda_dependencies": {"pip_packages": ["rich"]}},
    }
    details = post(api_as(owner), spec).json()
    assert details["kind"] == "docker"
    assert details["dockerfile"].startswith("FROM mlstudio/python:bookworm\n")
    assert "requirements.txt" in details["dockerfile"]
