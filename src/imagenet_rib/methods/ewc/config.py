"""Options of EWC."""

from __future__ import annotations

from dataclasses import dataclass

from ...config import check_choice, check_range, field
from ..base import MethodConfig

FISHER_KINDS = ("sampled", "empirical")


@dataclass(frozen=True)
class EWCConfig(MethodConfig):
    lam: float = field(
        100.0,
        help="lambda of (lambda/2) sum_k F_k (theta_k - theta0_k)^2 (no reference "
        "value: the reference's 'ewc' is L2-SP; sweep it)",
    )
    fisher_dataset: str | None = field(
        None,
        help="pretraining-reference dataset for the Fisher (default: the reference of the "
        "built-in suite over the model's label space: imagenet-val, or mini-val)",
    )
    fisher_samples: int = field(1000, help="number of images the Fisher is averaged over (cap)")
    fisher: str = field(
        "sampled", help="'sampled': y ~ p(y|x) (true Fisher); 'empirical': the true labels"
    )

    def __post_init__(self) -> None:
        check_range("EWCConfig", "lam", self.lam, 0)
        check_range("EWCConfig", "fisher_samples", self.fisher_samples, 1)
        check_choice("EWCConfig", "fisher", self.fisher, FISHER_KINDS)
