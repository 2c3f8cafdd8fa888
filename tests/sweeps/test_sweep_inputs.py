"""Bad sweeps are refused at submit, by the SDK before anything is uploaded and by the studio's
route again, naming the problem and the fix; nothing is queued."""

import pytest

from mlstudio.sdk import ScriptRunConfig
from mlstudio.sdk.exceptions import UserErrorException
from mlstudio.sdk.train.hyperdrive import (
    BanditPolicy,
    BayesianParameterSampling,
    GridParameterSampling,
    HyperDriveConfig,
    MedianStoppingPolicy,
    RandomParameterSampling,
    choice,
    loguniform,
    uniform,
)
from runs import services as run_services
from runs.models import Run
from tests.sweeps.helpers import finished_sweep

GOOD = {
    "sampling": {"method": "random", "space": {"--lr": ["uniform", [0.1, 0.9]]}},
    "primary_metric_name": "acc",
    "primary_metric_goal": "MAXIMIZE",
    "max_total_runs": 4,
    "run_config": {"script": "train.py"},
}


def config(**changes):
    return {**GOOD, **changes}


def sdk_config(**changes):
    kwargs = {
        "run_config": ScriptRunConfig(source_directory=".", script="train.py"),
        "hyperparameter_sampling": RandomParameterSampling({"lr": uniform(0.1, 0.9)}),
        "primary_metric_name": "acc",
        "primary_metric_goal": "MAXIMIZE",
        "max_total_runs": 4,
        **changes,
    }
    return HyperDriveConfig(**kwargs).to_dict()


# Each builds its keywords inside the test: v1's samplings refuse a bad space when made.
@pytest.mark.parametrize(
    ("changes", "words"),
    [
        (lambda: {"hyperparameter_sampling": GridParameterSampling({"lr": uniform(0, 1)})},
         "GridParameterSampling cannot sample 'lr' (uniform): it takes only choice. Use "
         "RandomParameterSampling for uniform"),
        (lambda: {"hyperparameter_sampling": BayesianParameterSampling({"lr": loguniform(-6, -1)})},
         "BayesianParameterSampling cannot sample 'lr' (loguniform)"),
        (lambda: {"hyperparameter_sampling": BayesianParameterSampling({"lr": choice(1, 2)}),
                  "policy": BanditPolicy(slack_factor=0.1)},
         "BayesianParameterSampling does not support BanditPolicy"),
        (lambda: {"hyperparameter_sampling": BayesianParameterSampling({"lr": choice(1, 2)}),
                  "policy": MedianStoppingPolicy()},
         "use policy=None or NoTerminationPolicy()"),
        (lambda: {"max_concurrent_runs": 5},
         "max_concurrent_runs (5) is above max_total_runs (4); lower max_concurrent_runs"),
        (lambda: {"hyperparameter_sampling": RandomParameterSampling({})},
         "RandomParameterSampling needs a non-empty search space"),
        (lambda: {"hyperparameter_sampling": RandomParameterSampling({"lr": ("gamma", [1, 2])})},
         "Unknown parameter expression 'gamma' for 'lr'; use one of choice, randint"),
        (lambda: {"estimator": object()},
         "Give exactly one of run_config (a ScriptRunConfig) or estimator, not both"),
        (lambda: {"run_config": None}, "not neither"),
        (lambda: {"resume_from": [f"sweep_{n}" for n in range(6)]},
         "resume_from takes at most 5 earlier sweeps, got 6"),
    ],
)  # fmt: skip
def test_the_sdk_refuses_a_bad_sweep_before_anything_is_sent(changes, words):
    with pytest.raises(UserErrorException) as refused:
        sdk_config(**changes())
    assert words in str(refused.value)


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        (config(sampling={"method": "random", "space": {"--lr": ["gamma", [1, 2]]}}),
         "Unknown parameter expression 'gamma'"),
        (config(sampling={"method": "grid", "space": {"--lr": ["uniform", [0, 1]]}}),
         "Use RandomParameterSampling for uniform"),
        (config(sampling={"method": "bayesian", "space": {"--lr": ["choice", [[1, 2]]]}},
                policy={"name": "Bandit", "properties": {"slack_factor": 0.1}}),
         "BayesianParameterSampling does not support BanditPolicy"),
        (config(max_concurrent_runs=9), "max_concurrent_runs (9) is above max_total_runs (4)"),
        (config(run_config=None), "Give exactly one of run_config"),
        (config(sampling={"method": "random", "space": {}}), "needs a non-empty search space"),
        (config(primary_metric_goal="BIGGER"), "primary_metric_goal must be"),
        ("not a dict", "must be a JSON object (HyperDriveConfig)"),
    ],
)  # fmt: skip
def test_the_studio_refuses_a_bad_sweep_and_queues_nothing(owner, workspace, api_as, raw, words):
    experiment = run_services.experiment_get_or_create(workspace=workspace, name="tune",
                                                       user=owner)  # fmt: skip
    response = api_as(owner).post(
        f"/api/workspaces/lab/experiments/{experiment.pk}/sweeps",
        {"config": raw}, content_type="application/json",
    )  # fmt: skip
    if raw == "not a dict":  # the schema itself refuses it
        assert response.status_code == 422
        assert not Run.objects.exists()
        return
    assert response.status_code == 400, response.content
    assert words in response.json()["detail"]
    assert not Run.objects.exists()


