import pytest

from environments import spec as specs
from mlstudio.errors import UserError


def normalized(**raw) -> dict:
    return specs.normalize({"name": "env", **raw}).spec


def refused(**raw) -> str:
    with pytest.raises(UserError) as caught:
        specs.normalize({"name": "env", **raw})
    return caught.value.message


def test_it_fills_every_field_so_equal_specs_look_equal():
    spec = normalized()
    assert spec["python"] == {
        "user_managed_dependencies": False,
        "interpreter_path": None,
        "conda_dependencies": {
            "python_version": None,
            "channels": [],
            "conda_packages": [],
            "pip_packages": [],
        },
    }
    assert spec["docker"]["base_image"] == "mlstudio/python:bookworm"
    assert spec["environment_variables"] == {}


def test_it_folds_requirements_text_into_the_pip_packages():
    spec = normalized(
        python={
            "conda_dependencies": {"pip_packages": ["numpy==2.4.6"]},
            "pip_requirements": "# pinned\nnumpy==2.4.6\npandas  # data frames\n\n",
        }
    )
    assert spec["python"]["conda_dependencies"]["pip_packages"] == ["numpy==2.4.6", "pandas"]


def test_it_hashes_only_what_changes_the_build():
    base = normalized(python={"conda_dependencies": {"pip_packages": ["numpy"]}})
    renamed = specs.normalize({**base, "name": "other", "version": "7"}).spec
    with_variables = normalized(
        python={"conda_dependencies": {"pip_packages": ["numpy"]}},
        environment_variables={"A": "1"},
        docker={"shm_size": "2g", "arguments": ["--cpus", "2"], "enabled": True},
    )
    more_packages = normalized(python={"conda_dependencies": {"pip_packages": ["numpy", "rich"]}})
    assert specs.content_hash(base) == specs.content_hash(renamed)
    assert specs.content_hash(base) == specs.content_hash(with_variables)
    assert specs.content_hash(base) != specs.content_hash(more_packages)


def test_it_puts_the_registry_address_but_not_the_login_in_the_hash():
    def spec(address, username):
        registry = {"address": address, "username": username, "password": "pw"}
        return normalized(docker={"base_image": "team/img:1", "base_image_registry": registry})

    assert specs.content_hash(spec("r.example.com", "ann")) == specs.content_hash(
        spec("r.example.com", "bob")
    )
    assert specs.content_hash(spec("r.example.com", "ann")) != specs.content_hash(
        spec("s.example.com", "ann")
    )


def test_it_never_keeps_the_password_in_the_spec():
    checked = specs.normalize(
        {
            "name": "env",
            "docker": {
                "base_image": "team/img:1",
                "base_image_registry": {"address": "r.io", "username": "u", "password": "s3cret"},
            },
        }
    )
    assert checked.password == "s3cret"
    assert "s3cret" not in specs.canonical_json(checked.spec)


def test_it_generates_a_dockerfile_from_the_base_image_and_packages():
    spec = normalized(
        docker={
            "enabled": True,
            "base_image": "team/img:1",
            "base_image_registry": {"address": "r.io"},
        },
        python={"conda_dependencies": {"pip_packages": ["numpy==2.4.6"]}},
    )
    dockerfile = specs.dockerfile_for(spec)
    assert dockerfile.startswith("FROM r.io/team/img:1\n")
    assert "python3 -m venv /opt/mlstudio/env" in dockerfile
    assert "-r /tmp/mlstudio/requirements.txt" in dockerfile
    assert specs.requirements_text(spec) == "numpy==2.4.6\n"
    assert specs.image_python(spec) == "/opt/mlstudio/env/bin/python"


def test_it_appends_the_pip_installs_to_a_users_dockerfile():
    dockerfile = "FROM mlstudio/python:bookworm\nRUN echo 'Hello from custom container!'\n"
    spec = normalized(
        docker={"enabled": True, "base_dockerfile": dockerfile},
        python={"conda_dependencies": {"pip_packages": ["rich"]}},
    )
    generated = specs.dockerfile_for(spec)
    assert generated.startswith(dockerfile)
    assert "pip install" in generated


