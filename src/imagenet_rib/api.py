"""RIB numbers of checkpoints in one call: `benchmark`, and `evaluate_checkpoints` below it.

`evaluate_checkpoints(models, suite)` evaluates any models (registry names, run folders,
transformers / timm folders, Hub ids, `LoadedModel`s) on a suite's test parts and turns each
into `ResultRecord`s stating where it comes from (`models.origin.ModelOrigin`): a
fine-tuned checkpoint's records name its pretrained model, that model's revision, its method
and fine-tuning set D_i, so that scoring pairs them with the baseline of exactly those
weights. The baseline it needs is evaluated in the same call unless the store already holds
it. ``rib evaluate --store`` is this function.

`benchmark(pretrained, {D_i: checkpoint, ...}, suite=...)` does that and scores the records
with `scoring.score_records`, in the spirit of RobustBench's ``benchmark()``: it returns the
`scoring.ScoreTable` (RI_i, mRI, in-task gains, pretraining-set degradation, with intervals)
that ``rib report`` computes from the same records.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import ConfigError, RIBError

if TYPE_CHECKING:
    import numpy as np

    from .data.splits import SplitConfig
    from .evaluation import DatasetEval, EvalConfig
    from .models import LoadedModel
    from .models.origin import ModelOrigin
    from .records import ResultRecord
    from .results import ResultStore
    from .scoring import ScoreTable
    from .suites import SuiteConfig

logger = logging.getLogger(__name__)

__all__ = ["CheckpointEval", "benchmark", "evaluate_checkpoints"]


@dataclass
class CheckpointEval:
    """One evaluated model: what it is, its accuracies per dataset and its records."""

    loaded: LoadedModel
    origin: ModelOrigin
    evals: dict[str, DatasetEval]
    records: list[ResultRecord]
    added: bool = False  # evaluated only because the records needed its baseline

    def correct(self) -> dict[tuple[str, str, str, str], np.ndarray]:
        return {r.key: self.evals[r.eval_dataset].correct for r in self.records}

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.loaded.name,
            "origin": self.origin.to_dict(),
            "accuracies": {d: ev.accuracy for d, ev in self.evals.items()},
            "added": self.added,
        }


def _suite(suite: SuiteConfig | str, data: Mapping[str, str] | None) -> SuiteConfig:
    from .suites import SuiteConfig, load_suite

    suite = suite if isinstance(suite, SuiteConfig) else load_suite(suite)
    return suite.replace(sources={**suite.sources, **dict(data or {})}) if data else suite


def _check_origin(o: ModelOrigin, name: str, suite: SuiteConfig, split: SplitConfig) -> None:
    if o.pretrained:
        return
    if o.finetune_set not in suite.datasets:
        raise ConfigError(
            f"{name!r} was fine-tuned on {o.finetune_set!r}, which is not a dataset of suite "
            f"{suite.name!r} ({list(suite.datasets)}); pass the suite it belongs to (--suite)"
        )
    if o.split is not None and o.split != split.to_dict():
        raise ConfigError(
            f"{name!r} was fine-tuned with split {o.split} but would be evaluated with "
            f"{split.to_dict()}: its test images could be training images; evaluate with the "
            "run's split (--split-rule / --split-test-fraction / --split-seed)"
        )


def _stored_baseline(store: Any, o: ModelOrigin, suite, split, part) -> str | None:
    """The revision of `o.model` whose baseline `store` (a store or its path) holds, matching
    `o.revision` if known. Every rank reads the same file before any write, so all decide the
    same."""
    from .results import ResultStore

    if store is None:
        return None
    if not isinstance(store, ResultStore):
        if not Path(store).is_file():
            return None
        store = ResultStore(store, read_only=True)
    revisions = {
        r.model_revision
        for r in store.records(suite=suite.name, model=o.model, method="pretrained")
        if (r.split_rule, r.split_seed, r.test_fraction, r.eval_part)
        == (split.rule, split.seed, split.test_fraction, part)
    }
    if o.revision is not None:  # a run folder's recorded revision (even "") decides
        return o.revision if o.revision in revisions else None
    if len(revisions) > 1:
        raise ConfigError(
            f"the store holds baselines of {o.model!r} for several revisions "
            f"{sorted(revisions)}; state the one the checkpoint started from (--base-revision)"
        )
    return next(iter(revisions), None)


def _records(suite, split, o: ModelOrigin, evals, provenance) -> list[ResultRecord]:
    """`ResultRecord`s of one model (the benchmark runner's record maker)."""
    from .runs import RunSpec, baseline_spec, make_records

    if o.pretrained:  # the run id `rib run` plans for this baseline
        spec = baseline_spec(o.model, suite, split, o.revision or "")
        cfg: dict[str, Any] = {"method": "pretrained"}
    else:
        spec = RunSpec(
            run_id=o.run_id,
            kind="train",
            model=o.model,
            method=o.method,
            label=o.method,
            finetune_dataset=o.finetune_set,
            seed=o.seed,
        )
        cfg = o.method_config
    return make_records(suite, split, spec, o.revision or "", cfg, "", evals, provenance)


def evaluate_checkpoints(
    models: Sequence[str | LoadedModel],
    suite: SuiteConfig | str = "mini-rib",
    *,
    origins: Sequence[Mapping[str, Any]] | None = None,
    datasets: Sequence[str] | None = None,
    split: SplitConfig | None = None,
    part: str = "test",
    data: Mapping[str, str] | None = None,
    store: ResultStore | str | Path | None = None,
    baselines: bool = True,
    eval_config: EvalConfig | None = None,
    allow_label_mismatch: bool = False,
    progress: bool = False,
) -> list[CheckpointEval]:
    """Evaluate `models` on `suite` and make their records (see the module docstring).

    Args:
        models: names, folders, Hub ids or `LoadedModel`s.
        origins: per model, what `models.origin.origin_of` takes for a foreign checkpoint
            (``method``, ``finetune_set``, ``base_model``, ``base_revision``, ``seed``); {} or
            None: read it from the run folder, or a pretrained model.
        datasets: the suite datasets to evaluate (default: all and the reference).
        split, part: the split (default `SplitConfig()`) and its part.
        data: ``{dataset: folder or Hub id}`` sources over the suite's.
        store: a `ResultStore` (or its path) the records are added to (main process only).
        baselines: also evaluate the pretrained baseline of every fine-tuned checkpoint the
            store (if any) does not hold yet; ``False`` leaves it to the caller.

    Returns the evaluated models in order, the added baselines last (``added=True``).
    """
    from . import distributed
    from .data.splits import SplitConfig
    from .evaluation import EvalConfig, evaluate
    from .models import LoadedModel, load_model
    from .models.origin import origin_of
    from .results import ResultStore
    from .state import revision_of

    split = split or SplitConfig()
    suite = _suite(suite, data)
    names = list(datasets or suite.eval_datasets)
    unknown = [d for d in names if d not in suite.eval_datasets]
    if unknown:
        raise ConfigError(
            f"dataset(s) {unknown} are not in suite {suite.name!r}; choose from "
            f"{list(suite.eval_datasets)}"
        )
    origins = list(origins or [{}] * len(models))
    if len(origins) != len(models):
        raise ConfigError(f"{len(models)} models but {len(origins)} origins")

    def load(m: str | LoadedModel) -> LoadedModel:
        if isinstance(m, LoadedModel):
            return m
        return load_model(
            m, allow_label_mismatch=allow_label_mismatch, default_label_space=suite.label_space
        )

    parts = [suite.part(d, part, split) for d in names]  # data errors first: they are cheap
    loaded = [load(m) for m in models]
    found = [origin_of(lm, **dict(o)) for lm, o in zip(loaded, origins)]
    # a pretrained model's revision is the one `rib run` plans with (loader's, else a checksum)
    found = [
        o.with_revision(revision_of(lm)) if o.pretrained else o for lm, o in zip(loaded, found)
    ]
    for lm, o in zip(loaded, found):
        _check_origin(o, lm.name, suite, split)
    added = 0
    if baselines:
        have = {(o.model, o.revision) for o in found if o.pretrained}
        by_name = {o.model: o.revision for o in found if o.pretrained}
        for k, o in enumerate(list(found)):
            if o.pretrained:
                continue
            if o.revision is None and o.model in by_name:
                found[k] = o = o.with_revision(by_name[o.model])
            if (o.model, o.revision) in have:
                continue
            stored = _stored_baseline(store, o, suite, split, part)
            if stored is not None:
                found[k] = o.with_revision(stored)
                continue
            logger.info("evaluating %s too: the pretrained baseline of %s", o.model, loaded[k].name)
            try:
                base = load(o.model)
            except RIBError as err:
                raise ConfigError(
                    f"{loaded[k].name!r} was fine-tuned from {o.model!r}: the store holds no "
                    f"baseline of it and it does not load ({err}); evaluate that model into the "
                    "store first (its scores need its accuracies)"
                ) from None
            if o.revision is not None and revision_of(base) != o.revision:
                raise ConfigError(
                    f"{loaded[k].name!r} was fine-tuned from {o.model!r} at revision "
                    f"{o.revision!r}, but {o.model!r} now loads revision {revision_of(base)!r}: its "
                    "baseline cannot be measured; evaluate that revision into the store first"
                )
            found[k] = found[k].with_revision(revision_of(base))
            loaded.append(base)
            found.append(origin_of(base).with_revision(revision_of(base)))
            have.add((base.name, base.revision))
            by_name[base.name] = base.revision
            added += 1
    cfg = eval_config or EvalConfig()
    by_transform: dict[Any, list[int]] = {}  # one pass per distinct transform, shared
    for i, lm in enumerate(loaded):
        by_transform.setdefault(lm.transform, []).append(i)
    evals_of: dict[int, dict] = {}
    for transform, idx in by_transform.items():
        group = evaluate(
            [loaded[i].model for i in idx], transform, parts, config=cfg, progress=progress
        )
        evals_of.update(zip(idx, group))
    provenance = cfg.provenance()
    out = [
        CheckpointEval(
            lm,
            o,
            evals_of[i],
            _records(suite, split, o, evals_of[i], provenance),
            added=i >= len(loaded) - added,
        )
        for i, (lm, o) in enumerate(zip(loaded, found))
    ]
    if store is not None and distributed.is_main_process():  # only the main rank writes
        store = store if isinstance(store, ResultStore) else ResultStore(store)
        for ce in out:
            store.add(ce.records, ce.correct())
            _record_run_id(ce.origin)
    return out


def _record_run_id(o: ModelOrigin) -> None:
    """Write ``rib_run.json`` into a run folder that has none, so `rib card` / `rib push`
    find the records of its run."""
    import json

    from .paths import atomic_write_text
    from .records import RUN_ID_FILE

    if o.run_dir and not (Path(o.run_dir) / RUN_ID_FILE).exists():
        atomic_write_text(Path(o.run_dir) / RUN_ID_FILE, json.dumps({"run_id": o.run_id}))


def benchmark(
    pretrained: str | LoadedModel,
    checkpoints: Mapping[str, str | LoadedModel],
    *,
    suite: SuiteConfig | str = "mini-rib",
    method: str | None = None,
    split: SplitConfig | None = None,
    data: Mapping[str, str] | None = None,
    store: ResultStore | str | Path | None = None,
    n_boot: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
    allow_label_mismatch: bool = False,
    **eval_options: Any,
) -> ScoreTable:
    """The RIB scores of `checkpoints` fine-tuned from `pretrained`, in one call.

    Args:
        pretrained: the pretrained model (name, folder, Hub id or `LoadedModel`); it is
            evaluated too (its accuracies are the baseline A_pre).
        checkpoints: ``{D_i: checkpoint}``, each fine-tuned from `pretrained` on suite dataset
            D_i: a run folder (its method and D_i are read and must agree), or any other
            checkpoint, then labelled `method`.
        suite: the suite (name, YAML path or `SuiteConfig`); `data` overrides its sources.
        split: the split (default `SplitConfig()`; a run folder's must agree).
        store: also add the records to this results store (``rib report`` reads it).
        n_boot, confidence, seed: the paired image bootstrap of the intervals.
        eval_options: `EvalConfig` fields (batch_size, num_workers, precision, device, ...).

    Returns:
        `scoring.ScoreTable`: one `ScoreResult` per method label, rows D_i in suite order
        (``table.results[0].scores.ri[D_i]``, ``.mri``, intervals by ``.interval(...)``).
    """
    from .console import library_output
    from .evaluation import EvalConfig
    from .scoring import score_records

    suite = _suite(suite, data)
    base = pretrained if isinstance(pretrained, str) else pretrained.name
    stray = sorted(set(checkpoints) - set(suite.datasets))
    if stray:
        raise ConfigError(
            f"checkpoints are keyed by fine-tuning set, but {stray} are not datasets of suite "
            f"{suite.name!r} ({list(suite.datasets)})"
        )
    origins = [{}] + [
        {"finetune_set": d, "base_model": base, "method": method} for d in checkpoints
    ]
    with library_output():
        done = evaluate_checkpoints(
            [pretrained, *checkpoints.values()],
            suite,
            origins=origins,
            split=split,
            store=store,
            baselines=True,
            eval_config=EvalConfig(**eval_options),
            allow_label_mismatch=allow_label_mismatch,
        )
    records = [r for ce in done for r in ce.records]
    correct = {k: v for ce in done for k, v in ce.correct().items()}
    return score_records(
        records,
        suite,
        correct=correct.get if n_boot else None,
        finetune_sets=[d for d in suite.datasets if d in checkpoints],
        n_boot=n_boot,
        confidence=confidence,
        seed=seed,
        models=[done[0].origin.model],
    )
