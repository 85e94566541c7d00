"""Label spaces: the pretraining classes every model's head predicts.

A `LabelSpace` is the ordered list of class ids (ImageNet wnids, in the standard sorted
order) and their human-readable lemma strings. ImageNet-1k's lists come from timm, which
ships and maintains them, rather than a copied table.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

from ..registry import Registry


@dataclass(frozen=True)
class LabelSpace:
    """An ordered pretraining label space.

    Attributes:
        name: registry key, e.g. ``"imagenet-1k"``.
        wnids: class ids, index i is logit i of every model head over this space.
        lemmas: one human-readable string per class ("tench, Tinca tinca"); the first
            comma-separated part is the short name.
    """

    name: str
    wnids: tuple[str, ...]
    lemmas: tuple[str, ...]

    def __post_init__(self) -> None:
        if len(self.wnids) != len(self.lemmas):
            raise ValueError(
                f"label space {self.name!r}: {len(self.wnids)} wnids but {len(self.lemmas)} lemmas"
            )
        if len(set(self.wnids)) != len(self.wnids):
            raise ValueError(f"label space {self.name!r} has duplicate wnids")

    @property
    def num_classes(self) -> int:
        return len(self.wnids)

    @functools.cached_property
    def index(self) -> dict[str, int]:
        return {w: i for i, w in enumerate(self.wnids)}

    def indices(self, wnids: tuple[str, ...] | list[str]) -> list[int]:
        from ..errors import DatasetError

        missing = [w for w in wnids if w not in self.index]
        if missing:
            raise DatasetError(
                f"class id(s) {missing[:5]} are not in label space {self.name!r} "
                f"({self.num_classes} classes); check the folder names of the download"
            )
        return [self.index[w] for w in wnids]


#: name -> zero-argument factory (ImageNet's lists are read lazily from timm).
LABEL_SPACES: Registry[Callable[[], LabelSpace]] = Registry("label space")

#: The Mini-RIB pretraining classes: the ten digits. ``wnid`` is the class word.
MINI_DIGITS = LabelSpace(
    name="mini-digits",
    wnids=("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"),
    lemmas=(
        "zero, nought, cipher",
        "one, ace, unity",
        "two, deuce, pair",
        "three, trey, trio",
        "four, quartet",
        "five, quint",
        "six, sextet",
        "seven, septet",
        "eight, octet",
        "nine, ennead",
    ),
)
LABEL_SPACES.register(MINI_DIGITS.name, lambda: MINI_DIGITS)


@LABEL_SPACES.register("imagenet-1k")
@functools.lru_cache(maxsize=1)
def imagenet_1k() -> LabelSpace:
    """ImageNet-1k in the standard sorted-wnid order, from timm's shipped class lists."""
    from timm.data import ImageNetInfo

    info = ImageNetInfo()
    wnids = tuple(info.label_names())
    return LabelSpace("imagenet-1k", wnids, tuple(info.label_name_to_description(w) for w in wnids))


def timm_subset(name: str) -> tuple[str, ...]:
    """The wnids of a standard ImageNet subset shipped by timm ("imagenet_a", "imagenet_r")."""
    import importlib.util
    from pathlib import Path

    # locate timm's data files without importing timm (which imports torch: seconds)
    spec = importlib.util.find_spec("timm")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(
            "timm is required for the ImageNet class subsets; pip install timm"
        )
    path = Path(list(spec.submodule_search_locations)[0]) / "data" / "_info" / f"{name}_synsets.txt"
    text = path.read_text()
    return tuple(line.strip() for line in text.splitlines() if line.strip())


def get_label_space(name: str) -> LabelSpace:
    return LABEL_SPACES.get(name)()
