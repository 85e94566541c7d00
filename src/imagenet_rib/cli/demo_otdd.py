"""The OTDD part of `rib demo`: does the dataset distance predict forgetting?

For every pretrained model m and fine-tuning set D_i: OTDD(R, D_i) between the pretraining
reference R (the suite's reference, e.g. mini-val) and D_i, both embedded with m's OWN
pre-logit features (as the ImageNet-RIB paper's code collects them), against m's
pretraining-set degradation A_m(i->R) - A_pre,m(R) after fine-tuning on D_i with `ft` (the
seed mean). R's test part and D_i's train part (the data fine-tuned on) are used, each a
seeded subsample of at most `per_class` images per class, so the demo stays within minutes.
Pearson r and Spearman rho come with Fisher-z intervals (`correlation.correlation_interval`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

#: images per class of each side of an OTDD (a 10-class set: at most 400 per side)
OTDD_PER_CLASS = 40
#: fine-tuning sets a correlation needs (with 2 points r = +-1 by construction)
MIN_POINTS = 3


@dataclass
class OTDDSection:
    """What the demo prints and the report draws: ``distances[model][D_i]`` and
    ``degradations[model][D_i]``, the correlations per model and pooled (``"all"``)."""

    reference: str
    per_class: int
    distances: dict[str, dict[str, float]]
    degradations: dict[str, dict[str, float]]
    correlations: dict[str, Any]  # model or "all" -> correlation.CorrelationInterval

    def to_dict(self) -> dict[str, Any]:
        from ..formatting import json_safe

        return json_safe(
            {
                "reference": self.reference,
                "per_class": self.per_class,
                "distances": self.distances,
                "degradations": self.degradations,
                "correlations": {k: v.to_dict() for k, v in self.correlations.items()},
            }
        )

    def lines(self) -> list[str]:
        from ..formatting import fmt, fmt_interval, markdown_table

        models = list(self.distances)
        sets = list(dict.fromkeys(i for m in models for i in self.distances[m]))
        head = ["fine-tuning set"]
        for m in models:
            head += [f"OTDD {m}", f"ref. degradation {m}"]
        rows = []
        for i in sets:
            row = [i]
            for m in models:
                row += [
                    fmt(self.distances[m].get(i, math.nan)),
                    fmt(self.degradations[m][i], signed=True),
                ]
            rows.append(row)
        ref = self.reference
        out = [
            f"OTDD({ref} test part, D_i train part) with each model's own pre-logit features, "
            f"at most {self.per_class} images per class per side (seeded), Gaussian label "
            f"distances, exact OT; ref. degradation = A(i -> {ref}) - A_pre({ref}) after ft "
            "(seed mean): negative, so a negative r means the more distant sets cost more",
            "",
            markdown_table(head, rows),
            "",
        ]
        if not self.correlations:
            out.append(f"no correlation: it needs >= {MIN_POINTS} fine-tuning sets")
        for name, c in self.correlations.items():
            who = "both models pooled" if name == "all" else name
            out.append(
                f"{who}: Pearson r = {fmt(c.pearson.estimate, 3, signed=True)} "
                f"{fmt_interval(c.pearson.low, c.pearson.high, 3)}, Spearman rho = "
                f"{fmt(c.spearman.estimate, 3, signed=True)} "
                f"{fmt_interval(c.spearman.low, c.spearman.high, 3)} (n = {c.n}; "
                f"{100 * c.confidence:g} % Fisher-z intervals)"
            )
        return out


def otdd_distances(
    suite: Any, model: str, sets: Sequence[str], per_class: int, split: Any
) -> dict[str, float]:
    """``{D_i: OTDD(reference test part, D_i train part)}`` with `model`'s own features, exact
    OT (`otdd.otdd_vector`: the road ``rib otdd`` takes)."""
    from ..otdd import OTDDConfig, otdd_vector

    vector = otdd_vector(
        suite, [model], max_per_class=per_class, part="train", reference_part="test",
        split=split, config=OTDDConfig(outer="exact", seed=split.seed), datasets=sets,
        seed=split.seed,
    )  # fmt: skip
    return {e.dataset: float(e.result.distance) for e in vector.entries}


def otdd_section(
    table: Any, config: Any, per_class: int = OTDD_PER_CLASS, method: str = "ft"
) -> OTDDSection | None:
    """OTDD against degradation for every model with a complete `method` result (None when
    the suite has no reference or no such result)."""
    from ..correlation import correlation_interval
    from ..determinism import torch_threads

    suite = table.suite
    chosen = {r.model: r for r in table if r.method == method and not r.variant and r.complete}
    if suite.reference is None or not chosen:
        return None
    split = config.split_config
    sets: Sequence[str] = table.finetune_sets
    distances, degradations = {}, {}
    with torch_threads(1):  # the same features (and distances) whatever the core count
        for model, r in chosen.items():
            distances[model] = otdd_distances(suite, model, sets, per_class, split)
            degradations[model] = {i: float(r.scores.reference_degradation[i]) for i in sets}
    corr: dict[str, Any] = {}
    if len(sets) < MIN_POINTS:
        return OTDDSection(suite.reference, per_class, distances, degradations, corr)
    for m in chosen:
        corr[m] = correlation_interval(
            [distances[m][i] for i in sets], [degradations[m][i] for i in sets], table.confidence
        )
    if len(chosen) > 1:
        xs = [distances[m][i] for m in chosen for i in sets]
        ys = [degradations[m][i] for m in chosen for i in sets]
        corr["all"] = correlation_interval(xs, ys, table.confidence)
    return OTDDSection(suite.reference, per_class, distances, degradations, corr)
