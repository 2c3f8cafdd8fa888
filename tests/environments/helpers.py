"""What environment tests share: a log that keeps what a builder says, and a tiny real wheel,
made on the spot, so virtualenv builds run pip offline and fast."""

from __future__ import annotations

import base64
import hashlib
import zipfile
from pathlib import Path


class Lines(list):
    """A log that keeps what the builder says."""

    def __call__(self, line: str) -> None:
        self.append(line)

    @property
    def text(self) -> str:
        return "\n".join(self)


def make_wheel(folder: Path, name: str = "tinypkg", version: str = "1.0") -> Path:
    """A pure-Python wheel with a module `name` (GREETING) and a console script
    `<name>-hello` that prints it."""
    folder.mkdir(parents=True, exist_ok=True)
    info = f"{name}-{version}.dist-info"
    files = {
        f"{name}/__init__.py": (
            f"GREETING = 'hello from {name} {version}'\n\n\ndef main():\n    print(GREETING)\n"
        ),
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
        f"{info}/WHEEL": (
            "Wheel-Version: 1.0\nGenerator: mlstudio-tests\nRoot-Is-Purelib: true\n"
            "Tag: py3-none-any\n"
        ),
        f"{info}/entry_points.txt": f"[console_scripts]\n{name}-hello = {name}:main\n",
    }
    record = []
    for path, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=")
        record.append(f"{path},sha256={digest.decode()},{len(text.encode())}")
    record.append(f"{info}/RECORD,,")
    files[f"{info}/RECORD"] = "\n".join(record) + "\n"
    wheel = folder / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, text in files.items():
            archive.writestr(path, text)
    return wheel


def offline_packages(find_links: Path, *packages: str) -> list[str]:
    """Pip lines that install `packages` from `find_links` only, never from an index."""
    return ["--no-index", f"--find-links {find_links}", *packages]
