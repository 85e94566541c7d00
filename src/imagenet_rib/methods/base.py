"""The shared contract of every fine-tuning method.

A `Method` turns a pretrained `LoadedModel` into a trainable module (`prepare`: freezing,
peft wrapping, a prompter), may add `Regulariser`s to the task loss, and turns the trained
module back into a plain classifier (`finalize`: merge LoRA, keep the prompt in a wrapper)
that `evaluation.evaluate` and the run folder use. A wrapper `finalize` returns saves and
reloads through the method's own `save_extra` / `load_extra`. Its options are a validated
`Config` dataclass. `kind` says how the benchmark obtains the method's models:

- ``"train"``: one fine-tuning run (possibly several `stages`, e.g. LP-FT);
- ``"derived"``: computed from finished runs without training (WiSE-FT, soups); `sources`
  names the runs it needs;
- ``"baseline"``: the pretrained model itself (A_pre), a baseline run of the plan.

A regulariser's penalty R is added to the cross-entropy of each optimizer step:

    L = CE(reduce(f_theta(x)), y) + sum_r R_r

Either R is per-sample (LwF: a (B,) vector, averaged over the optimizer step's samples like
the CE), or per-step (EWC, L2-SP: a scalar function of the parameters, counted once per
optimizer step whatever the gradient accumulation). Regularisers are set up from the
PRETRAINED prepared module before any weight changes (and before a resumed checkpoint is
loaded), so they combine freely (``"ewc+lwf"``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from ..config import ConfigBase
from ..errors import ConfigError

if TYPE_CHECKING:
    import torch

    from ..data.splits import SplitConfig
    from ..models import LoadedModel

KINDS = ("train", "derived", "baseline")


@dataclass(frozen=True)
class MethodConfig(ConfigBase):
    """Config of a method without options."""


@dataclass
class SetupContext:
    """What a regulariser may need besides the module (the Fisher's data, the seed).

    `sources`: dataset -> source (the suite's and ``--data``'s); `mixed_precision`: the
    training precision (``TrainConfig.mixed_precision``); `num_workers`: loader workers.
    """

    loaded: LoadedModel
    split: SplitConfig
    seed: int = 0
    sources: dict[str, str] = field(default_factory=dict)
    mixed_precision: str = "no"
    num_workers: int = 0


class Regulariser:
    """A penalty on the trainable module, set up from the pretrained module before training.

    Attributes:
        name: log key (``loss/<name>``).
        per_sample: True if `penalty` returns a (B,) vector averaged over the step's samples;
            False if it returns a scalar counted once per optimizer step.
    """

    name: str = "penalty"
    per_sample: bool = False

    def setup(self, model: torch.nn.Module) -> None:
        """Snapshot what the penalty needs from the pretrained `model` (before training)."""

    def penalty(
        self,
        model: torch.nn.Module,
        pixel_values: torch.Tensor,
        logits: torch.Tensor,
        reduce: Callable[[torch.Tensor], torch.Tensor],
    ) -> torch.Tensor:
        """Penalty for one micro-batch; `logits` are the student's reduced logits (B, K)."""
        raise NotImplementedError


class Anchor(Regulariser):
    """A weighted squared distance to the pretrained trainable parameters theta0:

        R(theta) = lam * sum_k w_k (theta_k - theta0_k)^2

    with w_k = `weight(name)` (None: 1). L2-SP uses w = 1; EWC the diagonal Fisher.
    theta0 is snapshot at `setup`; theta0 and w are flattened once into (P,) vectors.
    """

    def __init__(self, lam: float) -> None:
        self.lam = lam
        self.theta0: dict = {}
        self._flat_key: list[str] | None = None

    def setup(self, model) -> None:
        self._flat_key = None
        self.theta0 = {
            n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad
        }

    def weight(self, name: str):
        """w_k of parameter `name` (a tensor of its shape), or None for 1."""
        return None

    def penalty(self, model, pixel_values, logits, reduce):
        import torch

        names, params = [], []
        for name, p in model.named_parameters():
            if name in self.theta0:
                names.append(name)
                params.append(p)
        if not params:
            return logits.new_zeros((), dtype=torch.float32)
        if self._flat_key != names:  # flatten theta0 / weights once: (P,)
            self._flat_key = names
            self._ref = torch.cat([self.theta0[n].float().flatten() for n in names])
            ws = [self.weight(n) for n in names]
            self._w = (
                None
                if all(w is None for w in ws)
                else torch.cat(
                    [
                        (
                            torch.ones_like(self.theta0[n], dtype=torch.float32)
                            if w is None
                            else w.float()
                        ).flatten()
                        for n, w in zip(names, ws)
                    ]
                )
            )
        sq = (torch.cat([p.float().flatten() for p in params]) - self._ref).pow(2)  # (P,)
        return self.lam * (sq.sum() if self._w is None else (self._w * sq).sum())


@dataclass(frozen=True)
class Stage:
    """One training stage: `method.prepare` with `config`, trained for `epochs` (None: TrainConfig's)."""

    name: str
    method: Method
    config: MethodConfig
    epochs: float | None = None


class Method:
    """Base class; subclasses set `name`, `kind`, `Config`, a one-line `description` (shown by
    ``rib methods`` and ``rib finetune --help``) and override what they change."""

    name: ClassVar[str] = ""
    kind: ClassVar[str] = "train"
    Config: ClassVar[type[MethodConfig]] = MethodConfig
    description: ClassVar[str] = ""

    def make_config(self, data: MethodConfig | dict[str, Any] | None = None) -> MethodConfig:
        """A validated config from a dict (unknown keys raise) or an existing config."""
        if isinstance(data, self.Config):
            return data
        if data is not None and not isinstance(data, dict):
            raise ConfigError(
                f"method {self.name!r} expects a dict of options, got {type(data).__name__}"
            )
        return self.Config.from_dict(dict(data or {}))

    def prepare(self, loaded: LoadedModel, config: MethodConfig) -> torch.nn.Module:
        """The module to train, with `requires_grad` set on exactly the trained parameters."""
        set_trainable(loaded.model, lambda name: True)
        return loaded.model

    def regularisers(
        self, loaded: LoadedModel, config: MethodConfig, context: SetupContext
    ) -> list[Regulariser]:
        return []

    def finalize(self, module: torch.nn.Module, config: MethodConfig) -> torch.nn.Module:
        """A plain module giving C-way logits (what is evaluated and saved)."""
        return module

    def stages(self, config: MethodConfig) -> list[Stage]:
        return [Stage(self.name, self, config)]

    def sources(self, config: MethodConfig) -> tuple[str, ...]:
        """Derived methods: the names of the runs `derive` uses (in the benchmark, labels of
        training entries of the same config), e.g. ``("ft",)``; () for the other kinds."""
        return ()

    def derive(
        self, pretrained: LoadedModel, runs: list[torch.nn.Module], config: MethodConfig
    ) -> list[tuple[str, torch.nn.Module]]:
        raise ConfigError(
            f"method {self.name!r} is of kind {self.kind!r}: it has no derived models"
        )

    def save_extra(
        self, module: torch.nn.Module, folder: Path
    ) -> tuple[torch.nn.Module, dict[str, Any]] | None:
        """If `module` is a wrapper this method's `finalize` returns: write the wrapper's own
        weights into `folder` and return (the wrapped classifier, JSON-able metadata that
        `load_extra` needs); else None. `weights.save_module` asks every method."""
        return None

    def load_extra(
        self, module: torch.nn.Module, folder: Path, meta: dict[str, Any]
    ) -> torch.nn.Module:
        """Rebuild the wrapper `save_extra` saved around the reloaded classifier `module`."""
        raise ConfigError(
            f"method {self.name!r} saves no wrapper, but {folder} records one of it; the run "
            f"folder was written by another version of the method"
        )


# ---------------------------------------------------------------- parameter selection helpers


def set_trainable(module: torch.nn.Module, keep: Callable[[str], bool]) -> list[str]:
    """Set ``requires_grad = keep(name)`` on every parameter; return the trainable names."""
    names = []
    for name, p in module.named_parameters():
        p.requires_grad_(bool(keep(name)))
        if p.requires_grad:
            names.append(name)
    return names


def head_prefix(module: torch.nn.Module) -> str:
    """Name of the classification head: the last `nn.Linear` registered (HF, timm, torchvision)."""
    import torch

    last = None
    for name, sub in module.named_modules():
        if isinstance(sub, torch.nn.Linear):
            last = name
    if last is None:
        raise ConfigError(f"{type(module).__name__} has no nn.Linear classification head")
    return last


_TOKENS = re.compile(r"(^|\.)(cls_token|position_embeddings|pos_embed)$")
_FINAL_NORM = re.compile(r"(^|\.)(layernorm|norm|fc_norm)\.(weight|bias)$")


def is_head(name: str, head: str) -> bool:
    return name.startswith(head + ".")


def is_paper_extra(name: str) -> bool:
    """The reference's "HeadOnly" also trains the cls token, position embedding and final norm."""
    if _TOKENS.search(name):
        return True
    # the FINAL norm only: not inside a numbered block, not an embedding / pre-norm
    return bool(_FINAL_NORM.search(name)) and not any(part.isdigit() for part in name.split("."))
