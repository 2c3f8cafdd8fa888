"""RunDefinition.of reads each shape of stored definition the studio writes: a submitted
run's (runs.submission), an interactive or child run's, a sweep parent's and a sweep child's."""

from runs.definition import EnvironmentRef, RunDefinition, SweepLink
from runs.submission import RunConfig


def test_it_reads_a_submitted_runs_definition():
    config = RunConfig.parse({"script": "train.py", "arguments": ["--lr", "0.1"],
                              "environment_variables": {"SEED": "1"}})  # fmt: skip
    config.environment = {"id": 7, "name": "sklearn", "version": "2", "kind": "virtualenv"}
    config.datasets = [{"name": "iris", "version": 1}]
    definition = RunDefinition.of(config.as_definition())
    assert definition.script == "train.py" and definition.arguments == ("--lr", "0.1")
    assert definition.queue == config.queue and not definition.interactive
    assert definition.environment == EnvironmentRef(7, "sklearn", "2", "virtualenv")
    assert definition.environment_id == 7
    assert definition.environment_variables == (("SEED", "1"),)
    assert definition.datasets == ({"name": "iris", "version": 1},)
    assert definition.sweep is None and not definition.sweep_parent


def test_it_reads_interactive_and_sweep_definitions():
    interactive = RunDefinition.of({"interactive": True, "compute_target": "local"})
    assert interactive.interactive and interactive.environment is None
    parent = RunDefinition.of({"sweep_parent": True, "compute_target": "cpu", "queue": "q"})
    assert parent.sweep_parent and not parent.interactive and parent.queue == "q"
    child = RunDefinition.of({"script": "t.py", "sweep": {"parent": "p", "metric": "acc",
                                                          "policy": True}})  # fmt: skip
    assert child.sweep == SweepLink(parent="p", metric="acc", policy=True)
    assert RunDefinition.of(None) == RunDefinition()
