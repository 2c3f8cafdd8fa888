from django.test import Client

from tests.processes import wait_until


def test_it_answers_503_and_names_the_missing_workers(db):
    response = Client().get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["database"]["ok"] and body["broker"]["ok"]
    assert "no worker node" in body["workers"]["error"]


def test_it_answers_503_when_the_broker_is_down(db, settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    body = Client().get("/healthz").json()
    assert body["status"] == "unhealthy"
    assert body["broker"]["ok"] is False


def test_it_turns_healthy_when_a_real_worker_heartbeats(control_worker):
    response = wait_until(
        lambda: (r := Client().get("/healthz")).status_code == 200 and r,
        timeout=60,
        what="the worker's first heartbeat",
    )
    assert control_worker in response.json()["workers"]["nodes"]
