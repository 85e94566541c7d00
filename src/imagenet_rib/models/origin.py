"""Where an evaluated model comes from, as its result records state it (`ModelOrigin`).

A record of a fine-tuned model names its PRETRAINED model and that model's revision (so it is
scored against the baseline of exactly those weights), its method and fine-tuning set D_i.
`origin_of` reads them:

- from a run folder (``rib_config.json`` of `rib finetune` / `rib run`): base model, its
  revision, method and options, D_i, seed, and the split and label protocol it was trained
  with (evaluation must use the same split, or test images could be training images);
  the run id is the one ``rib_run.json`` records, else a hash of the run's config;
- for any other checkpoint ("foreign": a folder, a Hub id) from what the caller states
  (``rib evaluate --method --finetune-set --base-model``); nothing given: a pretrained model.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError

if TYPE_CHECKING:
    from . import LoadedModel

PRETRAINED = "pretrained"  # scores.PRETRAINED (not imported: scores imports numpy-heavy code)


@dataclass(frozen=True)
class ModelOrigin:
    """What the records of one evaluated model say about it.

    Attributes:
        model, revision: the pretrained model (the records' ``model`` / ``model_revision``):
            the model itself for a baseline, the base of a fine-tuned checkpoint (revision
            None: not stated for a foreign checkpoint; `with_revision` sets it from the
            baseline).
        method: ``"pretrained"`` or the fine-tuning method (the records' method label).
        finetune_set: D_i (``""`` for a baseline).
        seed: the fine-tuning seed.
        method_config: method options and training config, as recorded.
        run_id: id of the records' run ("" for a baseline: the suite and split decide it).
        split, protocol: the split / label protocol the model was fine-tuned with (None:
            unknown, a foreign checkpoint).
        run_dir: the run folder it was read from, if any.
    """

    model: str
    revision: str | None
    method: str = PRETRAINED
    finetune_set: str = ""
    seed: int = 0
    method_config: dict[str, Any] = field(default_factory=dict)
    run_id: str = ""
    split: dict[str, Any] | None = None
    protocol: dict[str, Any] | None = None
    run_dir: str | None = None

    @property
    def pretrained(self) -> bool:
        return self.method == PRETRAINED

    def with_revision(self, revision: str) -> ModelOrigin:
        import dataclasses

        return dataclasses.replace(self, revision=revision)

    def to_dict(self) -> dict[str, Any]:
        import dataclasses

        return dataclasses.asdict(self)


def read_run_config(run_dir: Path) -> dict[str, Any]:
    path = run_dir / "rib_config.json"
    if not path.is_file():
        raise ConfigError(
            f"run folder {run_dir} has no rib_config.json, so its base model, method and "
            "fine-tuning set are unknown; pass them with --base-model, --method, --finetune-set"
        )
    from ..run_folder import read_config

    return read_config(run_dir)


def _run_origin(run_dir: Path, stated: dict[str, Any]) -> ModelOrigin:
    from ..records import RUN_ID_FILE, run_id

    cfg = read_run_config(run_dir)
    base = cfg.get("model") or {}
    found = {
        "method": cfg.get("method"),
        "finetune_set": cfg.get("dataset"),
        "base_model": base.get("name"),
        "base_revision": base.get("revision"),
        "seed": (cfg.get("train") or {}).get("seed", 0),
    }
    wrong = [
        f"--{k.replace('_', '-')} {v!r} (the folder says {found[k]!r})"
        for k, v in stated.items()
        if v is not None and v != found[k]
    ]
    if wrong:
        raise ConfigError(
            f"{run_dir} is a run folder and records its own origin; {', '.join(wrong)} "
            "disagree with it: drop those options"
        )
    ident = {k: v for k, v in cfg.items() if k != "provenance"}
    recorded = None
    if (run_dir / RUN_ID_FILE).is_file():
        recorded = json.loads((run_dir / RUN_ID_FILE).read_text()).get("run_id")
    return ModelOrigin(
        model=str(found["base_model"]),
        revision=str(found["base_revision"] or ""),
        method=str(found["method"]),
        finetune_set=str(found["finetune_set"]),
        seed=int(found["seed"]),
        method_config={
            "method": cfg.get("method"),
            "config": cfg.get("method_config"),
            "train": cfg.get("train"),
            "max_train_samples": cfg.get("max_train_samples"),
        },
        run_id=str(recorded or run_id(**ident)),
        split=cfg.get("split"),
        protocol=cfg.get("protocol"),
        run_dir=str(run_dir),
    )


def origin_of(
    loaded: LoadedModel,
    *,
    method: str | None = None,
    finetune_set: str | None = None,
    base_model: str | None = None,
    base_revision: str | None = None,
    seed: int | None = None,
) -> ModelOrigin:
    """The origin of `loaded` (see the module docstring); the keyword arguments state it for
    a foreign checkpoint and, for a run folder, must agree with what the folder records."""
    from ..records import run_id

    stated = {
        "method": method,
        "finetune_set": finetune_set,
        "base_model": base_model,
        "base_revision": base_revision,
        "seed": seed,
    }
    run_dir = loaded.info.get("run_dir")
    if run_dir:
        return _run_origin(Path(run_dir), stated)
    given = {k: v for k, v in stated.items() if v is not None}
    if not given or set(given) == {"seed"}:
        return ModelOrigin(model=loaded.name, revision=loaded.revision)
    lacking = [k for k in ("method", "finetune_set", "base_model") if not given.get(k)]
    if lacking:
        flags = ", ".join("--" + k.replace("_", "-") for k in lacking)
        raise ConfigError(
            f"{loaded.name!r} is not a run folder, so its origin must be stated in full: "
            f"give {', '.join(lacking)} too (`rib evaluate`: {flags}): the method label, the "
            "fine-tuning set D_i and the pretrained model it started from"
        )
    if method == PRETRAINED:
        raise ConfigError(
            f"--method {PRETRAINED!r} names the baseline; a fine-tuned checkpoint needs the "
            "label of its fine-tuning method (e.g. ft)"
        )
    return ModelOrigin(
        model=str(base_model),
        revision=base_revision,
        method=str(method),
        finetune_set=str(finetune_set),
        seed=int(seed or 0),
        method_config={"method": method, "checkpoint": loaded.name},
        run_id=run_id(
            checkpoint=loaded.name,
            checkpoint_revision=loaded.revision,
            method=method,
            finetune_set=finetune_set,
            base_model=base_model,
            seed=int(seed or 0),
        ),
    )
