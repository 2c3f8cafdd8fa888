import pytest
from django.contrib.auth import get_user_model

from environments import builders, services
from environments.models import EnvironmentVersion

SECRET = "page-registry-secret-42"


def register_private(workspace, owner) -> EnvironmentVersion:
    spec = {
        "name": "priv",
        "docker": {
            "enabled": True,
            "base_image": "team/img:1",
            "base_image_registry": {
                "address": "r.example.com",
                "username": "ann",
                "password": SECRET,
            },
        },
        "python": {"conda_dependencies": {"pip_packages": ["rich==13.0.0"]}},
        "environment_variables": {"EPOCHS": "3"},
    }
    return services.environment_register(workspace=workspace, spec=spec, user=owner)[0]


def form(**fields) -> dict:
    return {"name": "web", "pip_requirements": "rich==13.0.0\n", **fields}


def test_it_lists_environments_with_kind_and_build_status(owner, workspace, logged_in):
    register_private(workspace, owner)
    page = logged_in(owner).get("/w/lab/environments/").content.decode()
    assert 'href="/w/lab/environments/priv/"' in page
    assert "MLStudio-SKLearn" in page and "curated" in page
    assert "docker" in page and "Not built" in page
    assert 'href="/w/lab/environments/"' in page  # the nav link


def test_it_shows_versions_spec_and_generated_dockerfile_but_never_the_password(
    owner, workspace, logged_in
):
    version = register_private(workspace, owner)
    page = logged_in(owner).get("/w/lab/environments/priv/").content.decode()
    assert "Generated Dockerfile" in page and "FROM r.example.com/team/img:1" in page
    assert "rich==13.0.0" in page and "EPOCHS" in page
    assert "password set" in page
    assert SECRET not in page
    assert version.registry_password_encrypted not in page


def test_it_shows_the_last_build_log(owner, workspace, logged_in, settings, tmp_path):
    settings.MLSTUDIO_ENVS_DIR = tmp_path / "envs"
    version = register_private(workspace, owner)
    log = builders.build_log_path(version.content_hash)
    log.parent.mkdir(parents=True)
    log.write_text("Step 1/3 : FROM r.example.com/team/img:1\nSuccessfully built\n")
    page = logged_in(owner).get("/w/lab/environments/priv/").content.decode()
    assert "Successfully built" in page


def test_it_shows_an_older_version_on_request(owner, workspace, logged_in):
    spec = {"name": "v", "environment_variables": {"A": "first"}}
    services.environment_register(workspace=workspace, spec=spec, user=owner)
    spec["environment_variables"] = {"A": "second"}
    services.environment_register(workspace=workspace, spec=spec, user=owner)
    client = logged_in(owner)
    assert "second" in client.get("/w/lab/environments/v/").content.decode()
    assert "first" in client.get("/w/lab/environments/v/?version=1").content.decode()
    assert client.get("/w/lab/environments/v/?version=7").status_code == 404


def test_it_registers_from_the_form_and_then_a_new_version(owner, workspace, logged_in):
    client = logged_in(owner)
    response = client.post("/w/lab/environments/", form(), follow=True)
    assert response.redirect_chain[-1][0] == "/w/lab/environments/web/"
    assert "Registered web version 1" in response.content.decode()
    again = client.post("/w/lab/environments/web/", form(environment_variables="A=1"), follow=True)
    assert "Registered web version 2" in again.content.decode()
    same = client.post("/w/lab/environments/web/", form(environment_variables="A=1"), follow=True)
    assert "Nothing changed" in same.content.decode()


def test_it_keeps_the_password_when_the_form_leaves_it_empty(owner, workspace, logged_in):
    register_private(workspace, owner)
    client = logged_in(owner)
    page = client.get("/w/lab/environments/priv/").content.decode()
    assert "leave empty to keep it" in page
    fields = {
        "name": "priv",
        "docker_enabled": "on",
        "base_image": "team/img:1",
        "registry_address": "r.example.com",
        "registry_username": "ann",
        "registry_password": "",
        "pip_requirements": "rich==13.0.0",
        "environment_variables": "EPOCHS=4",
    }
    client.post("/w/lab/environments/priv/", fields)
    latest = EnvironmentVersion.objects.filter(environment__name="priv").order_by("-number")[0]
    assert latest.number == 2 and latest.password_set
    assert services.environment_registry_password(version=latest) == SECRET


def pip_box(page: str) -> str:
    return page.split('name="pip_requirements"', 1)[1].split(">", 1)[1].split("</textarea>")[0]


