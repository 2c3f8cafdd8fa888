"""The studio's Compute page: targets, nodes, and the register form."""

from __future__ import annotations

from compute.models import ComputeTarget
from compute.services import node_heartbeat

PAGE = "/w/lab/compute/"


def test_it_lists_targets_and_nodes_for_a_member(teammate, workspace, logged_in, cluster):
    node_heartbeat(name="lab.gpu@box", queues=[cluster.queue], pid=1, concurrency=2, busy_slots=1,
                   cpu_count=8, gpu_count=1)  # fmt: skip
    page = logged_in(teammate).get(PAGE)
    assert page.status_code == 200
    body = page.content.decode()
    assert 'data-target="local"' in body and 'data-target="gpu"' in body
    assert "STANDARD_NC6" in body
    assert "lab.gpu@box" in body and ">busy<" in body
    assert 'data-api="/api/workspaces/lab/nodes"' in body
    assert 'id="register"' not in body  # readers don't register targets
    assert ">Delete<" not in body


def test_it_is_not_found_for_a_stranger(stranger, workspace, logged_in):
    assert logged_in(stranger).get(PAGE).status_code == 404
    assert logged_in(stranger).post(PAGE, {"name": "x1", "type": "cluster"}).status_code == 404


def test_it_registers_a_target_from_the_form(owner, workspace, logged_in):
    client = logged_in(owner)
    assert 'id="register"' in client.get(PAGE).content.decode()
    form = {"name": "cpu", "type": "cluster", "vm_size": "D2", "min_nodes": "0", "max_nodes": "3",
            "idle_seconds": "60"}  # fmt: skip
    response = client.post(PAGE, form, follow=True)
    assert "Compute target “cpu” is registered." in response.content.decode()
    cpu = ComputeTarget.objects.get(name="cpu")
    assert (cpu.max_nodes, cpu.idle_seconds_before_scaledown, cpu.vm_size) == (3, 60, "D2")


def test_it_shows_why_a_registration_was_refused(owner, workspace, logged_in):
    client = logged_in(owner)
    response = client.post(PAGE, {"name": "cpu", "type": "cluster", "max_nodes": "two"})
    assert response.status_code == 400
    body = response.content.decode()
    assert "Max nodes must be a whole number, not &#x27;two&#x27;." in body
    assert 'value="cpu"' in body  # what was typed stays in the form
    response = client.post(PAGE, {"name": "x", "type": "cluster", "max_nodes": "2"})
    assert "Invalid compute target name &#x27;x&#x27;" in response.content.decode()
    assert ComputeTarget.objects.count() == 1


def test_it_refuses_a_reader_registering_or_deleting(teammate, workspace, logged_in, cluster):
    client = logged_in(teammate)
    response = client.post(PAGE, {"name": "mine", "type": "cluster", "max_nodes": "1"})
    assert response.status_code == 400
    assert "needs contributor or higher" in response.content.decode()
    client.post(f"{PAGE}gpu/delete/")
    assert ComputeTarget.objects.filter(name="gpu").exists()


def test_it_deletes_a_target_from_the_page(owner, workspace, logged_in, cluster):
    response = logged_in(owner).post(f"{PAGE}gpu/delete/", follow=True)
    assert "Compute target “gpu” is deleted." in response.content.decode()
    assert not ComputeTarget.objects.filter(name="gpu").exists()


def test_it_renders_the_home_page_fragment(owner, workspace, cluster):
    from django.template.loader import render_to_string

    from compute.views import status_context

    html = render_to_string(
        "compute/_status.html", {"workspace": workspace, **status_context(workspace=workspace)}
    )
    assert 'href="/w/lab/compute/"' in html
    assert "gpu</a> (cluster) · 0 nodes, 0 slots: 0 idle, 0 busy" in html
