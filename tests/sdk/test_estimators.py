"""v1's estimators (azureml.train.*), ported by their import lines: SKLearn, PyTorch and
TensorFlow with their software and distributed_training parameters become a ScriptRunConfig
and an Environment when submitted to a live studio (no worker: the runs stay queued)."""

import subprocess
import sys
import textwrap

import pytest

from mlstudio.sdk import Environment, Experiment
from mlstudio.sdk.exceptions import UserErrorException
from mlstudio.sdk.train.dnn import Gloo, Mpi, Nccl, ParameterServer, PyTorch, TensorFlow
from mlstudio.sdk.train.estimator import Estimator
from mlstudio.sdk.train.sklearn import SKLearn
from tests.processes import REPO


@pytest.fixture
def project(tmp_path):
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "train.py").write_text("print('training')\n")
    return folder


def submitted(ws, estimator) -> dict:
    run = Experiment(ws, "estimators").submit(estimator)
    return run.get_details()["runDefinition"]


def test_sklearn_without_extra_packages_runs_in_the_curated_environment(ws, project):
    estimator = SKLearn(source_directory=str(project), entry_script="train.py",
                        script_params={"--kernel": "linear", "--penalty": 1.0, "--verbose": ""},
                        compute_target="local")  # fmt: skip
    definition = submitted(ws, estimator)
    assert definition["script"] == "train.py"
    assert definition["arguments"] == ["--kernel", "linear", "--penalty", "1.0", "--verbose"]
    assert definition["environment"]["name"] == "MLStudio-SKLearn"


def test_package_parameters_make_an_environment_with_the_framework(ws, project, tmp_path):
    (tmp_path / "requirements.txt").write_text("joblib==1.5.0\n")
    estimator = SKLearn(source_directory=project, entry_script="train.py",
                        pip_packages=["pandas"], conda_packages=["py-xgboost"],
                        pip_requirements_file=str(tmp_path / "requirements.txt"),
                        environment_variables={"EPOCHS": "3"}, shm_size="1g")  # fmt: skip
    definition = submitted(ws, estimator)
    env = Environment.get(ws, definition["environment"]["name"])
    assert env.name == "sklearn-estimator"
    dependencies = env.python.conda_dependencies
    assert dependencies.pip_packages == ["joblib==1.5.0", "scikit-learn", "pandas"]
    assert dependencies.conda_packages == ["py-xgboost"]
    assert env.docker.shm_size == "1g"
    assert definition["environmentVariables"] == {"EPOCHS": "3"}


def test_framework_version_pins_the_framework_and_a_custom_image_runs_it(ws, project):
    estimator = PyTorch(source_directory=project, entry_script="train.py",
                        framework_version="2.13", custom_docker_image="team/torch:2.13",
                        use_gpu=True)  # fmt: skip
    env = Environment.get(ws, submitted(ws, estimator)["environment"]["name"])
    assert env.python.conda_dependencies.pip_packages == ["torch==2.13"]
    assert (env.docker.enabled, env.docker.base_image) == (True, "team/torch:2.13")


def test_a_user_managed_estimator_runs_in_the_workers_python(ws, project):
    for kind in (Estimator, SKLearn, PyTorch):
        estimator = kind(source_directory=project, entry_script="train.py", user_managed=True)
        env = Environment.get(ws, submitted(ws, estimator)["environment"]["name"])
        assert env.python.user_managed_dependencies is True
        assert env.python.conda_dependencies.pip_packages == []  # the framework is there


def test_pytorch_without_packages_uses_the_curated_pytorch_environment(ws, project):
    estimator = PyTorch(source_directory=project, entry_script="train.py")
    assert submitted(ws, estimator)["environment"]["name"] == "MLStudio-PyTorch-CPU"


def test_distributed_training_becomes_v1s_job_configurations(project):
    def job(estimator) -> dict:
        return estimator.to_dict()["distributed"]

    mpi = PyTorch(source_directory=project, entry_script="train.py", node_count=2,
                  distributed_training=Mpi(process_count_per_node=2))  # fmt: skip
    assert job(mpi) == {"type": "mpi", "process_count": 4, "node_count": 2}
    nccl = PyTorch(source_directory=project, entry_script="train.py", node_count=2,
                   process_count_per_node=2, distributed_training=Nccl())  # fmt: skip
    assert job(nccl) == {"type": "pytorch", "communication_backend": "Nccl",
                         "process_count": 4, "node_count": 2}  # fmt: skip
    gloo = PyTorch(source_directory=project, entry_script="train.py", distributed_backend="gloo")
    assert job(gloo)["communication_backend"] == "Gloo"
    ps = TensorFlow(source_directory=project, entry_script="train.py",
                    distributed_training=ParameterServer(worker_count=2))  # fmt: skip
    assert job(ps) == {"type": "tensorflow", "worker_count": 2, "parameter_server_count": 1,
                       "process_count": 3, "node_count": 1}  # fmt: skip
    assert job(TensorFlow(source_directory=project, entry_script="train.py")) is None
    assert isinstance(Gloo(), Gloo)


def test_it_refuses_mixed_or_missing_settings_clearly(project):
    with pytest.raises(UserErrorException, match="Give environment_definition or pip_packages"):
        Estimator(source_directory=project, entry_script="train.py",
                  environment_definition=Environment("mine"), pip_packages=["numpy"])  # fmt: skip
    with pytest.raises(UserErrorException, match="needs entry_script"):
        SKLearn(source_directory=project)
    with pytest.raises(UserErrorException, match="distributed_backend 'horovod' is not one of"):
        PyTorch(source_directory=project, entry_script="train.py", distributed_backend="horovod")


def test_the_deprecation_notice_is_printed_once():
    code = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(REPO)!r})
        from mlstudio.sdk.train.dnn import PyTorch
        from mlstudio.sdk.train.sklearn import SKLearn
        for _ in range(3):
            SKLearn(".", entry_script="train.py")
        PyTorch(".", entry_script="train.py")
    """)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=60)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("deprecated") == 1
    assert "'SKLearn' estimators are deprecated" in result.stderr
