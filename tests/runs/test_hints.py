"""Troubleshooting hints: what a user reads under a failed run's error, and where it links."""

from urllib.parse import parse_qs, urlsplit

import pytest

from runs import services
from runs.hints import Environment, Failure, Links, failed_build_line, hint_for, package_for
from runs.models import Run

LINKS = Links(run_page="/w/lab/runs/exp_1_ab/", environments_page="/w/lab/environments/")
TINY = Environment(name="tiny", version="2", user_managed=False)


def traceback(*frames: tuple[str, int], last: str) -> str:
    lines = ["Traceback (most recent call last):"]
    for path, line in frames:
        lines += [f'  File "{path}", line {line}, in <module>', "    something()"]
    return "\n".join([*lines, last])


def failed(last: str, *frames, exit_code=1, **facts) -> Failure:
    return Failure(
        status="Failed",
        exit_code=exit_code,
        traceback=traceback(*(frames or [("train.py", 1)]), last=last),
        snapshot_paths=facts.pop("snapshot_paths", frozenset({"train.py", "lib/model.py"})),
        **facts,
    )


def query(url: str) -> dict:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


# --- a missing module -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("module", "package"),
    [("sklearn", "scikit-learn"), ("cv2", "opencv-python"), ("PIL", "pillow"),
     ("yaml", "pyyaml"), ("bs4", "beautifulsoup4"), ("skimage", "scikit-image"),
     ("torch", "torch")],
)  # fmt: skip
def test_it_names_the_pip_package_of_an_import(module, package):
    assert package_for(module) == package


def test_it_says_which_package_to_add_to_the_environment_and_links_to_its_next_version():
    hint = hint_for(
        failed("ModuleNotFoundError: No module named 'sklearn'", environment=TINY), LINKS
    )
    assert hint["code"] == "module_not_found"
    assert hint["message"] == (
        "No module named 'sklearn': add scikit-learn to the pip packages of environment tiny, "
        "then submit with the new version."
    )
    assert hint["url"].startswith("/w/lab/environments/?")
    assert hint["url"].endswith("#register-form")
    assert query(hint["url"]) == {"from": "tiny:2", "add_pip": "scikit-learn"}
    assert hint["label"] == "Register a new version of tiny with scikit-learn"


def test_it_uses_the_top_level_module_of_a_dotted_import():
    hint = hint_for(
        failed("ModuleNotFoundError: No module named 'skimage.io'", environment=TINY), LINKS
    )
    assert query(hint["url"])["add_pip"] == "scikit-image"


def test_it_reads_the_old_import_error_wording_too():
    hint = hint_for(failed("ImportError: No module named yaml", environment=TINY), LINKS)
    assert "add pyyaml to the pip packages" in hint["message"]


def test_it_says_to_install_the_package_where_dependencies_are_user_managed():
    minimal = Environment(name="MLStudio-Minimal", version="1", curated=True, user_managed=True)
    hint = hint_for(
        failed("ModuleNotFoundError: No module named 'cv2'", environment=minimal), LINKS
    )
    assert hint["message"] == (
        "No module named 'cv2': install opencv-python into the interpreter of MLStudio-Minimal "
        "(pip install opencv-python), or submit with an environment that lists opencv-python "
        "in its pip packages."
    )
    assert query(hint["url"]) == {"add_pip": "opencv-python"}
    assert hint["label"] == "Register an environment with opencv-python"


def test_it_says_to_install_into_the_workers_python_for_a_run_without_environment():
    hint = hint_for(failed("ModuleNotFoundError: No module named 'PIL'"), LINKS)
    assert "install pillow into the worker's Python (pip install pillow)" in hint["message"]


def test_it_offers_a_copy_of_a_curated_environment():
    sklearn = Environment(name="MLStudio-SKLearn", version="1", curated=True, user_managed=False)
    hint = hint_for(
        failed("ModuleNotFoundError: No module named 'bs4'", environment=sklearn), LINKS
    )
    assert (
        "add beautifulsoup4 to the pip packages of a copy of curated environment"
        in (hint["message"])
    )
    assert query(hint["url"]) == {"from": "MLStudio-SKLearn:1", "add_pip": "beautifulsoup4"}


