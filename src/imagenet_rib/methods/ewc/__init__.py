"""``ewc``: Elastic Weight Consolidation (Kirkpatrick et al., PNAS 2017):

    R(theta) = (lambda / 2) * sum_k F_k (theta_k - theta0_k)^2

with F the diagonal Fisher of the PRETRAINED model, estimated before fine-tuning on the
pretraining-reference data (see `fisher.py`), read from the source the suite (or ``--data``)
gives for that dataset. The reference code's "ewc" has no Fisher;
that is ``l2sp``.
"""

from __future__ import annotations

from ...errors import ConfigError
from .. import register_method
from ..base import Anchor, Method
from .config import EWCConfig


class EWCRegulariser(Anchor):
    name = "ewc"

    def __init__(self, lam: float, fisher_fn) -> None:
        super().__init__(lam / 2.0)
        self._fisher_fn = fisher_fn
        self.fisher: dict = {}

    def setup(self, model) -> None:
        super().setup(model)
        self.fisher = self._fisher_fn(model)

    def weight(self, name: str):
        return self.fisher.get(name)


def fisher_dataset(config: EWCConfig, label_space: str) -> str:
    """The Fisher's data: the option, else the built-in suite's pretraining reference."""
    from ...suites import builtin_reference

    dataset = config.fisher_dataset or builtin_reference(label_space)
    if dataset is None:
        raise ConfigError(
            f"no default Fisher dataset for label space {label_space!r}; set "
            f"fisher_dataset to a pretraining-reference dataset"
        )
    return dataset


@register_method
class EWC(Method):
    name = "ewc"
    Config = EWCConfig
    description = "true EWC: Fisher-weighted pull to the pretrained weights"

    def regularisers(self, loaded, config: EWCConfig, context):
        from .fisher import cached_fisher

        dataset = fisher_dataset(config, loaded.label_space)

        def fisher_fn(model):
            return cached_fisher(
                model,
                revision=loaded.revision,
                dataset=dataset,
                samples=config.fisher_samples,
                kind=config.fisher,
                split=context.split,
                transform=loaded.transform,
                seed=context.seed,
                source=context.sources.get(dataset),
                mixed_precision=context.mixed_precision,
                num_workers=context.num_workers,
            )

        return [EWCRegulariser(config.lam, fisher_fn)]
