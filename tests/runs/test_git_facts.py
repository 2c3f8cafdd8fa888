"""The run page's git line: one set of facts from v1's and MLflow's keys, linked when it can be."""

from runs.presenters import git_facts, properties_without_git

RECORDED = {
    "azureml.git.repository_uri": "git@github.com:team/vision.git",
    "mlflow.source.git.repoURL": "git@github.com:team/vision.git",
    "azureml.git.branch": "main",
    "mlflow.source.git.branch": "main",
    "azureml.git.commit": "0123456789abcdef",
    "mlflow.source.git.commit": "0123456789abcdef",
    "azureml.git.dirty": "True",
    "mlflow.source.git.dirty": "True",
    "lr": "0.1",
}


def test_it_reads_the_git_facts_once_and_links_the_commit_on_a_known_host():
    facts = git_facts(RECORDED)
    assert facts == {
        "repository": "git@github.com:team/vision.git",
        "branch": "main",
        "commit": "0123456789abcdef",
        "dirty": True,
        "commit_url": "https://github.com/team/vision/commit/0123456789abcdef",
    }
    assert properties_without_git(RECORDED) == {"lr": "0.1"}


def test_it_links_gitlab_over_https_and_no_unknown_host():
    gitlab = git_facts({"mlflow.source.git.repoURL": "https://gitlab.com/a/b.git",
                        "mlflow.source.git.commit": "abc"})  # fmt: skip
    assert gitlab["commit_url"] == "https://gitlab.com/a/b/-/commit/abc" and not gitlab["dirty"]
    own = git_facts({"azureml.git.repository_uri": "ssh://git@git.corp:2222/x.git",
                     "azureml.git.commit": "abc"})  # fmt: skip
    assert own["commit_url"] == ""
    assert git_facts({"lr": "0.1"}) is None