def test_it_asks_to_untick_user_managed_for_a_docker_image_that_lacks_the_package():
    image = Environment(name="fastai", version="3", user_managed=True, docker=True)
    hint = hint_for(failed("ModuleNotFoundError: No module named 'yaml'", environment=image), LINKS)
    assert (
        "add pyyaml to the pip packages of environment fastai and untick user-managed"
        in (hint["message"])
    )
    assert query(hint["url"]) == {"from": "fastai:3", "add_pip": "pyyaml"}


def test_it_points_at_a_module_of_the_snapshot_rather_than_pip():
    hint = hint_for(failed("ModuleNotFoundError: No module named 'model'", environment=TINY), LINKS)
    assert hint["code"] == "own_module_not_found"
    assert "the snapshot has lib/model.py" in hint["message"]
    assert "pip" not in hint["message"]


# --- NameError, AttributeError --------------------------------------------------------------


def test_it_shows_the_file_and_line_of_a_name_error_with_a_link_to_it():
    last = "NameError: name 'lr' is not defined"
    hint = hint_for(failed(last, ("train.py", 12), ("lib/model.py", 3)), LINKS)
    assert hint["message"] == (
        "NameError in lib/model.py, line 3: name 'lr' is not defined; define it before that "
        "line or fix its spelling."
    )
    assert hint["url"] == "/w/lab/runs/exp_1_ab/#snapshot:lib/model.py:3"
    assert hint["label"] == "Open lib/model.py at line 3"


def test_it_points_an_attribute_error_at_the_users_own_line_not_the_librarys():
    last = "AttributeError: 'NoneType' object has no attribute 'fit'"
    frames = [("train.py", 7), ("/usr/lib/python3/site-packages/sklearn/base.py", 90)]
    hint = hint_for(failed(last, *frames), LINKS)
    assert hint["code"] == "attribute_error"
    assert hint["message"].startswith("AttributeError in train.py, line 7: 'NoneType' object")
    assert hint["url"].endswith("#snapshot:train.py:7")


def test_it_quotes_a_path_in_the_link():
    last = "NameError: name 'x' is not defined"
    paths = frozenset({"my dir/a&b.py"})
    hint = hint_for(failed(last, ("my dir/a&b.py", 2), snapshot_paths=paths), LINKS)
    assert hint["url"] == "/w/lab/runs/exp_1_ab/#snapshot:my%20dir/a%26b.py:2"


def test_it_gives_no_line_hint_when_no_frame_is_in_the_snapshot():
    last = "NameError: name 'x' is not defined"
    assert hint_for(failed(last, ("<string>", 1)), LINKS) is None


def test_it_gives_no_hint_for_an_error_it_does_not_know():
    assert hint_for(failed("ZeroDivisionError: division by zero"), LINKS) is None


# --- out of memory --------------------------------------------------------------------------