def test_it_fills_the_form_from_a_version_with_a_package_added(owner, workspace, logged_in):
    register_private(workspace, owner)
    client = logged_in(owner)
    page = client.get("/w/lab/environments/?from=priv:1&add_pip=scikit-learn").content.decode()
    assert pip_box(page) == "rich==13.0.0\nscikit-learn"
    assert 'value="priv"' in page and 'value="team/img:1"' in page
    assert SECRET not in page
    fields = {**form(name="priv", pip_requirements=pip_box(page)), "docker_enabled": "on"}
    fields.update(base_image="team/img:1", registry_address="r.example.com")
    fields.update(registry_username="ann", environment_variables="EPOCHS=3")
    client.post("/w/lab/environments/?from=priv:1&add_pip=scikit-learn", fields)
    latest = EnvironmentVersion.objects.filter(environment__name="priv").order_by("-number")[0]
    assert latest.number == 2
    assert latest.spec["python"]["conda_dependencies"]["pip_packages"] == [
        "rich==13.0.0",
        "scikit-learn",
    ]
    assert services.environment_registry_password(version=latest) == SECRET


def test_it_fills_a_copy_of_a_curated_environment_under_a_name_of_your_own(
    owner, workspace, logged_in
):
    url = "/w/lab/environments/?from=MLStudio-SKLearn:1&add_pip=beautifulsoup4"
    page = logged_in(owner).get(url).content.decode()
    assert 'value="my-sklearn"' in page
    assert pip_box(page).endswith("joblib==1.6.0\nbeautifulsoup4")


def test_it_fills_a_new_environment_with_just_the_package(owner, workspace, logged_in):
    page = logged_in(owner).get("/w/lab/environments/?add_pip=opencv-python").content.decode()
    assert pip_box(page) == "opencv-python"
    assert 'name="user_managed" checked' not in page


def test_it_says_when_the_version_to_fill_from_is_unknown(owner, workspace, logged_in):
    page = logged_in(owner).get("/w/lab/environments/?from=nope:3&add_pip=x").content.decode()
    assert "No environment &#x27;nope&#x27;" in page
    assert pip_box(page) == "x"


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"name": "MLStudio-Mine"}, "reserved"),
        ({"base_image": "a:1", "base_dockerfile": "FROM a:1"}, "both"),
        ({"user_managed": "on"}, "user_managed_dependencies"),
        ({"environment_variables": "no equals sign"}, "is not NAME=value"),
    ],
)
def test_it_shows_a_form_error_and_registers_nothing(owner, workspace, logged_in, fields, words):
    response = logged_in(owner).post("/w/lab/environments/", form(**fields))
    assert response.status_code == 200
    assert words in response.content.decode()
    assert not EnvironmentVersion.objects.filter(environment__workspace=workspace).exists()


def test_it_keeps_readers_from_registering(teammate, workspace, logged_in):
    client = logged_in(teammate)
    assert "Register an environment" not in client.get("/w/lab/environments/").content.decode()
    response = client.post("/w/lab/environments/", form())
    assert "contributor" in response.content.decode()
    assert not EnvironmentVersion.objects.filter(environment__workspace=workspace).exists()


def test_it_hides_environments_from_a_stranger(owner, stranger, workspace, logged_in):
    register_private(workspace, owner)
    client = logged_in(stranger)
    assert client.get("/w/lab/environments/").status_code == 404
    assert client.get("/w/lab/environments/priv/").status_code == 404


def test_it_sends_anonymous_visitors_to_the_login_page(workspace, client):
    response = client.get("/w/lab/environments/")
    assert response.status_code == 302 and "/login/" in response["Location"]


@pytest.fixture
def admin_client(client, db):
    root = get_user_model().objects.create_superuser("root", password="root-pw-1234")
    client.force_login(root)
    return client


def test_it_never_shows_the_password_in_the_admin(owner, workspace, admin_client):
    version = register_private(workspace, owner)
    pages = [
        admin_client.get("/admin/environments/environmentversion/"),
        admin_client.get(f"/admin/environments/environmentversion/{version.pk}/change/"),
        admin_client.get(f"/admin/environments/environment/{version.environment_id}/change/"),
        admin_client.get("/admin/environments/environmentversion/", {"q": "priv"}),
    ]
    for page in pages:
        assert page.status_code == 200
        html = page.content.decode()
        assert SECRET not in html and version.registry_password_encrypted not in html
    change = pages[1].content.decode()
    assert "rich==13.0.0" in change  # the spec is shown, read-only
    assert 'name="spec"' not in change
