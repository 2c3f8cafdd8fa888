"""max_nodes across every node of a target, first in first out, and what a queued run waits for."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from compute.models import Node, SlotLease
from compute.selectors import queue_wait_detail, queued_details, target_status
from compute.services import node_heartbeat, slot_claim, slot_release, slot_wait


def submitted(seconds: int):
    return timezone.now() - timedelta(minutes=10) + timedelta(seconds=seconds)


def test_it_holds_max_nodes_across_all_nodes(cluster):
    node_heartbeat(name="a@one", queues=[cluster.queue], pid=1, concurrency=2)
    node_heartbeat(name="b@two", queues=[cluster.queue], pid=2, concurrency=2)
    assert slot_claim(target=cluster, holder="r1", node="a@one", requested_at=submitted(1))
    assert slot_claim(target=cluster, holder="r2", node="b@two", requested_at=submitted(2))
    assert not slot_claim(target=cluster, holder="r3", node="a@one", requested_at=submitted(3))
    assert not slot_claim(target=cluster, holder="r4", node="b@two", requested_at=submitted(4))

    slot_release(holder="r1")
    assert slot_claim(target=cluster, holder="r3", node="a@one", requested_at=submitted(3))
    assert SlotLease.objects.filter(granted_at__isnull=False).count() == 2


def test_it_serves_waiting_runs_first_in_first_out(cluster):
    for name in ("a@one", "b@two"):
        node_heartbeat(name=name, queues=[cluster.queue], pid=1, concurrency=2)
    assert slot_claim(target=cluster, holder="r1", node="a@one", requested_at=submitted(1))
    assert slot_claim(target=cluster, holder="r2", node="a@one", requested_at=submitted(2))
    # r3 waits on one node, r4 on another; r4 asks again first once a slot is free.
    assert not slot_claim(target=cluster, holder="r3", node="b@two", requested_at=submitted(3))
    assert not slot_claim(target=cluster, holder="r4", node="a@one", requested_at=submitted(4))
    slot_release(holder="r1")
    assert not slot_claim(target=cluster, holder="r4", node="a@one", requested_at=submitted(4))
    assert slot_claim(target=cluster, holder="r3", node="b@two", requested_at=submitted(3))


def test_it_frees_the_slots_of_a_node_that_stopped_heartbeating(cluster, fast_offline):
    node_heartbeat(name="dead@one", queues=[cluster.queue], pid=1, concurrency=2)
    node_heartbeat(name="live@two", queues=[cluster.queue], pid=2, concurrency=2)
    assert slot_claim(target=cluster, holder="r1", node="dead@one", requested_at=submitted(1))
    assert slot_claim(target=cluster, holder="r2", node="dead@one", requested_at=submitted(2))
    assert not slot_claim(target=cluster, holder="r3", node="live@two", requested_at=submitted(3))

    Node.objects.filter(name="dead@one").update(heartbeat_at=timezone.now() - timedelta(minutes=1))
    assert slot_claim(target=cluster, holder="r3", node="live@two", requested_at=submitted(3))
    assert not SlotLease.objects.filter(node="dead@one").exists()


def test_it_gives_up_waiting_when_the_run_is_canceled(cluster):
    node_heartbeat(name="a@one", queues=[cluster.queue], pid=1, concurrency=2)
    for holder in ("r1", "r2"):
        slot_claim(target=cluster, holder=holder, node="a@one", requested_at=submitted(1))
    told, asked = [], []

    def still_wanted():
        asked.append(1)
        return len(asked) < 3

    got = slot_wait(target=cluster, holder="r3", node="a@one", requested_at=submitted(3),
                    still_wanted=still_wanted, on_wait=told.append, poll_seconds=0.01)  # fmt: skip
    assert got is False
    assert told == [0]
    assert not SlotLease.objects.filter(holder="r3").exists()


def test_it_lets_local_runs_through_without_a_claim(workspace):
    local = workspace.compute_targets.get(name="local")
    assert slot_claim(target=local, holder="r1", node="local@box", requested_at=submitted(1))
    assert not SlotLease.objects.exists()


def test_it_counts_waiting_runs_in_the_status(cluster):
    node_heartbeat(name="a@one", queues=[cluster.queue], pid=1, concurrency=2, busy_slots=2)
    for n in (1, 2, 3):
        slot_claim(target=cluster, holder=f"r{n}", node="a@one", requested_at=submitted(n))
    status = target_status(target=cluster)
    assert status.current_node_count == 2
    assert status.node_state_counts.running_node_count == 2
    assert status.node_state_counts.idle_node_count == 0
    assert status.waiting_runs == 1
    assert (status.target_node_count, status.allocation_state) == (2, "Steady")


def test_it_says_what_a_queued_run_waits_for(workspace, cluster):
    assert "no node of compute target 'gpu' is online" in queue_wait_detail(target=cluster, ahead=0)
    assert "python manage.py worker --target gpu --workspace lab" in queue_wait_detail(
        target=cluster, ahead=0
    )
    node_heartbeat(name="a@one", queues=[cluster.queue], pid=1, concurrency=2)
    assert queue_wait_detail(target=cluster, ahead=3) == "waiting for a free node (3 ahead)"


def test_it_numbers_queued_runs_per_target_first_in_first_out(owner, workspace, cluster):
    from workspaces.services import workspace_create

    other = workspace_create(name="other", owner=owner)
    node_heartbeat(name="a@one", queues=[cluster.queue], pid=1, concurrency=2)
    node_heartbeat(name="local@box", queues=["target-local"], pid=2, concurrency=2)
    details = queued_details(
        queued=[
            ("g1", workspace.pk, "gpu"),
            ("l1", workspace.pk, "local"),
            ("g2", workspace.pk, "gpu"),
            ("l2", other.pk, ""),  # local is one queue for every workspace
            ("x1", workspace.pk, "gone"),
        ]
    )
    assert details["g1"] == "waiting for a free node (0 ahead)"
    assert details["g2"] == "waiting for a free node (1 ahead)"
    assert details["l1"] == "waiting for a free node (0 ahead)"
    assert details["l2"] == "waiting for a free node (1 ahead)"
    assert "compute target 'gone' no longer exists" in details["x1"]
