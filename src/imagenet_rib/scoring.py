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
  set shared by every model, so dA*(i->j) stays paired. Replicates of a record are
  re-centred on its recorded accuracy (for ImageNet-C-style sets the accuracy is a mean
  over corruption/severity groups, not the row mean of the correctness vector);
- seed intervals of the aggregate where >= 2 seeds exist: Student t over seeds
  (`intervals.seed_intervals(method="t")`, better behaved than a bootstrap for 3-5 seeds).

It refuses, with an error naming the fix, records that would mix: another suite, another
split or label protocol, a fine-tuned revision without its own baseline, or two runs in one
cell (the same label run with two configs). Missing cells stay NaN and are listed.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from .formatting import fmt, fmt_interval, json_safe, markdown_table
from .intervals import (
    OVERALL,
    Interval,
    RIBIntervals,
    as_correct,
    check_confidence,
    check_n_boot,
    intervals_from_replicates,
    resample_accuracies,
    seed_intervals,
)
from .records import ResultRecord
from .scores import PRETRAINED, RIBScores, ScoreInputError, scores_from_arrays

if TYPE_CHECKING:
    from .suites import SuiteConfig

logger = logging.getLogger(__name__)

#: ``key -> (N,) bool`` per-image correctness of a record key, or None (``ResultStore.correct``).
CorrectLookup = Callable[[tuple[str, str, str, str]], "np.ndarray | None"]
#: |recorded - correctness-vector accuracy| tolerated for a set scored as a plain row mean.
_ACCURACY_TOLERANCE = 1e-6


@dataclass(frozen=True)
class ScoreKey:
    """A configuration: pretrained model (and weights revision), method label, variant."""

    model: str
    model_revision: str
    method: str
    variant: str

    @property
    def label(self) -> str:
        return f"{self.method} [{self.variant}]" if self.variant else self.method


