"""The kernel's out-of-memory count of this process's cgroup, read for a failed run's hint."""

from mlstudio import processes


def test_it_reads_the_oom_kill_count_of_cgroup_v2_and_v1(tmp_path, monkeypatch):
    v2 = tmp_path / "memory.events"
    v2.write_text("low 0\nhigh 0\nmax 4\noom 2\noom_kill 2\noom_group_kill 0\n")
    v1 = tmp_path / "memory.oom_control"
    v1.write_text("oom_kill_disable 0\nunder_oom 0\noom_kill 5\n")
    missing = tmp_path / "nowhere" / "memory.events"
    monkeypatch.setattr(processes, "_oom_counters", lambda: iter([missing, v2, v1]))
    assert processes.oom_kill_count() == 2
    monkeypatch.setattr(processes, "_oom_counters", lambda: iter([missing, v1]))
    assert processes.oom_kill_count() == 5


def test_it_says_none_where_no_count_can_be_read(tmp_path, monkeypatch):
    monkeypatch.setattr(processes, "_oom_counters", lambda: iter([tmp_path / "memory.events"]))
    assert processes.oom_kill_count() is None


def test_it_reads_this_machines_count_or_none():
    count = processes.oom_kill_count()
    assert count is None or count >= 0
