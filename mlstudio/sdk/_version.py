"""The SDK's version, printed by v1 notebooks as azureml.core.VERSION."""

VERSION = "0.1.0"