@dataclass
class ScoreResult:
    """RIB scores of one configuration over the suite (see the module docstring).

    Attributes:
        key: the configuration; suite: the suite name.
        seeds: the seeds with records.
        scores: the seed aggregate (the single seed's scores when there is one).
        per_seed: ``{seed: RIBScores}``.
        image_intervals: paired bootstrap over test images of `scores`, or None without
            correctness vectors.
        seed_intervals: t intervals over seeds, or None with fewer than 2 seeds.
        run_ids: the runs whose records were scored (the baseline's excluded).
    """

    key: ScoreKey
    suite: str
    seeds: tuple[int, ...]
    scores: RIBScores
    per_seed: dict[int, RIBScores]
    image_intervals: RIBIntervals | None
    seed_intervals: RIBIntervals | None
    run_ids: tuple[str, ...]

    @property
    def model(self) -> str:
        return self.key.model

    @property
    def model_revision(self) -> str:
        return self.key.model_revision

    @property
    def method(self) -> str:
        return self.key.method

    @property
    def variant(self) -> str:
        return self.key.variant

    @property
    def label(self) -> str:
        return self.key.label

    @property
    def complete(self) -> bool:
        return self.scores.complete

    @property
    def interval_kind(self) -> str | None:
        """The interval shown by default: 'seeds' with >= 2 seeds, else 'images', else None."""
        if self.seed_intervals is not None:
            return "seeds"
        return "images" if self.image_intervals is not None else None

    def interval(
        self, name: str, finetune_set: str | None = None, kind: str | None = None
    ) -> Interval | None:
        """Interval of score `name` (an overall score, or a per-set one with `finetune_set`);
        `kind` 'images' or 'seeds' (default: `interval_kind`). None if not available."""
        kind = kind or self.interval_kind
        source = {"images": self.image_intervals, "seeds": self.seed_intervals}.get(kind or "")
        if source is None:
            return None
        value = getattr(source, name)
        return value.get(finetune_set) if finetune_set is not None else value

    def status(self) -> str | None:
        """None when complete, else what is done and what is missing, in one sentence."""
        if self.complete:
            return None
        s = self.scores
        done = [i for i in s.finetune_sets if not math.isnan(s.ri[i])]
        text = (
            f"{self.model} {self.label}: {len(done)} of {len(s.finetune_sets)} fine-tuning "
            "sets done; mRI needs all; "
            + (f"per-set RI_i available for {', '.join(done)}" if done else "no RI_i yet")
        )
        pre_missing = [j for r, j in s.missing if r == PRETRAINED]
        if pre_missing:
            text += f"; the pretrained baseline lacks {', '.join(pre_missing)}"
        if len(self.seeds) > 1:
            blocked = {
                seed: [i for i in s.finetune_sets if math.isnan(sc.ri[i])]
                for seed, sc in self.per_seed.items()
            }
            lacking = [f"seed {k}: {', '.join(v)}" for k, v in blocked.items() if v]
            text += f" (a set counts once every seed has it; {'; '.join(lacking)})"
        return text

    def to_dict(self, detail: bool = False) -> dict[str, Any]:
        """One leaderboard row: identity, mRI, average OOD accuracy before and after,
        pretraining-set degradation and in-task gain (means over the fine-tuning sets), each
        with ``[low, high]`` image and seed intervals (None where not available), and the
        number of seeds. `detail` adds per-set scores, matrices and per-seed scores."""
        s = self.scores
        row: dict[str, Any] = {
            "suite": self.suite,
            "model": self.model,
            "model_revision": self.model_revision,
            "method": self.method,
            "variant": self.variant,
            "n_seeds": len(self.seeds),
            "seeds": list(self.seeds),
            "finetune_sets": list(s.finetune_sets),
            "complete": self.complete,
            "missing_cells": len(s.missing),
        }
        for name in OVERALL:
            row[name] = getattr(s, name)
            if name == "mean_acc_pre":
                continue  # the pretrained model's accuracy: no fine-tuning or seed variation
            for kind in ("images", "seeds"):
                iv = self.interval(name, kind=kind)
                defined = iv is not None and not (math.isnan(iv.low) or math.isnan(iv.high))
                row[f"{name}_ci_{kind}"] = [iv.low, iv.high] if defined else None
        row["confidence"] = next(
            (iv.confidence for iv in (self.image_intervals, self.seed_intervals) if iv), None
        )
        if detail:
            row["run_ids"] = list(self.run_ids)
            row["scores"] = s.to_dict()
            row["per_seed"] = {str(k): v.to_dict() for k, v in self.per_seed.items()}
            for kind, iv in (("images", self.image_intervals), ("seeds", self.seed_intervals)):
                data = None if iv is None else iv.to_dict()
                if data is not None:
                    data.pop("scores")
                row[f"intervals_{kind}"] = data
        return json_safe(row)


