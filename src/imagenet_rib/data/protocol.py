"""The label protocol: how a dataset is scored against a C-way pretrained head.

A protocol is a list of target classes k = 1..K, each a group G_k of pretraining classes.
The reduced logit of target k is

    z'_k = max_{c in G_k} z_c,            z: (B, C) head logits  ->  z': (B, K)

and prediction, loss and the LwF teacher all use z'. This one rule covers every case of
the benchmark's label protocol:

- ``full``: G_k = {k} for all C classes (V2, Sketch, Cartoon, Drawing, C, the reference set);
- ``subset``: G_k = {s_k} for a class subset s (ImageNet-A/-R's 200 classes): the
  "masked" protocol of the paper, WiSE-FT and FLYP (logits restricted BEFORE the argmax);
- ObjectNet ``max-over-mapped``: G_k = every ImageNet class ObjectNet class k maps to;
- ObjectNet ``first-match``: G_k = {first class named in k's mapping string};
- ObjectNet ``paper-compat``: the reference code's matching, a KNOWN DEFECT kept only to
  compare with published numbers (105 classes instead of 113, 9 ObjectNet classes scored
  against the wrong ImageNet class; see `data/paper_compat.py`).

Each row's target is found from its ``label`` (pretraining index) or, for ObjectNet, from
its ``class_name`` (the ObjectNet class).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import ConfigError, DatasetError
from .labels import LabelSpace

if TYPE_CHECKING:
    import torch

OBJECTNET_RULES = ("max-over-mapped", "first-match", "paper-compat")
#: one line per ObjectNet rule, for listings and cards
OBJECTNET_RULE_NOTES = {
    "max-over-mapped": "logit of an ObjectNet class = max over the ImageNet classes it maps to "
    "(WiSE-FT, CLIP benchmarks; the default)",
    "first-match": "each ObjectNet class scored as the first ImageNet class its mapping names",
    "paper-compat": "KNOWN DEFECT: the reference code's matching (105 classes instead of 113, "
    "9 ObjectNet classes scored against the wrong ImageNet class); only to compare with the "
    "published numbers, never a default",
}


@dataclass(frozen=True)
class LabelProtocol:
    """Target classes as groups of pretraining classes (see module docstring).

    Attributes:
        rule: ``"full"``, ``"subset"`` or ``"objectnet/<rule>"``; recorded with every result.
        num_classes: C, the head size this protocol applies to.
        groups: G_k for k = 0..K-1, pretraining indices.
        target_names: a name per target class (wnid, or ObjectNet class).
        target_key: row field the target is read from: ``"label"`` or ``"class_name"``.
        target_index: value of that field -> k.
    """

    rule: str
    num_classes: int
    groups: tuple[tuple[int, ...], ...]
    target_names: tuple[str, ...]
    target_key: str
    target_index: Mapping[Any, int]

    @property
    def num_targets(self) -> int:
        return len(self.groups)

    @functools.cached_property
    def _gather(self) -> np.ndarray:
        width = max(len(g) for g in self.groups)
        # pad each group by repeating its first member: the max is unchanged
        return np.array([list(g) + [g[0]] * (width - len(g)) for g in self.groups], dtype=np.int64)

    def reduce(self, logits: torch.Tensor) -> torch.Tensor:
        """(B, C) logits -> (B, K) reduced logits z'_k = max_{c in G_k} z_c."""
        import torch

        if logits.shape[-1] != self.num_classes:
            raise ConfigError(
                f"label protocol {self.rule!r} expects a {self.num_classes}-way head but the model "
                f"returned {logits.shape[-1]} logits; load a model whose head matches the "
                f"dataset's label space"
            )
        if self.rule == "full":
            return logits
        gather = torch.as_tensor(self._gather, device=logits.device)  # (K, W)
        picked = logits[..., gather]  # (B, K, W)
        return picked[..., 0] if gather.shape[1] == 1 else picked.amax(dim=-1)

    def targets(
        self, labels: Sequence[int], class_names: Sequence[str] | None = None
    ) -> np.ndarray:
        """Target index k of each row; raises if a row falls outside the protocol."""
        values = class_names if self.target_key == "class_name" else labels
        if values is None:
            raise DatasetError(f"protocol {self.rule!r} needs the rows' class_name column")
        out = np.fromiter(
            (self.target_index.get(v, -1) for v in values), dtype=np.int64, count=len(values)
        )
        if (out < 0).any():
            bad = sorted({values[i] for i in np.flatnonzero(out < 0)[:5]})
            raise DatasetError(
                f"rows with {self.target_key} {bad} are outside the {self.rule!r} label protocol "
                f"({self.num_targets} target classes); the dataset and its registry entry disagree"
            )
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"rule": self.rule, "num_classes": self.num_classes, "num_targets": self.num_targets}


