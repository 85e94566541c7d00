"""imagenet-rib: the ImageNet Robustness Inheritance Benchmark.

Fine-tune a pretrained ImageNet classifier on one of a family of related OOD datasets,
evaluate it on all the others and on ImageNet, and score how much robustness survived.
Heavy dependencies (torch, transformers, POT, ...) are imported by the submodules that
need them, so ``import imagenet_rib`` and ``rib --help`` stay fast.
"""

__version__ = "0.1.0"
#: This project's home (model cards and metric modules link here); also in pyproject.toml.
PROJECT_URL = "https://github.com/imagenet-rib/imagenet-rib"
