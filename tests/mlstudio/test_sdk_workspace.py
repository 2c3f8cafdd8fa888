import json
import socket

import pytest

from mlstudio.sdk import (
    AuthenticationException,
    ServiceUnreachableException,
    UserErrorException,
    Workspace,
    WorkspaceException,
)
from workspaces import services


@pytest.fixture
def sdk_env(monkeypatch):
    for name in ("MLSTUDIO_URL", "MLSTUDIO_TOKEN", "MLSTUDIO_WORKSPACE"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


@pytest.fixture
def token(live_server, owner, workspace):
    return services.api_token_create(user=owner, name="sdk")[1]


def write_config(folder, **values):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps(values))


def test_it_finds_config_json_in_a_parent_folder(sdk_env, live_server, token, tmp_path):
    write_config(tmp_path, url=live_server.url, workspace_name="lab", token=token)
    deep = tmp_path / "a" / "b"
    deep.mkdir(parents=True)
    sdk_env.chdir(deep)
    ws = Workspace.from_config()
    assert ws.name == "lab"
    assert ws.get_details()["role"] == "owner"
    assert token not in repr(ws)


def test_it_finds_the_dot_mlstudio_config(sdk_env, live_server, token, tmp_path):
    write_config(tmp_path / ".mlstudio", url=live_server.url, workspace_name="lab", token=token)
    assert Workspace.from_config(path=tmp_path).name == "lab"


def test_it_lets_environment_variables_override_the_file(sdk_env, live_server, token, tmp_path):
    write_config(tmp_path, url="http://127.0.0.1:1", workspace_name="lab", token="mls_old")
    sdk_env.setenv("MLSTUDIO_URL", live_server.url)
    sdk_env.setenv("MLSTUDIO_TOKEN", token)
    assert Workspace.from_config(path=tmp_path).url == live_server.url


def test_it_lets_explicit_arguments_win_over_the_environment(sdk_env, live_server, token):
    sdk_env.setenv("MLSTUDIO_URL", "http://127.0.0.1:1")
    sdk_env.setenv("MLSTUDIO_WORKSPACE", "elsewhere")
    sdk_env.setenv("MLSTUDIO_TOKEN", token)
    ws = Workspace(name="lab", url=live_server.url)
    assert ws.name == "lab" and ws.url == live_server.url


def test_it_needs_no_file_when_all_variables_are_set(sdk_env, live_server, token, tmp_path):
    sdk_env.chdir(tmp_path)
    sdk_env.setenv("MLSTUDIO_URL", live_server.url)
    sdk_env.setenv("MLSTUDIO_TOKEN", token)
    sdk_env.setenv("MLSTUDIO_WORKSPACE", "lab")
    assert Workspace.from_config().name == "lab"


def test_it_round_trips_write_config(sdk_env, live_server, token, tmp_path):
    ws = Workspace(name="lab", url=live_server.url, token=token)
    path = ws.write_config(tmp_path)
    assert Workspace.from_config(path=path).name == "lab"


def test_it_says_where_it_looked_when_no_config_exists(sdk_env, tmp_path):
    sdk_env.chdir(tmp_path)
    with pytest.raises(UserErrorException, match=r"No config.json found in .*Download it"):
        Workspace.from_config()


def test_it_says_when_the_studio_is_unreachable(sdk_env):
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    with pytest.raises(ServiceUnreachableException, match="Cannot reach the studio"):
        Workspace(name="lab", url=f"http://127.0.0.1:{port}", token="mls_x")


def test_it_says_when_the_token_is_refused(sdk_env, live_server, workspace):
    with pytest.raises(AuthenticationException, match="refused"):
        Workspace(name="lab", url=live_server.url, token="mls_wrong")


def test_it_says_when_the_workspace_does_not_exist(sdk_env, live_server, token):
    with pytest.raises(WorkspaceException, match="'ghost' was not found"):
        Workspace(name="ghost", url=live_server.url, token=token)
