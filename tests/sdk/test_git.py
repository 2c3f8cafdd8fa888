"""Git facts about a run's source folder, and the run properties they become."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from mlstudio.sdk import _git
from mlstudio.sdk._git import git_info, git_properties

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


def git(repo, *args: str) -> str:
    result = subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, check=True, timeout=30
    )
    return result.stdout.strip()


@pytest.fixture
def repo(tmp_path, monkeypatch):
    """A repository with one commit on `main`, with only its own config."""
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", "/dev/null")
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    folder = tmp_path / "project"
    folder.mkdir()
    git(folder, "init", "-q", "-b", "main")
    git(folder, "config", "user.name", "Test User")
    git(folder, "config", "user.email", "test@example.com")
    (folder / "train.py").write_text("print(1)\n")
    git(folder, "add", "train.py")
    git(folder, "commit", "-q", "-m", "first")
    return folder


def test_it_describes_a_clean_checkout(repo):
    git(repo, "checkout", "-q", "-b", "experiment")
    git(repo, "remote", "add", "origin", "https://example.com/team/project.git")
    assert git_info(repo) == {
        "repository_uri": "https://example.com/team/project.git",
        "branch": "experiment",
        "commit": git(repo, "rev-parse", "HEAD"),
        "dirty": False,
    }


def test_it_sees_a_change_and_an_untracked_file_as_dirty(repo):
    (repo / "train.py").write_text("print(2)\n")
    assert git_info(repo)["dirty"] is True
    git(repo, "checkout", "-q", "--", "train.py")
    assert git_info(repo)["dirty"] is False
    (repo / "notes.txt").write_text("new")
    assert git_info(repo)["dirty"] is True


def test_it_works_from_a_subfolder(repo):
    (repo / "src").mkdir()
    info = git_info(repo / "src")
    assert info["commit"] == git(repo, "rev-parse", "HEAD")
    assert info["repository_uri"] is None


def test_it_has_no_branch_on_a_detached_head(repo):
    git(repo, "checkout", "-q", "--detach")
    info = git_info(repo)
    assert info["branch"] is None
    assert info["commit"] == git(repo, "rev-parse", "HEAD")


def test_it_has_no_commit_before_the_first_one(tmp_path):
    git(tmp_path, "init", "-q", "-b", "main")
    assert git_info(tmp_path) == {
        "repository_uri": None,
        "branch": "main",
        "commit": None,
        "dirty": False,
    }


def test_it_leaves_credentials_out_of_the_origin_url(repo):
    git(repo, "remote", "add", "origin", "https://bot:s3cret@example.com/team/project.git")
    assert git_info(repo)["repository_uri"] == "https://example.com/team/project.git"


def test_it_is_none_outside_a_work_tree(tmp_path):
    assert git_info(tmp_path) is None


def test_it_is_none_without_git(repo, monkeypatch):
    monkeypatch.setenv("PATH", str(repo))
    assert git_info(repo) is None


def test_it_is_none_when_git_hangs(repo, monkeypatch):
    def hang(*args, **kwargs):
        raise subprocess.TimeoutExpired(args[0], _git.GIT_TIMEOUT)

    monkeypatch.setattr(_git.subprocess, "run", hang)
    assert git_info(repo) is None


def test_it_ignores_a_git_dir_from_the_environment(repo, tmp_path, monkeypatch):
    # As when the SDK runs inside another repository's git hook.
    other = tmp_path / "other"
    other.mkdir()
    git(other, "init", "-q")
    monkeypatch.setenv("GIT_DIR", str(other / ".git"))
    assert git_info(repo)["branch"] == "main"


def test_it_names_properties_like_azureml_and_mlflow():
    info = {
        "repository_uri": "git@example.com:team/project.git",
        "branch": "main",
        "commit": "0123abc",
        "dirty": True,
    }
    assert git_properties(info) == {
        "azureml.git.repository_uri": "git@example.com:team/project.git",
        "mlflow.source.git.repoURL": "git@example.com:team/project.git",
        "azureml.git.branch": "main",
        "mlflow.source.git.branch": "main",
        "azureml.git.commit": "0123abc",
        "mlflow.source.git.commit": "0123abc",
        "azureml.git.dirty": "True",
        "mlflow.source.git.dirty": "True",
    }


def test_it_leaves_out_properties_it_does_not_know(repo):
    git(repo, "checkout", "-q", "--detach")
    properties = git_properties(git_info(repo))
    assert properties["azureml.git.dirty"] == "False"
    assert properties["mlflow.source.git.dirty"] == "False"
    assert not any("branch" in name or "repo" in name.lower() for name in properties)
