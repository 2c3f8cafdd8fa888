"""Static files as whitenoise serves them once collected: content-hashed names (cached for a
year), with gzip and brotli copies beside them."""

from __future__ import annotations

from pathlib import Path

import brotli
from django.conf import settings
from django.contrib.staticfiles.finders import get_finders
from django.contrib.staticfiles.management.commands import collectstatic
from django.core.management import call_command
from whitenoise.compress import Compressor
from whitenoise.storage import CompressedManifestStaticFilesStorage

# What the plotly package ships beside plotly.min.js that no page loads.
IGNORED = ["widgetbundle.js", "datasets", "*.csv.gz", "*.geojson.gz", "*.json.gz"]
BROTLI_QUALITY = 5  # brotli's default, 11, spends 20 s on plotly.min.js for 14 % fewer bytes


class QuickCompressor(Compressor):
    @staticmethod
    def compress_brotli(data: bytes) -> bytes:
        return brotli.compress(data, quality=BROTLI_QUALITY)


class StudioStaticStorage(CompressedManifestStaticFilesStorage):
    # The pages' ES modules import one another ("./common.js"): the hashed copies must too.
    support_js_module_import_aggregation = True

    def create_compressor(self, **kwargs) -> Compressor:
        return QuickCompressor(**kwargs)


def static_collect() -> bool:
    """Collect the static files into STATIC_ROOT unless they are there already and no source
    file changed since; True when it collected."""
    manifest = Path(settings.STATIC_ROOT) / "staticfiles.json"
    if manifest.exists() and manifest.stat().st_mtime >= _newest_source():
        return False
    # This process may have started before the files were collected, with the storage that
    # reads the source folders: the command gets the collecting one whatever the settings say.
    command = collectstatic.Command()
    command.storage = StudioStaticStorage()
    call_command(command, interactive=False, verbosity=0, ignore_patterns=IGNORED)
    return True


def _newest_source() -> float:
    newest = 0.0
    for finder in get_finders():
        for path, storage in finder.list(IGNORED):
            newest = max(newest, Path(storage.path(path)).stat().st_mtime)
    return newest
