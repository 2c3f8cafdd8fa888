"""Git facts (branch, commit, origin, dirty) read from the .git folder of an uploaded
zip, never by running its config."""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.runs.snapshots.support import (
    API,
    make_zip,
    post_zip,
    zip_folder,
)


def git(folder: Path, *args: str) -> str:
    env = {**os.environ, "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}
    command = ["git", "-c", "user.name=T", "-c", "user.email=t@example.com", *args]
    return subprocess.run(
        command, cwd=folder, env=env, check=True, capture_output=True, text=True
    ).stdout.strip()


@pytest.fixture
def repo(tmp_path) -> Path:
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    folder = tmp_path / "repo"
    folder.mkdir()
    git(folder, "init", "-q", "-b", "main")
    git(folder, "remote", "add", "origin", "https://bob:ghp_token@github.com/org/repo.git")
    (folder / "train.py").write_text("print('train')\n")
    (folder / "data").mkdir()
    (folder / "data" / "big.csv").write_text("1,2,3\n")
    (folder / ".amlignore").write_text("data/\n")
    git(folder, "add", ".")
    git(folder, "commit", "-q", "-m", "first")
    return folder


def test_it_reads_branch_commit_and_origin_from_git_in_a_zip(alice, repo):
    response = post_zip(alice, zip_folder(repo))
    assert response.status_code == 201, response.json()
    detail = alice.get(f"{API}/snapshots/{response.json()['id']}").json()
    assert detail["git"] == {
        "repository_uri": "https://github.com/org/repo.git",
        "branch": "main",
        "commit": git(repo, "rev-parse", "HEAD"),
        "dirty": False,
    }
    assert [f["path"] for f in detail["files"]] == [".amlignore", "train.py"]
    assert response.json()["ignored"] == 1


def test_it_sees_a_changed_or_new_file_as_dirty(alice, repo):
    (repo / "train.py").write_text("print('changed')\n")
    changed = post_zip(alice, zip_folder(repo)).json()
    assert alice.get(f"{API}/snapshots/{changed['id']}").json()["git"]["dirty"] is True

    git(repo, "checkout", "--", "train.py")
    (repo / "new.py").write_text("new\n")
    added = post_zip(alice, zip_folder(repo)).json()
    assert alice.get(f"{API}/snapshots/{added['id']}").json()["git"]["dirty"] is True


def test_it_never_runs_commands_from_the_zips_git_config(alice, repo, tmp_path):
    marker = tmp_path / "pwned"
    with (repo / ".git" / "config").open("a") as config:
        config.write(f"[core]\n\tfsmonitor = touch {marker}\n")
        config.write(f'[filter "evil"]\n\tclean = touch {marker}\n')
    (repo / ".gitattributes").write_text("*.py filter=evil\n")
    (repo / "train.py").write_text("print('changed')\n")
    response = post_zip(alice, zip_folder(repo))
    assert response.status_code == 201
    assert not marker.exists()


def test_it_reads_packed_refs_and_detached_heads_without_a_git_binary(alice, monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    commit = "1234567890abcdef1234567890abcdef12345678"
    refs = f"# pack-refs with: peeled\n{commit} refs/heads/feature/x\n"
    packed = make_zip(
        {
            "train.py": b"t",
            ".git/HEAD": b"ref: refs/heads/feature/x\n",
            ".git/packed-refs": refs.encode(),
            ".git/config": b'[remote "origin"]\n\turl = git@github.com:org/repo.git\n',
        }
    )
    body = post_zip(alice, packed).json()
    assert body["file_count"] == 1
    assert alice.get(f"{API}/snapshots/{body['id']}").json()["git"] == {
        "repository_uri": "git@github.com:org/repo.git",
        "branch": "feature/x",
        "commit": commit,
        "dirty": None,
    }

    detached = make_zip({"train.py": b"t", ".git/HEAD": f"{commit}\n".encode()})
    body = post_zip(alice, detached).json()
    git_facts = alice.get(f"{API}/snapshots/{body['id']}").json()["git"]
    assert (git_facts["branch"], git_facts["commit"]) == (None, commit)


# --- downloads -----------------------------------------------------------------------------
