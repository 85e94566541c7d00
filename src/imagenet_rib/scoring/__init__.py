"""The one scoring road: result records -> RIB scores with intervals, per configuration.

`score_records(records, suite, correct=...)` serves `rib run`, `rib demo`, `rib report`, the
model cards and the leaderboard. It groups the `records.ResultRecord` rows of one suite and
evaluation part by configuration (model, model_revision, method label, variant) and scores
each against the pretrained baseline (method ``"pretrained"``) of the SAME model revision:

- per seed s: `scores.RIBScores` of A_s(i->j) against A_pre(j);
- the seed aggregate: the RIB scores of the seed-mean accuracies mean_s A_s(i->j) (every
  score is linear, so this is the mean of the per-seed scores); a cell missing in any seed
  is missing in the aggregate, never averaged over the seeds that have it;
- image intervals of the aggregate (given a correctness lookup): the paired percentile
  bootstrap over test images of `intervals.resample_accuracies`, ONE draw per evaluation
  set shared by every model, so dA*(i->j) stays paired; given the sets' `group` columns
  (`groups=part_groups(suite, split)`), a set whose rows share sources is resampled by group
  (the cluster bootstrap: correlated views do not count as independent evidence). Replicates of a record are
  re-centred on its recorded accuracy (for ImageNet-C-style sets the accuracy is a mean
  over corruption/severity groups, not the row mean of the correctness vector);
- seed intervals of the aggregate where >= 2 seeds exist: Student t over seeds
  (`seeds.seed_intervals(method="t")`, better behaved than a bootstrap for 3-5 seeds).

It refuses, with an error naming the fix, records that would mix: another suite, another
split or label protocol, a fine-tuned revision without its own baseline, or two runs in one
cell (the same label run with two configs). Missing cells stay NaN and are listed.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ..intervals import check_confidence, check_n_boot, intervals_from_replicates
from ..records import ResultRecord
from ..scores import ScoreInputError, scores_from_arrays
from ..seeds import seed_intervals
from .groups import part_groups
from .inputs import (
    CorrectLookup,
    Replicates,
    as_records,
    natural_key,
    order_of,
    provenance_of,
    select_records,
    split_cells,
)
from .results import ScoreKey, ScoreResult, ScoreTable

if TYPE_CHECKING:
    from ..suites import SuiteConfig

logger = logging.getLogger(__name__)

__all__ = [
    "CorrectLookup",
    "ScoreKey",
    "ScoreResult",
    "ScoreTable",
    "as_records",
    "part_groups",
    "score_records",
]


def _score_group(
    key: ScoreKey,
    cells: Mapping[tuple[int, str, str], ResultRecord],
    baseline: Mapping[str, ResultRecord],
    suite: SuiteConfig,
    rows: Sequence[str],
    reps: Replicates | None,
    n_boot: int,
    confidence: float,
) -> ScoreResult:
    cols = list(suite.eval_datasets)
    datasets, rows = list(suite.datasets), list(rows)
    seeds = tuple(sorted({s for s, _, _ in cells}))
    pre = np.array([baseline[j].accuracy if j in baseline else np.nan for j in cols])
    post = np.full((len(seeds), len(rows), len(cols)), np.nan)
    post_b = np.full((len(seeds), n_boot, len(rows), len(cols)), np.nan) if reps else None
    for (s, i, j), r in cells.items():
        if i in rows:
            post[seeds.index(s), rows.index(i), cols.index(j)] = r.accuracy
            if reps is not None:
                post_b[seeds.index(s), :, rows.index(i), cols.index(j)] = reps.get(r, n_boot)
    per_seed = {
        s: scores_from_arrays(pre, post[k], datasets, rows, suite.reference)
        for k, s in enumerate(seeds)
    }
    agg = per_seed[seeds[0]]
    if len(seeds) > 1:
        agg = scores_from_arrays(pre, post.mean(0), datasets, rows, suite.reference)
    image = None
    if reps is not None:
        pre_b = np.stack([reps.get(baseline.get(j), n_boot) for j in cols], axis=1)  # (B, c)
        if np.isfinite(pre_b).any() and np.isfinite(post_b).any():
            image = intervals_from_replicates(
                agg, pre_b, post_b.mean(0), confidence, "bootstrap-images"
            )
    seeds_iv = None
    if len(seeds) > 1:
        seeds_iv = seed_intervals(list(per_seed.values()), confidence, method="t")
    run_ids = tuple(sorted({r.run_id for (_, i, _), r in cells.items() if i in rows}))
    return ScoreResult(key, suite.name, seeds, agg, per_seed, image, seeds_iv, run_ids)


def score_records(
    records: Any,
    suite: SuiteConfig | str,
    *,
    correct: CorrectLookup | None = None,
    groups: Mapping[str, Any] | None = None,
    finetune_sets: Sequence[str] | None = None,
    part: str = "test",
    n_boot: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
    models: Sequence[str] = (),
    methods: Sequence[str] = (),
) -> ScoreTable:
    """RIB scores of every configuration in `records` (see the module docstring).

    Args:
        records: `ResultRecord`s (``ResultStore.records(...)``) or a DataFrame of their
            columns (``ResultStore.to_dataframe()``), of one suite.
        suite: the `SuiteConfig` the runs used (or a name / YAML path for `load_suite`); its
            datasets order the matrix and its `reference` is the pretraining reference.
        correct: per-image correctness lookup (``ResultStore.correct``) for image intervals.
        groups: ``{D_j: (n_j,) group labels}`` of the evaluated parts (`part_groups`): those
            sets are resampled by group (cluster bootstrap); others by image.
        finetune_sets: the rows D_i of every matrix (mRI averages over them); default:
            every suite dataset any fine-tuned record was trained on, in suite order.
        part: the evaluation part scored (``"test"``).
        n_boot, confidence, seed: bootstrap replicates, coverage, resampling seed.
        models, methods: the order of the results (others follow alphabetically).

    Raises:
        ScoreInputError: records that would mix (see the module docstring).
    """
    from ..suites import SuiteConfig, load_suite

    suite = suite if isinstance(suite, SuiteConfig) else load_suite(suite)
    check_confidence(confidence)
    if correct is not None:
        check_n_boot(n_boot)
    recs = select_records(as_records(records), suite, part)
    provenance = provenance_of(recs)
    base, configs = split_cells(recs)
    trained = {i for cells in configs.values() for _, i, _ in cells}
    rows = (
        tuple(d for d in suite.datasets if d in trained)
        if finetune_sets is None
        else tuple(finetune_sets)
    )
    for key in configs:
        if (key.model, key.model_revision) not in base:
            have = sorted(rev for m, rev in base if m == key.model)
            raise ScoreInputError(
                f"{key.model} {key.label} was fine-tuned from revision {key.model_revision!r}, "
                f"but the records hold its pretrained baseline only for revisions {have}; "
                "evaluate that revision's baseline (`rib run` does) before scoring"
            )
    reps = None
    if correct is not None and configs:
        reps = Replicates(recs, correct, suite.eval_datasets, n_boot, seed, groups)
    results = [
        _score_group(k, c, base[(k.model, k.model_revision)], suite, rows, reps, n_boot, confidence)
        for k, c in configs.items()
        if rows
    ]
    m_order = order_of(models, {k.model for k in configs})
    t_order = order_of(methods, {k.method for k in configs})
    results.sort(
        key=lambda r: (
            m_order[r.model],
            r.model_revision,
            t_order[r.method],
            natural_key(r.variant),
        )
    )
    baselines = {k: {j: r.accuracy for j, r in v.items()} for k, v in base.items()}
    return ScoreTable(
        suite,
        rows,
        part,
        confidence,
        n_boot if reps else 0,
        seed,
        results,
        baselines,
        provenance,
        clustered=tuple(reps.clustered) if reps else (),
    )
