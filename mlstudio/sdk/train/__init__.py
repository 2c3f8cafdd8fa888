"""azureml.train: the estimators v1 scripts submitted before ScriptRunConfig (estimator,
sklearn, dnn), each mapped onto a ScriptRunConfig and an Environment; hyperparameter sweeps
in mlstudio.sdk.train.hyperdrive."""
