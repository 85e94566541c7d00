"""imagenet-rib: the ImageNet Robustness Inheritance Benchmark.

Fine-tune a pretrained ImageNet classifier on one of a family of related OOD datasets,
evaluate it on all the others and on ImageNet, and score how much robustness survived.
Heavy dependencies (torch, transformers, POT, ...) are imported by the submodules that
need them, so ``import imagenet_rib`` and ``rib --help`` stay fast.
"""

__version__ = "0.1.0"
#: This project's home (model cards and metric modules link here); also in pyproject.toml.
PROJECT_URL = "https://github.com/imagenet-rib/imagenet-rib"

# the one-call API; `api` imports its heavy dependencies inside its functions
from .api import benchmark, evaluate_checkpoints  # noqa: E402

__all__ = ["PROJECT_URL", "__version__", "benchmark", "evaluate_checkpoints"]
