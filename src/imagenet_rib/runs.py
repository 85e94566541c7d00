"""Runs and their records: `RunSpec`, what identifies a run, and `make_records`.

Below both the benchmark runner (`plan` / `sweep`) and ``rib evaluate``, so a baseline
evaluated on its own gets the very run id `rib run` plans for it (`baseline_spec`) and the
same record fields. A run id hashes everything that defines the run's results: the method
and its options, the fine-tuning set and seed, the suite's datasets, split and ObjectNet
rule, the pretrained weights' revision (`model_revision`) and the data version
(`data_version`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import __version__
from .data.splits import SplitConfig
from .determinism import compute_provenance
from .records import ResultRecord, run_id
from .state import revision_of
from .suites import SuiteConfig

if TYPE_CHECKING:
    from .evaluation import DatasetEval


@dataclass(frozen=True, kw_only=True)
class RunSpec:
    """One run of the plan; `run_id` hashes every field that defines its results. A
    baseline (``kind="baseline"``, method ``pretrained``) has no training fields."""

    run_id: str
    kind: str
    model: str
    method: str
    label: str
    method_config: dict[str, Any] = field(default_factory=dict)
    train: dict[str, Any] = field(default_factory=dict)
    finetune_dataset: str = ""
    seed: int = 0
    depends_on: tuple[str, ...] = ()
    max_train_samples: int | None = None

    def to_dict(self) -> dict[str, Any]:
        import dataclasses

        return dataclasses.asdict(self)

    @property
    def folder_name(self) -> str:
        """A readable, unique run-folder name: ``<model>-<label>-<dataset>-s<seed>-<id[:8]>``
        (a baseline: ``<model>-pretrained-<id[:8]>``)."""
        import re

        parts = [Path(self.model).name, self.label]
        if self.kind != "baseline":
            parts += [self.finetune_dataset, f"s{self.seed}"]
        slug = re.sub(r"[^A-Za-z0-9.+_-]+", "-", "-".join(parts)).strip("-.")
        return f"{slug}-{self.run_id[:8]}"

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunSpec:
        return cls(**{**data, "depends_on": tuple(data.get("depends_on", ()))})


_REVISIONS: dict[tuple[str, Any], str] = {}


def _fingerprint(name: str) -> Any:
    """Sizes and mtimes of a local model folder's files (None for registry names / Hub ids)."""
    path = Path(name)
    if not path.is_dir():
        return None
    return tuple(
        (p.name, p.stat().st_size, p.stat().st_mtime_ns)
        for p in sorted(path.iterdir())
        if p.is_file()
    )


def model_revision(name: str, loaded: Any = None) -> str:
    """What identifies the weights model `name` resolves to now (`revision_of`); loads the
    model unless `loaded` is given (cached per process, and per file state of a folder)."""
    key = (name, _fingerprint(name))
    if key not in _REVISIONS:
        if loaded is None:
            from .models import load_model

            loaded = load_model(name)
        _REVISIONS[key] = revision_of(loaded)
    return _REVISIONS[key]


def data_version(suite: SuiteConfig) -> dict[str, Any]:
    """What identifies the suite's data besides its dataset names: the Mini-RIB build version
    and the definitions of suite-defined datasets (without their machine-local sources)."""
    from .data.mini import MINI_VERSION
    from .data.specs import get_dataset_spec

    out: dict[str, Any] = {}
    if any(get_dataset_spec(d).layout == "mini" for d in suite.eval_datasets):
        out["mini-rib"] = MINI_VERSION
    if suite.define:
        out["define"] = {
            name: {k: v for k, v in entry.items() if k != "source"}
            for name, entry in sorted(suite.define.items())
        }
    return out


def common_fields(
    suite: SuiteConfig, split: SplitConfig, model: str, revision: str
) -> dict[str, Any]:
    """The fields every run id of `model` on `suite` hashes (its baseline's included)."""
    return {
        "model": model,
        "revision": revision,
        "suite": suite.name,
        "data": data_version(suite),
        "split": split.to_dict(),
        "rule": suite.objectnet_rule,
        "datasets": list(suite.eval_datasets),
    }


def baseline_spec(model: str, suite: SuiteConfig, split: SplitConfig, revision: str) -> RunSpec:
    """The baseline run (pretrained model `model` at `revision` evaluated on `suite`)."""
    rid = run_id(method="pretrained", **common_fields(suite, split, model, revision))
    return RunSpec(
        run_id=rid, kind="baseline", model=model, method="pretrained", label="pretrained"
    )


def make_records(
    suite: SuiteConfig,
    split: SplitConfig,
    spec: RunSpec,
    revision: str,
    method_config: dict[str, Any],
    variant: str,
    evals: dict[str, DatasetEval],
    provenance: dict[str, Any] | None = None,
) -> list[ResultRecord]:
    """One `ResultRecord` per evaluated dataset of one model (variant) of run `spec`;
    `provenance` is how the evaluation ran (`EvalConfig.provenance`), to which every record
    adds what else decides its float bits (`compute_provenance`: torch version and thread
    count, CPU capability; the accelerator's name as ``device_name``)."""
    now = datetime.now(timezone.utc).isoformat(timespec="seconds")
    cfg = json.dumps(method_config, sort_keys=True, default=str)
    machine = compute_provenance()
    machine["device_name"] = machine.pop("device")
    prov = json.dumps({**machine, **(provenance or {})}, sort_keys=True, default=str)
    return [
        ResultRecord(
            run_id=spec.run_id,
            model=spec.model,
            model_revision=revision,
            method=spec.label,
            method_config=cfg,
            finetune_dataset=spec.finetune_dataset,
            variant=variant,
            eval_dataset=ev.dataset,
            eval_part=ev.part,
            suite=suite.name,
            label_space=suite.label_space,
            protocol=ev.protocol,
            split_rule=split.rule,
            split_seed=split.seed,
            test_fraction=split.test_fraction,
            seed=spec.seed,
            accuracy=float(ev.accuracy),
            num_images=int(ev.num_images),
            per_group=json.dumps(ev.per_group, sort_keys=True),
            library_version=__version__,
            time=now,
            provenance=prov,
        )
        for ev in evals.values()
    ]
