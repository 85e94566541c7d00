"""Registry entries of the real ImageNet-RIB datasets (the paper's eight sets and ImageNet-val).

Nine datasets: the pretraining reference ``imagenet-val`` and the eight downstream sets.
Each entry owns its source layout (the converter that reads the original download), its
label space and subset / ObjectNet mapping, its expected counts, licence, homepage and
citation. ImageNet-C is registered as the aggregate ``imagenet-c`` (all 75 sets, scored as
the mean over (corruption, severity)) and as one entry per set,
``imagenet-c/<corruption>/<severity>`` (e.g. ``imagenet-c/fog/3``), whose rows are the
parent's rows of that set.

The ObjectNet mapping comes from the user's download (it is part of the ObjectNet release
and is not shipped): the converter stores ``objectnet_to_imagenet_1k.json`` and
``folder_to_objectnet_label.json`` next to the converted shards and the ``objectnet``
entry's loaders find them there (see `objectnet_mapping`, `objectnet_walk_order`).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from ..errors import DatasetError
from .labels import timm_subset
from .specs import DatasetSpec, register_dataset

SPACE = "imagenet-1k"
MAPPING_FILE = "objectnet_to_imagenet_1k.json"
FOLDER_MAPPING_FILE = "folder_to_objectnet_label.json"
#: The 15 benchmark corruptions in ImageNet-C's order and the 5 severities. The same tuple as
#: `corruptions.CORRUPTIONS` (a test checks it), repeated so the registry does not import scipy.
CORRUPTIONS = (
    "gaussian_noise", "shot_noise", "impulse_noise", "defocus_blur", "glass_blur", "motion_blur",
    "zoom_blur", "snow", "frost", "fog", "brightness", "contrast", "elastic_transform", "pixelate",
    "jpeg_compression",
)  # fmt: skip
SEVERITIES = (1, 2, 3, 4, 5)
#: The four "extra" ImageNet-C corruptions (a separate download), not part of the benchmark.
C_EXTRA_CORRUPTIONS = ("speckle_noise", "gaussian_blur", "spatter", "saturate")
C_IMAGES_PER_SET = 50_000

_IMAGENET_TERMS = (
    "ImageNet terms of access: non-commercial research and educational use only "
    "(https://image-net.org/download.php)"
)
_CITE_IMAGENET = (
    "@article{russakovsky2015imagenet, title={ImageNet Large Scale Visual Recognition Challenge}, "
    "author={Russakovsky, Olga and Deng, Jia and Su, Hao and others}, journal={IJCV}, "
    "volume={115}, number={3}, pages={211--252}, year={2015}}"
)


def _register(name: str, **kw) -> DatasetSpec:
    kw.setdefault("label_space", SPACE)
    return register_dataset(DatasetSpec(name=name, **kw))


# --------------------------------------------------------------------------- ObjectNet mapping


def _mapping_candidates(source: str | None) -> list[Path]:
    """Where the mapping of rows read from `source` may be, first match wins."""
    from .sources import default_source

    out = []
    if source is not None and Path(source).is_dir():  # the mapping stored with the rows
        out.append(Path(source) / MAPPING_FILE)
    env = os.environ.get("IMAGENET_RIB_OBJECTNET_MAPPING")
    if env:
        out.append(Path(env))
    configured = default_source("objectnet")
    if configured:
        out.append(Path(configured) / MAPPING_FILE)
    return out


def _read_mapping_file(path: Path) -> dict[str, str]:
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise DatasetError(
            f"ObjectNet mapping file {path} is unreadable or not valid JSON ({err}); copy it "
            f"again from objectnet-1.0/mappings/ of your download, or re-convert ObjectNet with "
            f"`rib datasets build objectnet --force ...`"
        ) from err
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        raise DatasetError(
            f"ObjectNet mapping file {path} must be a JSON object of strings; copy it again "
            f"from objectnet-1.0/mappings/ of your download"
        )
    return data


def _mapping_path(source: str | None) -> Path:
    for path in _mapping_candidates(source):
        if path.is_file():
            return path
    raise DatasetError(
        "the ObjectNet label mapping is not available: it comes from your ObjectNet download "
        "(objectnet-1.0/mappings/objectnet_to_imagenet_1k.json) and is stored with the converted "
        "dataset; convert it with `rib datasets build objectnet --src <objectnet-1.0> --out <folder> "
        "--i-accept-objectnet-license`, then set IMAGENET_RIB_DATA_OBJECTNET=<folder> "
        "(or IMAGENET_RIB_OBJECTNET_MAPPING=<folder>/" + MAPPING_FILE + ")"
    )


def objectnet_mapping(source: str | None = None) -> dict[str, str]:
    """``{ObjectNet class: "lemma; lemma"}`` of the user's converted ObjectNet.

    `source` is the folder (or Hub id) the rows are read from, None for the configured one.
    Looked up, in order: the mapping stored in the `source` folder (the conversion writes
    it there, so rows are always scored with their own mapping),
    ``$IMAGENET_RIB_OBJECTNET_MAPPING``, the configured source of ``objectnet``
    (``IMAGENET_RIB_DATA_OBJECTNET`` / ``$IMAGENET_RIB_DATA_DIR/objectnet``).
    """
    return _read_mapping_file(_mapping_path(source))


def objectnet_walk_order(source: str | None = None) -> list[str]:
    """ObjectNet classes in ``folder_to_objectnet_label.json`` file order (``paper-compat``).

    The reference code's matching depends on that order (a class with no match reuses the
    previous folder's class), so the file stored next to the mapping of `source` is required.
    """
    mapping = _mapping_path(source)
    path = mapping.parent / FOLDER_MAPPING_FILE
    if not path.is_file():
        raise DatasetError(
            f"the paper-compat rule needs {FOLDER_MAPPING_FILE} next to {mapping}: the "
            f"reference code walks ObjectNet's folders in that file's order. Copy it from "
            f"objectnet-1.0/mappings/ of your download, or re-convert ObjectNet with "
            f"`rib datasets build objectnet --force ...` (which stores it)"
        )
    return list(_read_mapping_file(path).values())


# --------------------------------------------------------------------------- ImageNet-C sets


def c_set_name(corruption: str, severity: int) -> str:
    """Registry name of one ImageNet-C set: ``imagenet-c/<corruption>/<severity>``."""
    return f"imagenet-c/{corruption}/{severity}"


# --------------------------------------------------------------------------- the entries

_register(
    "imagenet-val",
    title="ImageNet-1k validation (pretraining reference)",
    layout="wnid-folders",
    description="The 50,000 ImageNet-1k (ILSVRC-2012) validation images, 50 per class, sorted "
    "into <wnid> folders (val/<wnid>/*.JPEG). The pretraining reference: its accuracy change "
    "after fine-tuning is the pretraining-set degradation.",
    homepage="https://image-net.org",
    licence=_IMAGENET_TERMS,
    citation=_CITE_IMAGENET,
    num_images=50_000,
    num_classes=1000,
    extra={"hf_license": "other", "source_dir": "val"},
)
_register(
    "imagenet-v2",
    title="ImageNet-V2 (matched frequency)",
    layout="v2",
    description="A re-collection of ImageNet's validation set following the original protocol "
    "(MatchedFrequency variant): 10 images for each of the 1000 classes. The download's folder "
    "names 0..999 ARE the class indices (numeric, not lexicographic, order).",
    homepage="https://imagenetv2.org",
    licence="MIT (ImageNetV2 release); images collected from Flickr - see the homepage",
    citation="@inproceedings{recht2019imagenet, title={Do ImageNet Classifiers Generalize to "
    "ImageNet?}, author={Recht, Benjamin and Roelofs, Rebecca and Schmidt, Ludwig and Shankar, "
    "Vaishaal}, booktitle={ICML}, year={2019}}",
    num_images=10_000,
    num_classes=1000,
    extra={"hf_license": "mit", "source_dir": "imagenetv2-matched-frequency-format-val"},
)
_register(
    "imagenet-a",
    title="ImageNet-A (natural adversarial examples)",
    layout="wnid-folders",
    description="7,500 real-world images that fool ResNet-50 classifiers, over a 200-class "
    "subset of ImageNet; scored with logits restricted to the 200 classes.",
    homepage="https://github.com/hendrycks/natural-adv-examples",
    licence="MIT",
    citation="@inproceedings{hendrycks2021nae, title={Natural Adversarial Examples}, "
    "author={Hendrycks, Dan and Zhao, Kevin and Basart, Steven and Steinhardt, Jacob and Song, "
    "Dawn}, booktitle={CVPR}, year={2021}}",
    subset=timm_subset("imagenet_a"),
    num_images=7_500,
    num_classes=200,
    extra={"hf_license": "mit", "source_dir": "imagenet-a"},
)
_register(
    "imagenet-r",
    title="ImageNet-R (renditions)",
    layout="wnid-folders",
    description="30,000 renditions (art, cartoons, graffiti, embroidery, origami, sculptures, "
    "toys, ...) of a 200-class subset of ImageNet (86 classes shared with ImageNet-A); scored "
    "with logits restricted to the 200 classes.",
    homepage="https://github.com/hendrycks/imagenet-r",
    licence="MIT",
    citation="@inproceedings{hendrycks2021many, title={The Many Faces of Robustness: A Critical "
    "Analysis of Out-of-Distribution Generalization}, author={Hendrycks, Dan and Basart, Steven "
    "and Mu, Norman and others}, booktitle={ICCV}, year={2021}}",
    subset=timm_subset("imagenet_r"),
    num_images=30_000,
    num_classes=200,
    extra={"hf_license": "mit", "source_dir": "imagenet-r"},
)
_register(
    "imagenet-sketch",
    title="ImageNet-Sketch",
    layout="wnid-folders",
    description="50,889 black-and-white sketches, about 50 per ImageNet class, collected with "
    "Google Image queries '<class name> sketch'.",
    homepage="https://github.com/HaohanWang/ImageNet-Sketch",
    licence="MIT",
    citation="@inproceedings{wang2019learning, title={Learning Robust Global Representations by "
    "Penalizing Local Predictive Power}, author={Wang, Haohan and Ge, Songwei and Lipton, Zachary "
    "and Xing, Eric P}, booktitle={NeurIPS}, year={2019}}",
    num_images=50_889,
    num_classes=1000,
    extra={"hf_license": "mit", "source_dir": "sketch"},
)
_register(
    "objectnet",
    title="ObjectNet (113 ImageNet-overlapping classes)",
    layout="objectnet",
    description="Bias-controlled photos of household objects in unusual rotations, viewpoints "
    "and backgrounds. Only the 113 ObjectNet classes that overlap ImageNet are kept (~18,574 of "
    "~50,000 images); the red border of every image is cropped (2 px, as the reference code). "
    "Scored through objectnet_to_imagenet_1k.json with a named rule: max-over-mapped (default), "
    "first-match, or paper-compat (the reference code's matching, a KNOWN DEFECT: 105 classes "
    "instead of 113, 9 ObjectNet classes scored against the wrong ImageNet class; only to "
    "compare with published numbers).",
    homepage="https://objectnet.dev",
    licence="ObjectNet licence (https://objectnet.dev/download.html): research use; ObjectNet "
    "may NOT be used to train or tune the parameters of a model, and its images must not be "
    "re-hosted. Fine-tuning on it (as this benchmark does) needs an explicit opt-in; it is "
    "never pushed to the Hub.",
    citation="@inproceedings{barbu2019objectnet, title={ObjectNet: A large-scale bias-controlled "
    "dataset for pushing the limits of object recognition models}, author={Barbu, Andrei and "
    "Mayo, David and Alverio, Julian and others}, booktitle={NeurIPS}, year={2019}}",
    objectnet_mapping=objectnet_mapping,
    objectnet_order=objectnet_walk_order,
    default_rule="max-over-mapped",
    num_images=18_574,
    num_classes=113,
    requires_opt_in=True,
    extra={"hf_license": "other", "source_dir": "objectnet-1.0", "border_px": 2},
)
_CITE_CARTOON = (
    "@inproceedings{salvador2022imagenetcartoon, title={ImageNet-Cartoon and ImageNet-Drawing: "
    "two domain shift datasets for ImageNet}, author={Salvador, Tiago and Oberman, Adam M}, "
    "booktitle={ICML 2022 Shift Happens Workshop}, year={2022}}"
)
for _name, _title, _how in (
    ("imagenet-cartoon", "ImageNet-Cartoon", "cartoonised with a GAN-based cartoon style transfer"),
    ("imagenet-drawing", "ImageNet-Drawing", "turned into colour-pencil drawings"),
):
    _register(
        _name,
        title=_title,
        layout="wnid-folders",
        description=f"The 50,000 ImageNet validation images {_how}, sorted into <wnid> folders.",
        homepage="https://tiagosalvador.github.io/projects/imagenet-shift/",
        licence="See the homepage; derived from ImageNet validation images, so the ImageNet "
        "terms of access apply",
        citation=_CITE_CARTOON,
        num_images=50_000,
        num_classes=1000,
        extra={"hf_license": "other"},
    )
_CITE_C = (
    "@inproceedings{hendrycks2019benchmarking, title={Benchmarking Neural Network Robustness to "
    "Common Corruptions and Perturbations}, author={Hendrycks, Dan and Dietterich, Thomas}, "
    "booktitle={ICLR}, year={2019}}"
)
_C_LICENCE = "CC BY 4.0 (ImageNet-C release); derived from ImageNet validation images"
_register(
    "imagenet-c",
    title="ImageNet-C (15 corruptions x 5 severities)",
    layout="imagenet-c",
    description="The ImageNet validation images under 15 common corruptions at 5 severities "
    "(<corruption>/<severity>/<wnid>/*.JPEG): 75 sets of 50,000 images. The score is the mean "
    "over the 75 sets; every set is addressable as imagenet-c/<corruption>/<severity>. The 4 "
    "'extra' corruptions are not used.",
    homepage="https://github.com/hendrycks/robustness",
    licence=_C_LICENCE,
    citation=_CITE_C,
    aggregate="mean-over-corruption-severity",
    num_images=C_IMAGES_PER_SET * 75,
    num_classes=1000,
    extra={"hf_license": "cc-by-4.0", "corruptions": CORRUPTIONS, "severities": SEVERITIES},
)
for _c in CORRUPTIONS:
    for _s in SEVERITIES:
        _register(
            c_set_name(_c, _s),
            title=f"ImageNet-C {_c} severity {_s}",
            layout="imagenet-c",
            description=f"The ImageNet-C set ({_c}, severity {_s}): rows of imagenet-c.",
            homepage="https://github.com/hendrycks/robustness",
            licence=_C_LICENCE,
            citation=_CITE_C,
            num_images=C_IMAGES_PER_SET,
            num_classes=1000,
            parent="imagenet-c",
            corruption=_c,
            severity=_s,
        )