def full_protocol(space: LabelSpace) -> LabelProtocol:
    n = space.num_classes
    return LabelProtocol(
        "full", n, tuple((i,) for i in range(n)), space.wnids, "label", {i: i for i in range(n)}
    )


def subset_protocol(space: LabelSpace, wnids: Sequence[str]) -> LabelProtocol:
    idx = space.indices(list(wnids))
    return LabelProtocol(
        "subset",
        space.num_classes,
        tuple((i,) for i in idx),
        tuple(wnids),
        "label",
        {c: k for k, c in enumerate(idx)},
    )


def _lemma_index(space: LabelSpace) -> dict[str, int]:
    return {lemma: i for i, lemma in enumerate(space.lemmas)}


def objectnet_protocol(
    space: LabelSpace,
    mapping: Mapping[str, str],
    rule: str,
    *,
    order: Sequence[str] | None = None,
) -> LabelProtocol:
    """ObjectNet-style protocol from ``{objectnet class: "lemma; lemma; ..."}``.

    The mapping strings name full lemma strings of `space` separated by ``"; "`` (the format
    of ``objectnet_to_imagenet_1k.json``). Unknown names raise: a silent skip would
    mislabel images. `order` is the reference code's walk order, used by ``paper-compat``
    only (see `data.paper_compat.paper_compat_ids`).
    """
    if rule not in OBJECTNET_RULES:
        raise ConfigError(f"unknown ObjectNet rule {rule!r}; choose one of {list(OBJECTNET_RULES)}")
    if rule == "paper-compat":
        return _paper_compat(space, mapping, order)
    classes = sorted(mapping)
    lemmas = _lemma_index(space)
    groups = []
    for name in classes:
        parts = [p.strip() for p in mapping[name].split("; ") if p.strip()]
        unknown = [p for p in parts if p not in lemmas]
        if unknown or not parts:
            raise DatasetError(
                f"ObjectNet class {name!r} maps to {unknown or parts!r}, which are not lemma strings "
                f"of label space {space.name!r}; fix the mapping file"
            )
        idx = [lemmas[p] for p in parts]
        groups.append(tuple(idx) if rule == "max-over-mapped" else (idx[0],))
    return LabelProtocol(
        f"objectnet/{rule}",
        space.num_classes,
        tuple(groups),
        tuple(classes),
        "class_name",
        {c: k for k, c in enumerate(classes)},
    )


def _paper_compat(
    space: LabelSpace, mapping: Mapping[str, str], order: Sequence[str] | None
) -> LabelProtocol:
    """The reference code's matching (a known defect); classes sharing an id are one target."""
    from .paper_compat import paper_compat_ids

    ids = paper_compat_ids(space, mapping, order)
    unique = sorted(set(ids.values()))
    pos = {c: k for k, c in enumerate(unique)}
    return LabelProtocol(
        "objectnet/paper-compat",
        space.num_classes,
        tuple((c,) for c in unique),
        tuple(space.wnids[c] for c in unique),
        "class_name",
        {name: pos[c] for name, c in ids.items()},
    )
