"""Warm starts, as v1: `resume_from` seeds a sweep with earlier sweeps' results, and
`resume_child_runs` continues chosen children with their hyperparameters and their checkpoint,
named by `--resume-from`. Real control and local workers."""

import pytest

from mlstudio.sdk import Experiment, Run, ScriptRunConfig
from mlstudio.sdk.train import hyperdrive
from sweeps.models import Sweep
from tests.sweeps.children import child_script

pytestmark = pytest.mark.slow

# Trains for --epochs more epochs, going on from the checkpoint in --resume-from if given.
TRAIN = child_script("""
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--resume-from", default=None)
    args = parser.parse_args()
    start = 0
    if args.resume_from:
        with open(os.path.join(args.resume_from, "checkpoint.json")) as f:
            start = json.load(f)["epoch"]
    run.log("resumed_at", start)
    for epoch in range(start, start + args.epochs):
        run.log("acc", args.quality * (epoch + 1) / 10)
    os.makedirs("outputs", exist_ok=True)
    with open("outputs/checkpoint.json", "w") as f:
        json.dump({"epoch": start + args.epochs}, f)
""")


@pytest.fixture
def src(tmp_path):
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "train.py").write_text(TRAIN)
    return ScriptRunConfig(source_directory=folder, script="train.py")


def sweep(ws, src, sampling, total, **extra) -> hyperdrive.HyperDriveRun:
    config = hyperdrive.HyperDriveConfig(
        run_config=src, hyperparameter_sampling=sampling, primary_metric_name="acc",
        primary_metric_goal="MAXIMIZE", max_total_runs=total, max_concurrent_runs=2, **extra,
    )  # fmt: skip
    run = Experiment(ws, "tune").submit(config)
    run.wait_for_completion(show_output=False)
    assert run.get_status() == "Completed", run.get_details()["statusDetail"]
    return run


def test_it_warm_starts_from_earlier_sweeps_and_continues_chosen_children(
    ws, src, control_worker, local_worker
):
    space = {"quality": hyperdrive.choice(0.2, 0.9, 0.5)}
    first = sweep(ws, src, hyperdrive.GridParameterSampling(space), 3)
    best_first = first.get_best_run_by_primary_metric()
    assert best_first.id == f"{first.id}_2"  # quality 0.9: acc 0.18 after 2 epochs

    # The best child is continued: same hyperparameters, its checkpoint handed over.
    earlier_child = Run(first.experiment, f"{first.id}_2")
    second = sweep(ws, src, hyperdrive.BayesianParameterSampling(space), 2, resume_from=[first],
                   resume_child_runs=[earlier_child])  # fmt: skip
    resumed = Run(second.experiment, f"{second.id}_1")
    arguments = resumed.get_details()["runDefinition"]["arguments"]
    assert arguments == ["--quality", "0.9", "--resume-from", "resume_from"]
    assert second.get_hyperparameters()[resumed.id] == '{"--quality": 0.9}'
    metrics = resumed.get_metrics()
    assert metrics["resumed_at"] == 2  # it went on from the earlier child's epoch
    assert metrics["acc"] == pytest.approx([0.27, 0.36])
    system_log = resumed.get_details_with_logs()["logFiles"]["system_logs/executor.txt"]
    assert f"Resuming {earlier_child.id}: its 1 output file(s) are in ./resume_from" in system_log

    # The earlier sweep's results seeded the sampler, and count for the best run unless asked.
    assert len(Sweep.objects.get(run_id=second.id).warm) == 3
    assert second.get_best_run_by_primary_metric().id == resumed.id
    # The earlier child's own files are as they were.
    assert "outputs/checkpoint.json" in earlier_child.get_file_names()