def test_resuming_from_a_sweep_of_another_metric_or_goal_is_refused(owner, workspace, api_as):
    earlier = finished_sweep(
        run_services.experiment_get_or_create(workspace=workspace, name="old", user=owner),
        owner, trials=3,
    )  # fmt: skip
    experiment = run_services.experiment_get_or_create(workspace=workspace, name="tune",
                                                       user=owner)  # fmt: skip
    before = Run.objects.count()
    url = f"/api/workspaces/lab/experiments/{experiment.pk}/sweeps"
    for raw, words in [
        (config(primary_metric_name="loss", resume_from=[earlier.run_id]),
         f"resume_from: sweep {earlier.run_id} optimises 'acc' (MAXIMIZE), this one 'loss'"),
        (config(primary_metric_goal="MINIMIZE", resume_from=[earlier.run_id]),
         "(MAXIMIZE), this one 'acc' (MINIMIZE). Warm start only from sweeps of the same"),
        (config(resume_from=["nope"]), "resume_from: 'nope' is not a sweep in this workspace"),
        (config(resume_child_runs=[f"{earlier.run_id}_1"]),
         f"resume_child_runs: {earlier.run_id}_1 was given ['--batch', '--lr'], this sweep "
         "samples ['--lr']"),
        (config(resume_child_runs=["nope_1"]), "'nope_1' is not a child of a sweep here"),
    ]:  # fmt: skip
        response = api_as(owner).post(url, {"config": raw}, content_type="application/json")
        assert response.status_code == 400, response.content
        assert words in response.json()["detail"]
    assert Run.objects.count() == before


def test_a_child_still_running_cannot_be_resumed(owner, workspace, api_as):
    earlier = finished_sweep(
        run_services.experiment_get_or_create(workspace=workspace, name="old", user=owner),
        owner, trials=2,
    )  # fmt: skip
    Run.objects.filter(pk=f"{earlier.run_id}_1").update(status="Running")
    space = {"--lr": ["uniform", [0.1, 0.9]], "--batch": ["choice", [[16, 32]]]}
    raw = config(sampling={"method": "random", "space": space},
                 resume_child_runs=[f"{earlier.run_id}_1"])  # fmt: skip
    response = api_as(owner).post(
        f"/api/workspaces/lab/experiments/{earlier.run.experiment_id}/sweeps",
        {"config": raw}, content_type="application/json",
    )  # fmt: skip
    assert response.status_code == 400
    assert (
        f"{earlier.run_id}_1 is still Running; resume a child that has ended"
        in (response.json()["detail"])
    )
