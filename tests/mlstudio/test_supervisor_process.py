"""The process supervisor and the line splitter, with real processes and no database."""

import sys
import time

from mlstudio.lines import LineSplitter
from mlstudio.processes import Every, Streaming, Supervisor


def supervised(code: str, tmp_path, notes: list[str], grace: float = 0.5) -> Supervisor:
    return Supervisor([sys.executable, "-c", code], cwd=tmp_path, env={"PATH": "/usr/bin"},
                      belongs=lambda env: False, note=notes.append, grace=grace)  # fmt: skip


def test_the_splitter_keeps_the_last_state_of_a_rewritten_line():
    lines = LineSplitter()
    lines.feed(b"epoch 1\r10%\r")
    lines.feed(b"100%\nnext")
    assert lines.take() == b"100%\n"
    assert lines.close() == b"next\n"


def test_the_splitter_cuts_long_lines_at_a_utf8_boundary():
    lines = LineSplitter(max_line=10)
    lines.feed("ééééééé".encode())  # 14 bytes, no newline
    piece = lines.take()
    assert len(piece) <= 10 and piece.decode() == "ééééé"


def test_it_streams_output_in_lines_and_makes_its_checks(tmp_path):
    out: list[bytes] = []
    checked: list[float] = []
    supervisor = supervised("print('a'); print('b', flush=True)", tmp_path, [])
    supervisor.start()
    supervisor.stream(out.append, checks=[Every(0.01, lambda: checked.append(1))])
    supervisor.close()
    assert b"".join(out) == b"a\nb\n" and supervisor.returncode == 0 and checked


FAST_THEN_QUIET = """
import sys, time
for i in range(200):
    print(i, flush=True)
    time.sleep(0.002)
time.sleep(0.3)
print("alone", time.monotonic(), flush=True)
"""


def test_a_burst_of_lines_coalesces_and_a_lone_line_goes_out_at_once(tmp_path):
    batches: list[tuple[float, bytes]] = []
    supervisor = supervised(FAST_THEN_QUIET, tmp_path, [])
    supervisor.start()
    supervisor.stream(lambda data: batches.append((time.monotonic(), data)), checks=[])
    supervisor.close()
    text = b"".join(data for _, data in batches).decode()
    assert text.split()[:200] == [str(i) for i in range(200)]
    burst = [at for at, data in batches if b"alone" not in data]
    # 200 lines over about 0.5 s: one batch each 40 ms at most, not one a line
    assert len(burst) <= (burst[-1] - burst[0]) / 0.04 + 2, len(burst)
    arrived, data = next((at, data) for at, data in batches if b"alone" in data)
    printed = float(data.split()[-1])
    assert arrived - printed < 0.1  # after a quiet spell it is not held back for the spacing


def test_it_stops_with_sigterm_then_sigkill_after_the_grace(tmp_path):
    notes: list[str] = []
    code = (
        "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        "print('up', flush=True); time.sleep(60)"
    )
    supervisor = supervised(code, tmp_path, notes, grace=0.5)
    supervisor.start(watch_memory=False)
    out: list[bytes] = []
    begun = time.monotonic()
    supervisor.stream(out.append, checks=[Every(0.1, lambda: out and supervisor.stop())],
                      how=Streaming(leftover_seconds=0.1))  # fmt: skip
    assert supervisor.returncode == -9
    assert 0.5 <= time.monotonic() - begun < 10
    assert notes == ["1 process(es) outlived SIGTERM; sending SIGKILL"]


def test_a_process_that_honours_sigterm_gets_no_sigkill(tmp_path):
    notes: list[str] = []
    supervisor = supervised("import time; time.sleep(60)", tmp_path, notes, grace=5)
    supervisor.start(watch_memory=False)
    supervisor.stop()
    assert supervisor.returncode == -15 and notes == []


def test_it_samples_the_memory_of_its_processes(tmp_path):
    code = "import time; b = bytearray(50 * 1024 * 1024); time.sleep(0.8)"
    supervisor = supervised(code, tmp_path, [])
    supervisor.start()
    supervisor.stream(lambda data: None, checks=[])
    supervisor.close()
    assert supervisor.peak_memory > 50 * 1024 * 1024


def test_it_counts_the_memory_of_processes_started_by_any_thread_of_the_script(tmp_path):
    """A data loader's worker, started from a thread: its memory is the run's too."""
    grandchild = "import time; b = bytearray(80 * 1024 * 1024); time.sleep(1.5)"
    code = (
        "import subprocess, sys, threading, time\n"
        f"threading.Thread(target=subprocess.run, args=([sys.executable, '-c', {grandchild!r}],)"
        ").start()\n"
        "time.sleep(1.8)\n"
    )
    supervisor = supervised(code, tmp_path, [])
    supervisor.start()
    supervisor.stream(lambda data: None, checks=[])
    supervisor.close()
    assert supervisor.peak_memory > 80 * 1024 * 1024
