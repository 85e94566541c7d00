"""Leaderboard rows from result records: one per (suite, pretraining source, method, variant).

Input: a table with the `records.ResultRecord` columns (a results store, its export or the Hub
leaderboard dataset; see `sources`). Rows are grouped by

    (suite, model, model_revision, split rule/seed/fraction)    the pretraining source
    x (method, variant)                                         what was done to it

so results of different pretrained-weight revisions or splits are never combined. For each
group, A_pre(j) comes from its ``method == "pretrained"`` rows and A(i -> j) from the rows
fine-tuned on D_i, per seed; the scores are computed by the library's scoring functions through
ONE adapter, `score_group`:

    dA(i -> j) = A(i -> j) - A_pre(j),   RI_i = mean_{j != i} dA(i -> j),   mRI = mean_i RI_i
    avg OOD after = mean_i mean_{j != i} A(i -> j) = avg OOD before + mRI
    degradation_i = A(i -> ref) - A_pre(ref),   gain_i = A(i -> i) - A_pre(i)

A score touching a missing cell is missing (NaN), never averaged over the cells that exist: a
row with k of n fine-tuning sets complete reports "incomplete (k of n sets)". A cell measured
for some seeds only is missing. Two runs claiming the same (fine-tuning set, seed) cell, or a
baseline with two different accuracies on one dataset, make the row a conflict with no score.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import ConfigError
from ..hub.push import REPO_COLUMN
from ..report.tables import SuiteInfo, resolve_suite

if TYPE_CHECKING:
    import pandas as pd

    from ..intervals import Interval, RIBIntervals
    from ..scores import RIBScores
    from .sources import CorrectGetter

logger = logging.getLogger(__name__)

BASELINE_METHOD = "pretrained"
#: Columns that define a pretraining source: rows differing in any are never combined.
SOURCE_KEY = ("suite", "model", "model_revision", "split_rule", "split_seed", "test_fraction")


@dataclass
class GroupScores:
    """The scores of one leaderboard row and their intervals (None: none could be computed)."""

    scores: RIBScores
    intervals: RIBIntervals | None
    interval_note: str  # how the interval was obtained, or why there is none


def score_group(
    acc_pre: Mapping[str, float],
    acc_post: Mapping[int, Mapping[str, Mapping[str, float]]],
    suite: SuiteInfo,
    *,
    correct_pre: Mapping[str, np.ndarray] | None = None,
    correct_post: Mapping[str, Mapping[str, np.ndarray]] | None = None,
    n_boot: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> GroupScores:
    """The one call into the scoring API (`scores.compute_rib`, `intervals.seed_intervals`,
    `intervals.bootstrap_rib`).

    Args:
        acc_pre: A_pre(j) for j in the suite and its reference (percent).
        acc_post: ``{seed: {i: {j: A(i -> j)}}}``; absent cells are missing.
        suite: the datasets D_1..D_n and the reference.
        correct_pre, correct_post: per-image correctness ``(n_j,) bool`` of the baseline and of
            the (single-seed) fine-tuned models, for a paired bootstrap over images.
        n_boot, confidence, seed: resampling settings of the intervals.

    Returns the point scores (several seeds: of the seed-mean accuracies, a cell missing in
    any seed being missing) and, when the mRI is defined, its interval: over seeds when there
    are several, else over images when correctness vectors are given.
    """
    from ..intervals import bootstrap_rib, seed_intervals
    from ..scores import ScoreInputError, compute_rib

    datasets, ref = list(suite.datasets), suite.reference
    per_seed = [
        compute_rib(acc_pre, acc_post[s], datasets, ref, allow_extra=True) for s in sorted(acc_post)
    ]
    if len(per_seed) > 1:
        ci = seed_intervals(per_seed, confidence, n_boot=n_boot, seed=seed)
        point, note = ci.scores, "bootstrap over seeds"
    elif correct_pre and correct_post:
        point, note = per_seed[0], "bootstrap over images"
        try:
            ci = bootstrap_rib(
                correct_pre,
                correct_post,
                datasets,
                ref,
                n_boot=n_boot,
                confidence=confidence,
                seed=seed,
                allow_extra=True,
            )
        except ScoreInputError as err:  # e.g. vectors of different images: no paired bootstrap
            ci, note = None, f"no interval: {err}"
    else:
        ci, point, note = None, per_seed[0], "no interval: one seed and no per-image results"
    if ci is not None and not (math.isfinite(ci.mri.low) and math.isfinite(ci.mri.high)):
        ci, note = None, "no interval: per-image results missing for some cells"
    if not point.complete:
        ci, note = None, "no interval: the matrix is incomplete"
    return GroupScores(point, ci, note)


def _mean_if_all(values: Mapping[str, float], n: int) -> tuple[float, int]:
    """(mean, k): the mean of the n per-set values when all k == n are finite, else NaN."""
    finite = [v for v in values.values() if math.isfinite(v)]
    return (float(np.mean(finite)) if len(finite) == n and n else math.nan), len(finite)


@dataclass
class LeaderboardRow:
    """One leaderboard row; `scores` is None when the row is a conflict or has no baseline."""

    id: int
    suite: str
    model: str
    model_revision: str
    method: str
    variant: str
    split: str
    seeds: tuple[int, ...]
    info: SuiteInfo
    scores: RIBScores | None
    interval: Interval | None
    interval_note: str
    confidence: float
    in_task_meaningful: bool
    repos: tuple[str, ...] = ()
    runs: list[dict[str, Any]] = field(default_factory=list, repr=False)
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def n_sets(self) -> int:
        return len(self.info.datasets)

    @property
    def complete_sets(self) -> int:
        """Fine-tuning sets whose RI_i is defined (every off-diagonal cell measured)."""
        return 0 if self.scores is None else sum(math.isfinite(v) for v in self.scores.ri.values())

    @property
    def mri(self) -> float:
        return math.nan if self.scores is None else self.scores.mri

    @property
    def avg_ood_before(self) -> float:
        return math.nan if self.scores is None else self.scores.mean_acc_pre

    @property
    def avg_ood_after(self) -> float:
        return math.nan if self.scores is None else self.scores.avg_ood_post

    def degradation(self) -> tuple[float, int]:
        """(mean over fine-tuning sets of A(i -> ref) - A_pre(ref), sets measured)."""
        if self.scores is None or not self.info.reference:
            return math.nan, 0
        return _mean_if_all(self.scores.reference_degradation, self.n_sets)

    def in_task_gain(self) -> tuple[float, int]:
        """(mean over fine-tuning sets of A(i -> i) - A_pre(i), sets measured)."""
        if self.scores is None:
            return math.nan, 0
        return _mean_if_all(self.scores.in_task_gain, self.n_sets)

    @property
    def label(self) -> str:
        method = f"{self.method} [{self.variant}]" if self.variant else self.method
        rev = f" @ {self.model_revision[:12]}" if self.model_revision else ""
        return f"#{self.id} {self.model}{rev} / {method} / {self.suite}"

    def to_dict(self) -> dict[str, Any]:
        deg, gain = self.degradation(), self.in_task_gain()
        return {
            "id": self.id,
            "suite": self.suite,
            "model": self.model,
            "model_revision": self.model_revision,
            "method": self.method,
            "variant": self.variant,
            "split": self.split,
            "seeds": list(self.seeds),
            "suite_info": self.info.to_dict(),
            "complete_sets": self.complete_sets,
            "n_sets": self.n_sets,
            "mri": _json(self.mri),
            "interval": None if self.interval is None else self.interval.to_dict(),
            "interval_note": self.interval_note,
            "confidence": self.confidence,
            "avg_ood_before": _json(self.avg_ood_before),
            "avg_ood_after": _json(self.avg_ood_after),
            "degradation": _json(deg[0]),
            "in_task_gain": _json(gain[0]) if self.in_task_meaningful else None,
            "repos": list(self.repos),
            "scores": None if self.scores is None else self.scores.to_dict(),
            "problems": list(self.problems),
            "notes": list(self.notes),
        }


def _json(x: float) -> float | None:
    return None if not math.isfinite(x) else float(x)


def _split_text(rule: str, seed: Any, fraction: Any) -> str:
    if rule == "holdout":
        return f"holdout {float(fraction):.0%} test, seed {seed}"
    return str(rule)


def _baseline(rows: pd.DataFrame) -> tuple[dict[str, float], list[str]]:
    """A_pre(j) per dataset; a dataset measured with different accuracies is a conflict."""
    acc: dict[str, float] = {}
    problems = []
    for j, g in rows.groupby("eval_dataset", sort=False):
        values = sorted(set(g["accuracy"].astype(float)))
        if len(values) > 1:
            problems.append(
                f"the pretrained baseline has {len(values)} different accuracies on {j} "
                f"({', '.join(f'{v:.2f}' for v in values)}, runs {sorted(set(g['run_id']))}): "
                "remove the stale runs from the store"
            )
        acc[str(j)] = values[0]
    return acc, problems


def _post(rows: pd.DataFrame) -> tuple[dict[int, dict[str, dict[str, float]]], list[str]]:
    """``{seed: {i: {j: A(i -> j)}}}``; two runs on the same (i, seed) are a conflict."""
    acc: dict[int, dict[str, dict[str, float]]] = {}
    problems = []
    for (seed, i), g in rows.groupby(["seed", "finetune_dataset"], sort=True):
        runs = sorted(set(g["run_id"]))
        if len(runs) > 1:
            configs = sorted(set(g["method_config"]))
            problems.append(
                f"{len(runs)} runs ({', '.join(runs)}) were fine-tuned on {i} with seed {seed}"
                + (f" with different method configs {configs}" if len(configs) > 1 else "")
                + ": keep one of them"
            )
            continue
        acc.setdefault(int(seed), {})[str(i)] = {
            str(j): float(a) for j, a in zip(g["eval_dataset"], g["accuracy"])
        }
    return acc, problems


def _correct_maps(
    pre: pd.DataFrame, post: pd.DataFrame, correct: CorrectGetter | None
) -> tuple[dict[str, np.ndarray], dict[str, dict[str, np.ndarray]]]:
    if correct is None:
        return {}, {}
    cp: dict[str, np.ndarray] = {}
    for r in pre.drop_duplicates("eval_dataset").itertuples():
        vec = correct((r.run_id, r.variant, r.eval_dataset, r.eval_part))
        if vec is not None:
            cp[r.eval_dataset] = vec
    cq: dict[str, dict[str, np.ndarray]] = {}
    for r in post.itertuples():
        vec = correct((r.run_id, r.variant, r.eval_dataset, r.eval_part))
        if vec is not None:
            cq.setdefault(r.finetune_dataset, {})[r.eval_dataset] = vec
    return cp, cq


def _runs(rows: pd.DataFrame) -> list[dict[str, Any]]:
    first = rows.drop_duplicates("run_id")
    return [
        {
            "run_id": r.run_id,
            "finetune_dataset": r.finetune_dataset,
            "seed": int(r.seed),
            "model_repo": getattr(r, REPO_COLUMN),
            "method_config": json.loads(r.method_config or "{}"),
        }
        for r in first.sort_values(["finetune_dataset", "seed"]).itertuples()
    ]


def _make_row(
    rid: int,
    info: SuiteInfo,
    source: Mapping[str, Any],
    pre_rows: pd.DataFrame,
    rows: pd.DataFrame,
    correct: CorrectGetter | None,
    **resampling: Any,
) -> LeaderboardRow:
    """The row of one (pretraining source, method, variant): `pre_rows` are the source's
    baseline rows, `rows` the method's rows (every seed and fine-tuning set)."""
    from ..scores import ScoreInputError

    acc_pre, problems = _baseline(pre_rows)
    notes = []
    outside = sorted(set(rows["finetune_dataset"]) - set(info.datasets))
    if outside:
        notes.append(f"fine-tuned on {outside}, outside the suite: not scored")
        rows = rows[rows["finetune_dataset"].isin(info.datasets)]
    acc_post, post_problems = _post(rows)
    problems += post_problems
    if pre_rows.empty:
        problems.append(
            f"no pretrained baseline rows (method {BASELINE_METHOD!r}) for {source['model']} at "
            f"revision {source['model_revision'] or '(none)'}: evaluate the pretrained model first"
        )
    seeds = tuple(sorted(int(s) for s in set(rows["seed"])))
    group = None
    if not problems and acc_post:
        cp, cq = _correct_maps(pre_rows, rows, correct if len(seeds) == 1 else None)
        try:
            group = score_group(
                acc_pre, acc_post, info, correct_pre=cp, correct_post=cq, **resampling
            )
        except ScoreInputError as err:  # e.g. an accuracy outside [0, 100]
            problems.append(str(err))
    first = rows.iloc[0]
    if problems:
        logger.warning(
            "%s / %s / %s not scored: %s",
            source["model"],
            first["method"],
            source["suite"],
            problems,
        )
    return LeaderboardRow(
        id=rid,
        suite=str(source["suite"]),
        model=str(source["model"]),
        model_revision=str(source["model_revision"]),
        method=str(first["method"]),
        variant=str(first["variant"]),
        split=_split_text(source["split_rule"], source["split_seed"], source["test_fraction"]),
        seeds=seeds,
        info=info,
        scores=None if group is None else group.scores,
        interval=None if group is None or group.intervals is None else group.intervals.mri,
        interval_note="no score" if group is None else group.interval_note,
        confidence=resampling.get("confidence", 0.95),
        in_task_meaningful=source["split_rule"] == "holdout",
        repos=tuple(sorted({r for r in rows[REPO_COLUMN] if r})),
        runs=_runs(rows),
        problems=problems,
        notes=notes,
    )