def test_it_says_a_sigkilled_script_was_killed_from_outside_without_an_oom_record():
    hint = hint_for(Failure(status="Failed", exit_code=-9, peak_memory=3 * 1024**3 // 2), LINKS)
    assert hint["code"] == "killed"
    assert hint["message"] == (
        "Killed by SIGKILL (signal 9, shell exit code 137) from outside the run; the kernel "
        "recorded no out-of-memory kill, so a person or a program stopped it (kill -9, a process "
        "manager); its processes were seen using up to 1.5 GiB. Submit it again if that was a "
        "mistake."
    )
    assert "memory" not in hint["message"].split(";")[0]
    assert "url" not in hint


def test_it_names_a_container_killed_from_outside_and_one_docker_killed_for_memory():
    killed = hint_for(Failure(status="Failed", exit_code=137, in_container=True), LINKS)
    assert killed["code"] == "killed"
    assert killed["message"].startswith(
        "The container was killed from outside the run (SIGKILL, exit code 137); Docker "
        "recorded no out-of-memory kill"
    )
    oom = Failure(status="Failed", exit_code=137, in_container=True, oom_killed=True)
    assert hint_for(oom, LINKS)["message"].startswith(
        "Out of memory: Docker stopped the container (SIGKILL, exit code 137)."
    )


def test_it_says_out_of_memory_for_sure_when_the_kernel_recorded_it():
    hint = hint_for(Failure(status="Failed", exit_code=137, oom_killed=True), LINKS)
    assert hint["message"].startswith(
        "Out of memory: the kernel's OOM killer stopped the script (SIGKILL, exit code 137)."
    )


@pytest.mark.parametrize("exit_code", [-9, 137])
def test_it_never_blames_memory_for_a_run_the_user_canceled(exit_code):
    assert hint_for(Failure(status="Canceled", exit_code=exit_code), LINKS) is None


# --- timeout --------------------------------------------------------------------------------


def test_it_names_the_time_limit_and_where_to_change_it():
    hint = hint_for(Failure(status="Canceled", exit_code=-15, timeout_seconds=5400), LINKS)
    assert hint["code"] == "timeout"
    assert hint["message"] == (
        "Stopped at its time limit, max_run_duration_seconds=5400 (1 h 30 min). If it needs "
        "longer, raise max_run_duration_seconds in ScriptRunConfig (or the Timeout field of "
        "the submit page)."
    )


# --- environment builds ---------------------------------------------------------------------


PIP_LOG = (
    "Collecting tinypkg",
    "ERROR: Could not find a version that satisfies the requirement nope-pkg (from versions: none)",
    "ERROR: No matching distribution found for nope-pkg",
    "Environment broken v1: build failed: pip install failed (exit code 1):",
)


def test_it_quotes_the_pip_line_that_failed_and_links_to_the_environment():
    hint = hint_for(
        Failure(
            status="Failed",
            build_error="Environment broken v1 failed to build: pip install failed (exit 1)",
            build_log=PIP_LOG,
            environment=Environment(name="broken", version="1", user_managed=False),
        ),
        LINKS,
    )
    assert hint["code"] == "environment_build_failed"
    assert hint["message"] == (
        "Environment broken v1 failed to build: ERROR: No matching distribution found for "
        "nope-pkg. Fix that package's name or version (or the index, PIP_INDEX_URL), then "
        "register a new version and submit again."
    )
    assert hint["url"] == "/w/lab/environments/broken/?version=1"


def test_it_picks_dockers_error_when_no_line_starts_with_error():
    error = (
        "Environment img v2 failed to build: Base image team/nope:1 not found locally or in "
        "registry docker.io: pull access denied. Check docker.base_image (name and tag)."
    )
    assert failed_build_line(("Step 1/4 : FROM team/nope:1",), error) == (
        "Base image team/nope:1 not found locally or in registry docker.io: pull access "
        "denied. Check docker.base_image (name and tag)."
    )


def test_it_picks_a_buildkit_error_line():
    log = ("#5 [2/3] RUN pip install nope", "ERROR: failed to solve: process did not complete")
    assert failed_build_line(log, "") == "ERROR: failed to solve: process did not complete"


# --- on the run page ------------------------------------------------------------------------


@pytest.fixture
def failed_run(owner, workspace):
    experiment = services.experiment_create(workspace=workspace, name="exp", user=owner)
    hint = {
        "code": "name_error",
        "message": "NameError in train.py, line 3: name '<b>lr</b>' is not defined.",
        "url": "/w/lab/runs/exp_1/#snapshot:train.py:3",
        "label": "Open train.py at line 3",
    }
    return Run.objects.create(
        id="exp_1",
        experiment=experiment,
        number=1,
        status="Failed",
        exit_code=1,
        error={"message": "NameError: name 'lr' is not defined", "hint": hint},
    )


def test_the_run_page_shows_the_hint_with_its_link_escaped(owner, failed_run, logged_in):
    page = logged_in(owner).get(f"/w/lab/runs/{failed_run.pk}/").content.decode()
    assert "How to fix:" in page
    assert "name &#x27;&lt;b&gt;lr&lt;/b&gt;&#x27; is not defined" in page
    assert "<b>lr</b>" not in page
    assert 'href="/w/lab/runs/exp_1/#snapshot:train.py:3"' in page
    assert "Open train.py at line 3</a>" in page


def test_the_api_details_carry_the_hint(owner, failed_run, api_as):
    details = api_as(owner).get(f"/api/workspaces/lab/runs/{failed_run.pk}").json()
    assert details["error"]["error"]["hint"]["label"] == "Open train.py at line 3"
