"""v1's azureml.train: hyperparameter sweeps live in mlstudio.sdk.train.hyperdrive."""
