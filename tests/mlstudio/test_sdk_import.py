import subprocess
import sys

from tests.processes import REPO


def test_it_imports_the_sdk_with_only_the_standard_library():
    code = (
        f"import sys; sys.path.insert(0, {str(REPO)!r}); "
        "import mlstudio.sdk; from mlstudio.sdk import Workspace; "
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in "
        "{'django', 'celery', 'channels', 'redis', 'ninja', 'pydantic', 'docker'}); "
        "print(heavy)"
    )
    result = subprocess.run(
        [sys.executable, "-I", "-S", "-c", code], capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_it_keeps_the_project_package_init_empty():
    assert (REPO / "mlstudio" / "__init__.py").read_text().strip() == ""
