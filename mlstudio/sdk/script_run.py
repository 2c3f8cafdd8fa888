"""azureml.core.script_run: a submitted script's run is an ordinary Run here."""

from mlstudio.sdk.run import Run as ScriptRun

__all__ = ["ScriptRun"]
