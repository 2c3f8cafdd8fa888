"""v1's azureml.data: FileDataset, TabularDataset, DataPath, DataReference."""

from mlstudio.sdk._surface import module_getattr
from mlstudio.sdk.data.data_reference import DataReference
from mlstudio.sdk.data.datapath import DataPath
from mlstudio.sdk.data.file_dataset import FileDataset
from mlstudio.sdk.data.output_dataset_config import OutputFileDatasetConfig
from mlstudio.sdk.data.tabular_dataset import TabularDataset

__all__ = [
    "DataPath",
    "DataReference",
    "FileDataset",
    "OutputFileDatasetConfig",
    "TabularDataset",
]

__getattr__ = module_getattr(__name__)
