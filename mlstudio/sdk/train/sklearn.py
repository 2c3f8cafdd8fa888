"""azureml.train.sklearn.SKLearn: an Estimator with scikit-learn. Without extra packages it
runs in MLStudio's curated MLStudio-SKLearn environment."""

from __future__ import annotations

from mlstudio.sdk.train.estimator import _FrameworkEstimator


class SKLearn(_FrameworkEstimator):
    _framework_packages = ("scikit-learn",)
    _curated = "MLStudio-SKLearn"
    _supported_versions = ("1.9",)


__all__ = ["SKLearn"]
