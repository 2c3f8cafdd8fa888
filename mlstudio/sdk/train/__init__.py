"""azureml.train: the estimators v1 scripts submitted before ScriptRunConfig (estimator,
sklearn, dnn). Each maps onto a ScriptRunConfig and an Environment."""
