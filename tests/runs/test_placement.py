"""Where a run's container runs as: an image's own numeric USER gets the mounted working
folder; a named one is told to the user. Real images, built here from the base image."""

from __future__ import annotations

from runs import placement
from runs.outputs import RunContainer

pytest_plugins = ["tests.docker_fixtures"]


def mounted_folder(tmp_path, image: str) -> tuple[int, list[str]]:
    workdir = tmp_path / "work"
    (workdir / "outputs").mkdir(parents=True)
    said: list[str] = []
    container = RunContainer("unused", workdir, say=said.append)
    container.copies_files = False
    placement._mounted_for_image_user(image, container)
    return (workdir / "outputs").stat().st_uid, said


def test_an_images_numeric_user_gets_the_mounted_working_folder(tmp_path, image_with_user):
    owner, said = mounted_folder(tmp_path, image_with_user("2345:2346"))
    assert owner == 2345
    assert said == []


def test_a_named_image_user_is_told_it_may_not_write_outputs(tmp_path, image_with_user):
    owner, said = mounted_folder(tmp_path, image_with_user("nobody"))
    assert owner != 65534
    assert said and "The image runs as 'nobody', a user only the image knows" in said[0]
    assert "Give the image a numeric USER" in said[0]
