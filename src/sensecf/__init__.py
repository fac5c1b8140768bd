"""sensecf: counterfactual explanations for health-risk classifiers on wearable-sensor data.

>>> import sensecf as scf
>>> spec = scf.DatasetSpec(target="y", classes={0: "well", 1: "ill"}, desired_class=0,
...                        features=[scf.FeatureSpec(name="steps", bounds=(0, 50000))])
>>> spec.flagged_class
1
"""

from sensecf import datasets, llm, results
from sensecf.augmentation import AugmentationConfig, augmentation_study
from sensecf.data.dataset import Dataset
from sensecf.data.loaders import load_dataset
from sensecf.data.spec import DatasetSpec, FeatureSpec, infer_spec
from sensecf.errors import DataError, SensecfError, SpecError
from sensecf.evaluation import BenchmarkConfig, MetricSuite, evaluate, run_benchmark
from sensecf.explanation import Explanation, explain
from sensecf.generators import (
    CFNOW,
    NICE,
    DiCE,
    LLMGenerator,
    Oracle,
    select_queries,
    sparsify_result,
)
from sensecf.generators.llm.options import LLMOptions
from sensecf.generators.registry import make_generator
from sensecf.models import TrainedClassifier, evaluate_classifier, load_model, train
from sensecf.results import CounterfactualResult

__version__ = "0.1.0"

__all__ = [
    "AugmentationConfig",
    "BenchmarkConfig",
    "CFNOW",
    "NICE",
    "CounterfactualResult",
    "DataError",
    "DiCE",
    "Dataset",
    "DatasetSpec",
    "Explanation",
    "FeatureSpec",
    "LLMGenerator",
    "LLMOptions",
    "MetricSuite",
    "Oracle",
    "SensecfError",
    "SpecError",
    "TrainedClassifier",
    "augmentation_study",
    "datasets",
    "evaluate",
    "evaluate_classifier",
    "explain",
    "infer_spec",
    "llm",
    "load_dataset",
    "load_model",
    "make_generator",
    "results",
    "run_benchmark",
    "select_queries",
    "sparsify_result",
    "train",
]
