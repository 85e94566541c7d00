"""Evaluate a model on datasets under their label protocol.

For one dataset part with targets t_n and reduced logits z'_n (see `data/protocol.py`):

    correct_n = [argmax_k z'_{n,k} == t_n],    accuracy = 100 * mean_n correct_n

except ImageNet-C-style datasets, whose accuracy is the mean over their (corruption,
severity) sets (equal to the row mean when every set has the same images). Per-image
correctness is kept for bootstrap confidence intervals.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import torch

    from .data.loading import SplitPart
    from .transforms import ImageTransform


@dataclass
class DatasetEval:
    """Accuracy of one model on one dataset part."""

    dataset: str
    part: str
    protocol: str
    accuracy: float  # percent
    num_images: int
    correct: np.ndarray = field(repr=False)  # (N,) bool
    per_group: dict[str, float] = field(default_factory=dict)  # e.g. "fog/3" -> accuracy

    def to_dict(self, with_correct: bool = False) -> dict[str, Any]:
        out = {
            "dataset": self.dataset,
            "part": self.part,
            "protocol": self.protocol,
            "accuracy": self.accuracy,
            "num_images": self.num_images,
            "per_group": self.per_group,
        }
        if with_correct:
            out["correct"] = self.correct.astype(int).tolist()
        return out


def predict(
    models: Sequence[torch.nn.Module],
    pixels: np.ndarray,
    transform: ImageTransform,
    reduce,
    *,
    batch_size: int = 512,
    device: str | torch.device | None = None,
) -> list[np.ndarray]:
    """Reduced-logit argmax of each model over `pixels`, in ONE pass over the data.

    Several checkpoints (a WiSE-FT sweep) share each decoded, normalised batch.
    Returns one (N,) int64 prediction array per model.
    """
    import torch

    from .models import logits_of

    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    preds: list[list[np.ndarray]] = [[] for _ in models]
    for m in models:
        m.eval().to(device)
    with torch.inference_mode():
        for start in range(0, len(pixels), batch_size):
            x = torch.from_numpy(np.array(pixels[start : start + batch_size])).to(
                device
            )  # copy: memmaps are read-only
            x = transform.normalize(x)
            for k, m in enumerate(models):
                preds[k].append(reduce(logits_of(m, x)).argmax(-1).cpu().numpy())
    return [np.concatenate(p) if p else np.zeros(0, dtype=np.int64) for p in preds]


def score(part: SplitPart, pred: np.ndarray) -> DatasetEval:
    """Accuracy (with the dataset's aggregation) from predictions over `part`."""
    correct = pred == part.targets
    per_group: dict[str, float] = {}
    if part.spec.aggregate == "mean-over-corruption-severity":
        meta = part.dataset.select_columns(["corruption", "severity"]).to_dict()
        keys = np.array([f"{c}/{s}" for c, s in zip(meta["corruption"], meta["severity"])])
        for key in sorted(set(keys)):
            per_group[key] = 100.0 * float(correct[keys == key].mean())
        acc = float(np.mean(list(per_group.values()))) if per_group else float("nan")
    else:
        acc = 100.0 * float(correct.mean()) if len(correct) else float("nan")
    return DatasetEval(
        part.name, part.part, part.protocol.rule, acc, len(correct), correct, per_group
    )


def evaluate_split(
    model: torch.nn.Module,
    transform: ImageTransform,
    part: SplitPart,
    *,
    batch_size: int = 512,
    device: str | None = None,
) -> DatasetEval:
    from .data.tensors import pixels

    (pred,) = predict(
        [model],
        pixels(part.dataset, transform),
        transform,
        part.protocol.reduce,
        batch_size=batch_size,
        device=device,
    )
    return score(part, pred)