@dataclass
class ScoreTable:
    """Every configuration's `ScoreResult` over one suite, in a fixed order (models, then
    methods in the order given to `score_records`, then variants in natural order)."""

    suite: SuiteConfig
    finetune_sets: tuple[str, ...]
    part: str
    confidence: float
    n_boot: int  # 0: no image bootstrap (no correctness lookup)
    seed: int
    results: list[ScoreResult]
    baselines: dict[tuple[str, str], dict[str, float]]  # (model, revision) -> {D_j: A_pre}
    provenance: dict[str, Any] = field(default_factory=dict)

    def __iter__(self) -> Iterator[ScoreResult]:
        return iter(self.results)

    def __len__(self) -> int:
        return len(self.results)

    def get(
        self, model: str, method: str, variant: str = "", revision: str | None = None
    ) -> ScoreResult:
        found = [
            r
            for r in self.results
            if (r.model, r.method, r.variant) == (model, method, variant)
            and revision in (None, r.model_revision)
        ]
        if len(found) != 1:
            have = sorted({(r.model, r.label) for r in self.results})
            raise ScoreInputError(
                f"{len(found)} results for model={model!r} method={method!r} variant="
                f"{variant!r}" + (f" revision={revision!r}" if revision else "") + f"; have {have}"
            )
        return found[0]

    def interval_note(self) -> str:
        """How the intervals were obtained, in one sentence."""
        pct = f"{100 * self.confidence:g}%"
        parts = []
        if self.n_boot:
            parts.append(
                f"images: {pct} paired percentile bootstrap over test images (B = {self.n_boot}, "
                f"seed {self.seed}; the same draw for every model on a set)"
            )
        if any(r.seed_intervals for r in self.results):
            parts.append(f"seeds: {pct} Student t interval over seeds (configurations with >= 2)")
        return "Intervals: " + ("; ".join(parts) if parts else "none (no per-image correctness)")

    def to_dict(self, detail: bool = True) -> dict[str, Any]:
        return json_safe(
            {
                "suite": self.suite.name,
                "datasets": list(self.suite.datasets),
                "reference": self.suite.reference,
                "finetune_sets": list(self.finetune_sets),
                "part": self.part,
                "confidence": self.confidence,
                "n_boot": self.n_boot,
                "seed": self.seed,
                "provenance": self.provenance,
                "results": [r.to_dict(detail=detail) for r in self.results],
            }
        )

    def to_markdown(self) -> str:
        """The summary: one row per complete configuration, one sentence per partial one."""
        if not self.results:
            return "no fine-tuned results in the store yet"
        pct = f"{100 * self.confidence:g}%"
        revs = {m for m, _ in self.baselines if sum(k[0] == m for k in self.baselines) > 1}
        header = ["model", "method", "variant", "seeds", "mRI", f"{pct} CI (images)"]
        header += [f"{pct} CI (seeds)", "in-task gain", "avg OOD before", "avg OOD after"]
        header += ["ref. degradation"] if self.suite.reference else []
        rows = []
        for r in (r for r in self.results if r.complete):
            s, cis = r.scores, [r.interval("mri", kind=k) for k in ("images", "seeds")]
            model = r.model + (f" @{r.model_revision[:12]}" if r.model in revs else "")
            row = [model, r.method, r.variant or "-", len(r.seeds), fmt(s.mri, signed=True)]
            row += ["-" if iv is None else fmt_interval(iv.low, iv.high) for iv in cis]
            row += [fmt(s.mean_in_task_gain, signed=True), fmt(s.mean_acc_pre)]
            row += [fmt(s.avg_ood_post)]
            if self.suite.reference:
                row.append(fmt(s.mean_reference_degradation, signed=True))
            rows.append(row)
        parts = [markdown_table(header, rows, left=3)] if rows else []
        partial = [f"- {r.status()}" for r in self.results if not r.complete]
        parts += ["\n".join(partial)] if partial else []
        return "\n\n".join([*parts, self.interval_note()])


# ------------------------------------------------------------------------------ inputs


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


def _select(records: list[ResultRecord], suite: SuiteConfig, part: str) -> list[ResultRecord]:
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


def _provenance(records: list[ResultRecord]) -> dict[str, Any]:
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


def _cells(records: list[ResultRecord]) -> tuple[dict, dict]:
    """Baselines {(model, rev): {D_j: record}} and groups {ScoreKey: {(seed, D_i, D_j): record}};
    two runs in one cell are an error."""
    base: dict[tuple[str, str], dict[str, ResultRecord]] = {}
    groups: dict[ScoreKey, dict[tuple[int, str, str], ResultRecord]] = {}
    for r in records:
        if r.method == PRETRAINED:
            cell, where, key = (
                base.setdefault((r.model, r.model_revision), {}),
                r.eval_dataset,
                None,
            )
        else:
            key = ScoreKey(r.model, r.model_revision, r.method, r.variant)
            cell, where = groups.setdefault(key, {}), (r.seed, r.finetune_dataset, r.eval_dataset)
        old = cell.get(where)
        # a baseline evaluated twice (e.g. by two configs) agrees with itself; anything else
        # in one cell would average two different experiments
        clash = key is not None or old is not None and old.accuracy != r.accuracy
        if old is not None and old.run_id != r.run_id and clash:
            what = key.label if key else f"{PRETRAINED} baseline"
            raise ScoreInputError(
                f"runs {old.run_id} and {r.run_id} both give {r.model} {what} on {where}; the "
                "same label was run with two configurations: give each config its own method "
                "label, or score the records of one config (e.g. `sweep.scores(config)`)"
            )
        cell.setdefault(where, r)
    return base, groups


