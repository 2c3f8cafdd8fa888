"""The live events are the shapes the pages' scripts read (static/js): kind first, then the
fields each page uses."""

from mlstudio import live


def test_each_event_has_the_shape_the_pages_read():
    assert live.run_event(run_id="r", tags={"a": "1"}, properties={"p": "2"}) == {
        "kind": "run", "run_id": "r", "tags": {"a": "1"}, "properties": {"p": "2"}}  # fmt: skip
    assert live.params_event("r", {"depth": "4"}) == {
        "kind": "params", "run_id": "r", "params": {"depth": "4"}}  # fmt: skip
    assert live.sweep_event(run_id="p", child="p_1") == {
        "kind": "sweep", "run_id": "p", "child": "p_1"}  # fmt: skip
    assert live.metric_event("r", [{"name": "loss"}]) == {
        "kind": "metric", "run_id": "r", "metrics": [{"name": "loss"}]}  # fmt: skip
