"""The result types of the scoring road: `ScoreKey`, `ScoreResult` (one configuration, with
its per-seed scores, seed aggregate and intervals) and `ScoreTable` (all of them, in order)."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..formatting import fmt, fmt_interval, json_safe, markdown_table
from ..intervals import OVERALL, Interval, RIBIntervals
from ..scores import PRETRAINED, RIBScores, ScoreInputError

if TYPE_CHECKING:
    from ..suites import SuiteConfig


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
    """RIB scores of one configuration over the suite (how: see `imagenet_rib.scoring`).

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
    clustered: tuple[str, ...] = ()  # sets whose image bootstrap resampled groups of rows

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

    def source(self, result: ScoreResult) -> str:
        """The pretraining source's display name: the model, with ``@<revision>`` when the
        table holds several revisions of it."""
        revisions = {rev for m, rev in self.baselines if m == result.model}
        return result.model + (f" @{result.model_revision[:12]}" if len(revisions) > 1 else "")

    def interval_note(self) -> str:
        """How the intervals were obtained, in one sentence."""
        pct = f"{100 * self.confidence:g}%"
        parts = []
        if self.n_boot:
            by_group = (
                f", resampling groups of views of one source on {', '.join(self.clustered)}"
                if self.clustered
                else ""
            )
            parts.append(
                f"images: {pct} paired percentile bootstrap over test images (B = {self.n_boot}, "
                f"seed {self.seed}; the same draw for every model on a set{by_group})"
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
                "clustered": list(self.clustered),
                "provenance": self.provenance,
                "results": [r.to_dict(detail=detail) for r in self.results],
            }
        )

    def to_markdown(self) -> str:
        """The summary: one row per complete configuration, one sentence per partial one."""
        if not self.results:
            return "no fine-tuned results in the store yet"
        pct = f"{100 * self.confidence:g}%"
        header = ["model", "method", "variant", "seeds", "mRI", f"{pct} CI (images)"]
        header += [f"{pct} CI (seeds)", "in-task gain", "avg OOD before", "avg OOD after"]
        header += ["ref. degradation"] if self.suite.reference else []
        rows = []
        for r in (r for r in self.results if r.complete):
            s, cis = r.scores, [r.interval("mri", kind=k) for k in ("images", "seeds")]
            model = self.source(r)
            row = [model, r.method, r.variant or "-", len(r.seeds), fmt(s.mri, signed=True)]
            row += ["-" if iv is None else fmt_interval(iv.low, iv.high) for iv in cis]
            row += [fmt(s.mean_in_task_gain, signed=True), fmt(s.mean_acc_pre)]
            row += [fmt(s.avg_ood_post)]
            if self.suite.reference:
                row.append(fmt(s.mean_reference_degradation, signed=True))
            rows.append(row)
        parts = [markdown_table(header, rows, pad=False)] if rows else []
        partial = [f"- {r.status()}" for r in self.results if not r.complete]
        parts += ["\n".join(partial)] if partial else []
        return "\n\n".join([*parts, self.interval_note()])