class _Replicates:
    """Bootstrap replicates (B,) of every record's accuracy, one paired draw per column."""

    def __init__(
        self,
        records: list[ResultRecord],
        correct: CorrectLookup,
        columns: Sequence[str],
        n_boot: int,
        seed: int,
    ) -> None:
        self.values: dict[tuple[str, str, str, str], np.ndarray] = {}
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
            reps = resample_accuracies(stack, n_boot, (seed, b))
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


def _natural(text: str) -> list[Any]:
    return [
        (0, float(t), "") if k % 2 else (1, 0.0, t)
        for k, t in enumerate(re.split(r"(\d+(?:\.\d+)?)", text))
    ]


def _order(names: Sequence[str], present: set[str]) -> dict[str, int]:
    ordered = [n for n in names if n in present] + sorted(present - set(names))
    return {n: k for k, n in enumerate(ordered)}


# ------------------------------------------------------------------------------ scoring


def _score_group(
    key: ScoreKey,
    cells: Mapping[tuple[int, str, str], ResultRecord],
    baseline: Mapping[str, ResultRecord],
    suite: SuiteConfig,
    rows: Sequence[str],
    reps: _Replicates | None,
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
        finetune_sets: the rows D_i of every matrix (mRI averages over them); default:
            every suite dataset any fine-tuned record was trained on, in suite order.
        part: the evaluation part scored (``"test"``).
        n_boot, confidence, seed: bootstrap replicates, coverage, resampling seed.
        models, methods: the order of the results (others follow alphabetically).

    Raises:
        ScoreInputError: records that would mix (see the module docstring).
    """
    from .suites import SuiteConfig, load_suite

    suite = suite if isinstance(suite, SuiteConfig) else load_suite(suite)
    check_confidence(confidence)
    if correct is not None:
        check_n_boot(n_boot)
    recs = _select(as_records(records), suite, part)
    provenance = _provenance(recs)
    base, groups = _cells(recs)
    trained = {i for cells in groups.values() for _, i, _ in cells}
    rows = (
        tuple(d for d in suite.datasets if d in trained)
        if finetune_sets is None
        else tuple(finetune_sets)
    )
    for key in groups:
        if (key.model, key.model_revision) not in base:
            have = sorted(rev for m, rev in base if m == key.model)
            raise ScoreInputError(
                f"{key.model} {key.label} was fine-tuned from revision {key.model_revision!r}, "
                f"but the records hold its pretrained baseline only for revisions {have}; "
                "evaluate that revision's baseline (`rib run` does) before scoring"
            )
    reps = None
    if correct is not None and groups:
        reps = _Replicates(recs, correct, suite.eval_datasets, n_boot, seed)
    results = [
        _score_group(k, c, base[(k.model, k.model_revision)], suite, rows, reps, n_boot, confidence)
        for k, c in groups.items()
        if rows
    ]
    m_order = _order(models, {k.model for k in groups})
    t_order = _order(methods, {k.method for k in groups})
    results.sort(
        key=lambda r: (m_order[r.model], r.model_revision, t_order[r.method], _natural(r.variant))
    )
    baselines = {k: {j: r.accuracy for j, r in v.items()} for k, v in base.items()}
    return ScoreTable(
        suite, rows, part, confidence, n_boot if reps else 0, seed, results, baselines, provenance
    )
