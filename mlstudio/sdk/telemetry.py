"""azureml.telemetry: v1 notebooks opt out of diagnostics in their first cell. MLStudio
collects none, so the call is accepted and does nothing."""

from __future__ import annotations


def set_diagnostics_collection(send_diagnostics: bool = True, verbosity=None, reset=False,
                               path=None) -> None:  # fmt: skip
    """Accepted and ignored: MLStudio sends no diagnostics anywhere."""


set_diagnostics_collection._v1_ignored = True


def get_diagnostics_collection_info(component_name=None, path=None) -> dict:
    return {"send_diagnostics": False}


__all__ = ["get_diagnostics_collection_info", "set_diagnostics_collection"]
