"""The scoring road's inputs: records from any source, checked so that nothing mixes, and the
image-bootstrap replicates of every record (one paired draw per evaluation set, by group of
images where the set's rows share sources)."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ..intervals import as_correct, group_index, resample_accuracies
from ..records import ResultRecord
from ..scores import PRETRAINED, ScoreInputError
from .results import ScoreKey

if TYPE_CHECKING:
    from ..suites import SuiteConfig

#: ``key -> (N,) bool`` per-image correctness of a record key, or None (``ResultStore.correct``).
CorrectLookup = Callable[[tuple[str, str, str, str]], "np.ndarray | None"]
#: |recorded - correctness-vector accuracy| tolerated for a set scored as a plain row mean.
_ACCURACY_TOLERANCE = 1e-6


_TYPES = {"str": str, "int": int, "float": float}


def as_records(records: Any) -> list[ResultRecord]:
    """`ResultRecord`s from a list of records / dicts or a DataFrame of their columns."""
    if hasattr(records, "columns") and hasattr(records, "to_dict"):  # a pandas DataFrame
        lacking = sorted(set(ResultRecord.columns()) - set(records.columns))
        if lacking:
            raise ScoreInputError(
                f"the results table lacks column(s) {lacking}; pass ResultStore.to_dataframe() "
                "or records.ResultRecord rows"
            )
        records = records.to_dict("records")
    out = []
    for rec in records:
        if isinstance(rec, ResultRecord):
            out.append(rec)
            continue
        kw = {}
        for f in ResultRecord.__dataclass_fields__.values():
            value, kind = rec[f.name], _TYPES[str(f.type)]
            if kind is str and (value is None or (isinstance(value, float) and math.isnan(value))):
                value = ""  # an empty text column read back from CSV
            kw[f.name] = kind(value)
        out.append(ResultRecord(**kw))
    return out


def select_records(
    records: list[ResultRecord], suite: SuiteConfig, part: str
) -> list[ResultRecord]:
    suites = sorted({r.suite for r in records})
    if any(s != suite.name for s in suites):
        raise ScoreInputError(
            f"the records come from suite(s) {suites}, not {suite.name!r}; score each suite "
            "with its own suite config (filter the records by their 'suite' column)"
        )
    parts = sorted({r.eval_part for r in records})
    chosen = [r for r in records if r.eval_part == part]
    if records and not chosen:
        raise ScoreInputError(f"no records of evaluation part {part!r}; the records have {parts}")
    unknown = sorted({r.eval_dataset for r in chosen} - set(suite.eval_datasets))
    unknown += sorted(
        {r.finetune_dataset for r in chosen if r.method != PRETRAINED} - set(suite.datasets)
    )
    if unknown:
        raise ScoreInputError(
            f"records name dataset(s) {unknown} that suite {suite.name!r} does not list "
            f"({list(suite.eval_datasets)}); pass the suite the runs used"
        )
    return chosen


def provenance_of(records: list[ResultRecord]) -> dict[str, Any]:
    """What every record must share (split, label space, one protocol per set), checked."""

    def one(name: str, values: set[Any], fix: str) -> Any:
        if len(values) > 1:
            raise ScoreInputError(f"the records mix {name} {sorted(values)}; {fix}")
        return next(iter(values), None)

    split = one(
        "splits (rule, seed, test fraction)",
        {(r.split_rule, r.split_seed, r.test_fraction) for r in records},
        "scores compare accuracies on the same test images: filter the records to one split",
    )
    space = one("label spaces", {r.label_space for r in records}, "score one label space")
    protocols: dict[str, str] = {}
    for d in dict.fromkeys(r.eval_dataset for r in records):
        protocols[d] = one(
            f"label protocols on {d!r}:",
            {r.protocol for r in records if r.eval_dataset == d},
            "every model must be scored with the same rule (e.g. the ObjectNet rule)",
        )
    return {
        "split": None if split is None else dict(zip(("rule", "seed", "test_fraction"), split)),
        "label_space": space,
        "protocols": protocols,
        "library_versions": sorted({r.library_version for r in records}),
        "seeds": sorted({r.seed for r in records if r.method != PRETRAINED}),
        "num_records": len(records),
        "num_runs": len({r.run_id for r in records}),
        "time": [
            min((r.time for r in records), default=""),
            max((r.time for r in records), default=""),
        ],
    }


def split_cells(records: list[ResultRecord]) -> tuple[dict, dict]:
    """Baselines {(model, rev): {D_j: record}} and groups {ScoreKey: {(seed, D_i, D_j): record}};
    two runs in one cell are an error."""
    base: dict[tuple[str, str], dict[str, ResultRecord]] = {}
    groups: dict[ScoreKey, dict[tuple[int, str, str], ResultRecord]] = {}
    for r in records:
        key: ScoreKey | None = None
        if r.method == PRETRAINED:
            cell, where = base.setdefault((r.model, r.model_revision), {}), r.eval_dataset
            what = f"{PRETRAINED} baseline on {r.eval_dataset}"
        else:
            key = ScoreKey(r.model, r.model_revision, r.method, r.variant)
            cell, where = groups.setdefault(key, {}), (r.seed, r.finetune_dataset, r.eval_dataset)
            what = f"{key.label} seed {r.seed} {r.finetune_dataset} -> {r.eval_dataset}"
        old = cell.get(where)
        # a baseline evaluated twice (e.g. by two configs) agrees with itself; anything else
        # in one cell would average two different experiments
        clash = key is not None or old is not None and old.accuracy != r.accuracy
        if old is not None and old.run_id != r.run_id and clash:
            raise ScoreInputError(
                f"runs {old.run_id} and {r.run_id} both give {r.model} {what}: the same label "
                "was run with two configurations; give each config its own method label, or "
                "score one config's records (`rib report --config`, `sweep.scores(config)`)"
            )
        cell.setdefault(where, r)
    return base, groups


class Replicates:
    """Bootstrap replicates (B,) of every record's accuracy, one paired draw per column.

    `groups[j]` (the `group` column of D_j's evaluated part) makes D_j's draw a cluster
    bootstrap over its G_j groups; `clustered` lists the columns with fewer groups than rows
    (where it differs from the image bootstrap)."""

    def __init__(
        self,
        records: list[ResultRecord],
        correct: CorrectLookup,
        columns: Sequence[str],
        n_boot: int,
        seed: int,
        groups: Mapping[str, Any] | None = None,
    ) -> None:
        groups = dict(groups or {})
        unknown = sorted(set(groups) - set(columns))
        if unknown:
            raise ScoreInputError(
                f"groups were given for dataset(s) {unknown} that the suite does not evaluate "
                f"({list(columns)}); pass the `group` columns of the suite's test parts"
            )
        self.values: dict[tuple[str, str, str, str], np.ndarray] = {}
        self.clustered: list[str] = []
        for b, j in enumerate(columns):
            keep, vectors = [], []
            for r in (r for r in records if r.eval_dataset == j):
                vec = correct(r.key)
                if vec is None:
                    continue
                vec = as_correct(vec, f"the correctness vector of {r.key}")
                if len(vec) != r.num_images:
                    raise ScoreInputError(
                        f"the correctness vector of {r.key} has {len(vec)} entries but the record "
                        f"counts {r.num_images} images; the store is inconsistent: re-run the run"
                    )
                keep.append(r)
                vectors.append(vec)
            if not vectors:
                continue
            if len({len(v) for v in vectors}) > 1:
                sizes = sorted({(len(v), r.model) for r, v in zip(keep, vectors)})
                raise ScoreInputError(
                    f"models were scored on different images of {j!r} ({sizes} as (images, "
                    "model)); the paired bootstrap needs the same test part for every model"
                )
            stack = np.stack(vectors, axis=1)  # (n_j, m) bool
            where = f"groups[{j!r}] (the `group` column of its test part)"
            codes = None if j not in groups else group_index(groups[j], len(stack), where)
            if codes is not None and codes.max() + 1 < len(stack):
                self.clustered.append(j)
            reps = resample_accuracies(stack, n_boot, (seed, b), codes)
            rowmean = 100.0 * stack.mean(0, dtype=np.float64)
            for k, r in enumerate(keep):
                shift = r.accuracy - rowmean[k]
                if abs(shift) > _ACCURACY_TOLERANCE and r.per_group in ("", "{}"):
                    raise ScoreInputError(
                        f"record {r.key} says {r.accuracy:.4f} % but its correctness vector gives "
                        f"{rowmean[k]:.4f} %; the store is inconsistent: re-run the run"
                    )
                self.values[r.key] = reps[:, k] + shift  # re-centred on the recorded accuracy

    def get(self, record: ResultRecord | None, n_boot: int) -> np.ndarray:
        if record is None or record.key not in self.values:
            return np.full(n_boot, np.nan)
        return self.values[record.key]


def natural_key(text: str) -> list[Any]:
    return [
        (0, float(t), "") if k % 2 else (1, 0.0, t)
        for k, t in enumerate(re.split(r"(\d+(?:\.\d+)?)", text))
    ]


def order_of(names: Sequence[str], present: set[str]) -> dict[str, int]:
    ordered = [n for n in names if n in present] + sorted(present - set(names))
    return {n: k for k, n in enumerate(ordered)}
