"""azureml.train.sklearn.SKLearn: an Estimator with scikit-learn. Without extra packages it
runs in MLStudio's curated MLStudio-SKLearn environment."""

from __future__ import annotations

from mlstudio.sdk.train.estimator import Estimator


class SKLearn(Estimator):
    _framework_packages = ("scikit-learn",)
    _curated = "MLStudio-SKLearn"

    @staticmethod
    def get_supported_versions(current_version=None) -> list[str]:
        return ["1.9"]


__all__ = ["SKLearn"]