def test_it_leaves_a_user_managed_image_as_it_is():
    spec = normalized(
        docker={"enabled": True, "base_image": "fastdotai/fastai2:latest"},
        python={"user_managed_dependencies": True},
    )
    assert specs.dockerfile_for(spec) == "FROM fastdotai/fastai2:latest\n"
    assert specs.image_python(spec) == "python3"


def test_it_puts_the_hosts_pip_settings_before_the_installs():
    spec = normalized(python={"conda_dependencies": {"pip_packages": ["rich"]}})
    dockerfile = specs.dockerfile_for(spec, preamble="ARG PIP_INDEX_URL\n")
    assert dockerfile.index("ARG PIP_INDEX_URL") < dockerfile.index("pip install")
    assert dockerfile.index("FROM ") < dockerfile.index("ARG PIP_INDEX_URL")


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        (
            {"docker": {"base_image": "a:1", "base_dockerfile": "FROM b\n"}},
            "both docker.base_image",
        ),
        ({"name": "MLStudio-Mine"}, "reserved"),
        ({"name": "has space"}, "Invalid environment name"),
        (
            {
                "python": {
                    "user_managed_dependencies": True,
                    "conda_dependencies": {"pip_packages": ["numpy"]},
                }
            },
            "silently ignored",
        ),
        ({"docker": {"base_dockerfile": "RUN echo hi\n"}}, "first instruction must be FROM"),
        ({"docker": {"base_dockerfile": "FROM x\nRUNN echo hi\n"}}, "'RUNN' is not a Dockerfile"),
        ({"docker": {"base_dockerfile": "# only a comment\n\n"}}, "no FROM"),
        ({"docker": {"base_dockerfile": "./Dockerfile"}}, "is not a Dockerfile"),
        ({"docker": {"shm_size": "lots"}}, "is not a size"),
        ({"docker": {"arguments": ["--privileged"]}}, "--privileged is not allowed"),
        ({"docker": {"arguments": "--cpus 2"}}, "must be a list of strings"),
        ({"environment_variables": {"EPOCHS": 10}}, "values must be strings"),
        ({"environment_variables": {"1BAD": "x"}}, "is not valid"),
        ({"docker": {"base_image": "bad image"}}, "is not an image reference"),
        ({"docker": {"base_image_registry": {"username": "u", "password": "p"}}}, "no address"),
        ({"python": {"pip_requirements": "-r other.txt"}}, "refers to another file"),
        ({"python": {"user_managed_dependencies": "yes"}}, "must be true or false"),
        ({"pyhton": {}}, "Unknown field(s) 'pyhton'"),
        ({"docker": {"enable": True}}, "Unknown field(s) 'enable'"),
        ({"python": {"conda_dependencies": {"python_version": "2.7"}}}, "not a Python 3"),
    ],
)
def test_it_refuses_bad_specs_with_the_way_out(raw, words):
    assert words in refused(**raw)


def test_it_lets_curated_environments_use_the_reserved_prefix():
    assert specs.normalize({"name": "MLStudio-Minimal"}, curated=True).spec["name"]


def test_it_understands_dockerfile_continuations_heredocs_and_args():
    specs.check_dockerfile(
        "# syntax=docker/dockerfile:1\nARG TAG=1\nFROM img:${TAG}\n"
        "RUN apt-get update \\\n    && apt-get install -y curl\n"
        "RUN <<EOF\necho first\nnot-an-instruction here\nEOF\nENV A=1\n"
    )


def test_it_accepts_docker_sizes_in_the_usual_spellings():
    for size in ("2g", "512m", "1GB", 1073741824):
        assert normalized(docker={"shm_size": size})["docker"]["shm_size"]


def test_it_warns_when_a_docker_section_is_set_but_docker_is_off():
    checked = specs.normalize({"name": "env", "docker": {"base_image": "img:1"}})
    assert "docker.enabled is False" in checked.warnings[0]
