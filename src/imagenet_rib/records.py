"""`ResultRecord`: one measured accuracy with its full provenance (the unit of the results store).

Every number the library reports is a row of this shape, so the store, the reports, the
model cards and the Hub leaderboard all read the same columns.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from typing import Any

#: The file of a run folder that records its run id (written by `sweep`, read by `rib card`).
RUN_ID_FILE = "rib_run.json"


def run_id(**spec: Any) -> str:
    """Stable id of a run from its defining fields (model, method, config, dataset, seed, ...)."""
    text = json.dumps(spec, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class ResultRecord:
    """One accuracy of one model (pretrained or fine-tuned) on one evaluation dataset part.

    Key (unique in a store): (run_id, variant, eval_dataset, eval_part).

    Attributes:
        run_id: id of the run that produced the evaluated weights (`run_id()` of its spec).
        model: pretrained model name; model_revision: its weights revision / hash.
        method: fine-tuning method (``"pretrained"`` for the baseline A_pre).
        method_config: JSON of the method's resolved config (and training overrides).
        finetune_dataset: D_i, or ``""`` for the pretrained baseline.
        variant: a sub-model of the run, e.g. ``"alpha=0.5"`` in a WiSE-FT sweep, else ``""``.
        eval_dataset, eval_part: D_j and ``"test"`` / ``"train"``.
        suite: suite name; label_space: pretraining label space.
        protocol: label protocol rule (``"full"``, ``"subset"``, ``"objectnet/max-over-mapped"``).
        split_rule, split_seed, test_fraction: the split (``holdout`` or paper mode ``none``).
        seed: fine-tuning seed.
        accuracy: top-1 percent; num_images: rows evaluated.
        per_group: JSON of per-(corruption/severity) accuracies where applicable.
        library_version, time (ISO 8601 UTC): provenance.
        provenance: JSON of how the evaluation ran (precision, TF32, decoder, device, batch
            size: `EvalConfig.provenance`); ``"{}"`` for records of stores older than it.
    """

    run_id: str
    model: str
    model_revision: str
    method: str
    method_config: str
    finetune_dataset: str
    variant: str
    eval_dataset: str
    eval_part: str
    suite: str
    label_space: str
    protocol: str
    split_rule: str
    split_seed: int
    test_fraction: float
    seed: int
    accuracy: float
    num_images: int
    per_group: str
    library_version: str
    time: str
    provenance: str = "{}"

    @property
    def key(self) -> tuple[str, str, str, str]:
        return (self.run_id, self.variant, self.eval_dataset, self.eval_part)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ResultRecord:
        """From `to_dict`'s output; a field with a default may be absent (older exports)."""
        fields = dataclasses.fields(cls)
        missing = [
            f.name for f in fields if f.name not in data and f.default is dataclasses.MISSING
        ]
        if missing:
            raise KeyError(f"record lacks field(s) {missing}")
        return cls(**{f.name: data[f.name] for f in fields if f.name in data})

    @classmethod
    def columns(cls) -> list[str]:
        return [f.name for f in dataclasses.fields(cls)]