def build_leaderboard(
    df: pd.DataFrame,
    correct: CorrectGetter | None = None,
    *,
    part: str = "test",
    n_boot: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> list[LeaderboardRow]:
    """Every leaderboard row of a results table (see the module docstring), sorted by suite,
    model, revision, split, method and variant; `correct` (``key -> (N,) bool``, e.g. from a
    results store) enables bootstrap intervals over images for single-seed rows."""
    from .sources import normalise_frame

    df = normalise_frame(df, "the results table")
    if df.empty:
        raise ConfigError("the results table is empty: run `rib run CONFIG` (or `rib push`) first")
    df = df[df["eval_part"] == part]
    if df.empty:
        raise ConfigError(f"no results for evaluation part {part!r}; choose another --part")
    resampling = {"n_boot": n_boot, "confidence": confidence, "seed": seed}
    out: list[LeaderboardRow] = []
    for _, sdf in df.groupby("suite", sort=True):
        info = resolve_suite(sdf)
        for key, gdf in sdf.groupby(list(SOURCE_KEY), sort=True, dropna=False):
            source = dict(zip(SOURCE_KEY, key))
            pre_rows = gdf[gdf["method"] == BASELINE_METHOD]
            post = gdf[gdf["method"] != BASELINE_METHOD]
            for _, rows in post.groupby(["method", "variant"], sort=True):
                out.append(
                    _make_row(len(out) + 1, info, source, pre_rows, rows, correct, **resampling)
                )
    if not out:
        raise ConfigError(
            "no fine-tuned results: the table holds only pretrained baselines; run a method "
            "with `rib run` or `rib finetune` first"
        )
    return out
