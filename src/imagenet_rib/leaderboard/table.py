"""Leaderboard rows from result records: one per (suite, model revision, method, variant).

Input: a table with the `records.ResultRecord` columns (a results store, its export or the Hub
leaderboard dataset; see `sources`), plus ``model_repo`` where `rib push` recorded it. The
scores come from the tool's one scoring road, `scoring.score_records`; this module decides
only what is scored together and adds the leaderboard's own columns:

- the records are split by their ``suite`` column and each suite is scored with ONE
  `score_records` call, against the suite of that name: one given by the caller
  (``suites=``, a suite YAML for a suite of one's own) or else the built-in one. A suite that
  cannot be resolved makes each of its configurations an error row;
- `score_records` refuses records that would mix (two runs in one cell, a fine-tuned revision
  without its own baseline, several splits, ...). When it refuses a suite's records, each
  configuration is scored on its own (its records and its revision's baseline): the one that
  is refused becomes a conflict row showing the error, the others are scored, and a note on
  them says why they were scored one by one. Nothing is picked or dropped silently;
- every row is scored over ALL the suite's datasets as fine-tuning sets, so a configuration
  with k of the n sets done reads "incomplete (k of n sets)" instead of a partial mean.

A row's values are `ScoreResult.to_dict()` plus `LeaderboardRow`'s columns: the id, the split,
the model repos (``model_repo`` column), the status and the error, if any.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError, RIBError, UnknownNameError
from ..hub.push import REPO_COLUMN
from ..scores import PRETRAINED

if TYPE_CHECKING:
    import pandas as pd

    from ..intervals import Interval
    from ..records import ResultRecord
    from ..scoring import ScoreKey, ScoreResult
    from ..suites import SuiteConfig
    from .sources import CorrectGetter

logger = logging.getLogger(__name__)

#: Columns naming a configuration (`scoring.ScoreKey`): one leaderboard row per suite and key.
KEY_COLUMNS = ("model", "model_revision", "method", "variant")
#: What an error row's score cells read, by the kind of error.
CONFLICT, UNKNOWN_SUITE = "conflict", "unknown suite"


def repo_url(repo_id: str) -> str:
    """The Hub page of a model repo (the endpoint huggingface_hub is configured with)."""
    from huggingface_hub import constants

    return f"{constants.ENDPOINT.rstrip('/')}/{repo_id}"


@dataclass
class LeaderboardRow:
    """One leaderboard row: a configuration's `ScoreResult` (None for an error row) and the
    leaderboard's own columns. `values` is ``result.to_dict()`` ({} for an error row)."""

    id: int
    suite: str
    model: str
    model_revision: str
    method: str
    variant: str
    split: str
    in_task_meaningful: bool  # the in-task gain needs D_i's test images held out
    n_sets: int  # the suite's fine-tuning sets (0: the suite is unknown)
    confidence: float
    result: ScoreResult | None = field(default=None, repr=False)
    seeds: tuple[int, ...] = ()
    repos: tuple[str, ...] = ()
    runs: list[dict[str, Any]] = field(default_factory=list, repr=False)
    error: str | None = None
    error_kind: str = ""
    notes: list[str] = field(default_factory=list)
    values: dict[str, Any] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.values = {} if self.result is None else self.result.to_dict()

    def value(self, name: str) -> float:
        """An overall score of `ScoreResult.to_dict` (NaN when missing or not scored)."""
        v = self.values.get(name)
        return math.nan if v is None else float(v)

    @property
    def mri(self) -> float:
        return self.value("mri")

    @property
    def avg_ood_before(self) -> float:
        return self.value("mean_acc_pre")

    @property
    def avg_ood_after(self) -> float:
        return self.value("avg_ood_post")

    @property
    def degradation(self) -> float:
        """Mean over the fine-tuning sets of A(i -> ref) - A_pre(ref)."""
        return self.value("mean_reference_degradation")

    @property
    def in_task_gain(self) -> float:
        """Mean over the fine-tuning sets of A(i -> i) - A_pre(i) (NaN under split none)."""
        return self.value("mean_in_task_gain") if self.in_task_meaningful else math.nan

    def sets_with(self, name: str = "ri") -> int:
        """Fine-tuning sets whose per-set score `name` (ri, reference_degradation,
        in_task_gain) is defined, i.e. every cell it needs was measured."""
        if self.result is None:
            return 0
        return sum(math.isfinite(v) for v in getattr(self.result.scores, name).values())

    @property
    def complete_sets(self) -> int:
        return self.sets_with("ri")

    @property
    def interval_kind(self) -> str | None:
        """'seeds' (>= 2 seeds), 'images' (per-image correctness) or None."""
        return None if self.result is None else self.result.interval_kind

    def interval(self, kind: str | None = None) -> Interval | None:
        """The mRI interval of `kind` (default `interval_kind`); None where not defined."""
        if self.result is None:
            return None
        iv = self.result.interval("mri", kind=kind)
        if iv is None or not (math.isfinite(iv.low) and math.isfinite(iv.high)):
            return None
        return iv

    @property
    def status(self) -> str:
        """'complete', 'incomplete (k of n sets)', or the error kind."""
        if self.result is None:
            return self.error_kind
        if self.result.complete:
            return "complete"
        return f"incomplete ({self.complete_sets} of {self.n_sets} sets)"

    @property
    def label(self) -> str:
        method = f"{self.method} [{self.variant}]" if self.variant else self.method
        rev = f" @ {self.model_revision[:12]}" if self.model_revision else ""
        return f"#{self.id} {self.model}{rev} / {method} / {self.suite}"

    def to_dict(self) -> dict[str, Any]:
        """`ScoreResult.to_dict()` (identity only for an error row) plus the leaderboard's
        columns: id, split, model repos and their links, status, error, notes."""
        from ..formatting import json_safe

        identity = {k: getattr(self, k) for k in ("suite", *KEY_COLUMNS)}
        return json_safe(
            {
                **identity,
                "n_seeds": len(self.seeds),
                "seeds": list(self.seeds),
                **self.values,
                "id": self.id,
                "split": self.split,
                "n_sets": self.n_sets,
                "complete_sets": self.complete_sets,
                "status": self.status,
                "model_repos": list(self.repos),
                "model_repo_urls": [repo_url(r) for r in self.repos],
                "error": self.error,
                "notes": list(self.notes),
            }
        )


def _split_text(rows: pd.DataFrame) -> str:
    splits = sorted(set(zip(rows["split_rule"], rows["split_seed"], rows["test_fraction"])))
    texts = [
        f"holdout {float(frac):.0%} test, seed {seed}" if rule == "holdout" else str(rule)
        for rule, seed, frac in splits
    ]
    return texts[0] if len(texts) == 1 else f"mixed: {'; '.join(texts)}"


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


def _given_suites(suites: Sequence[SuiteConfig | str | Path]) -> dict[str, SuiteConfig]:
    from ..suites import SuiteConfig, load_suite

    out: dict[str, SuiteConfig] = {}
    for s in suites:
        cfg = s if isinstance(s, SuiteConfig) else load_suite(s)
        if cfg.name in out and out[cfg.name] != cfg:
            raise ConfigError(f"two different suites named {cfg.name!r} were given; pass one")
        out[cfg.name] = cfg
    return out


def _resolve_suite(name: str, given: Mapping[str, SuiteConfig]) -> SuiteConfig:
    """The suite `name`: a given one, else the built-in one (never a file the data names)."""
    from ..suites import builtin_suites, load_suite

    if name in given:
        return given[name]
    if name not in builtin_suites():
        raise UnknownNameError(
            f"the records' suite {name!r} is neither built in ({builtin_suites()}) nor given: "
            "pass its suite YAML (`rib leaderboard serve --suite FILE`, or "
            "`build_leaderboard(..., suites=[FILE])`)"
        )
    return load_suite(name)


def _score_suite(
    records: list[ResultRecord],
    keys: Sequence[ScoreKey],
    suite: SuiteConfig,
    settings: Mapping[str, Any],
) -> tuple[dict[ScoreKey, ScoreResult | str], str | None]:
    """``{key: ScoreResult or the error refusing it}`` and, when the suite's records were
    refused as a whole, that error (each configuration then scored on its own)."""
    from ..scoring import score_records

    rows = list(suite.datasets)
    try:
        table = score_records(records, suite, finetune_sets=rows, **settings)
        return {r.key: r for r in table}, None
    except RIBError as err:
        whole = str(err)
    logger.warning("suite %s: %s; scoring each configuration on its own", suite.name, whole)
    out: dict[ScoreKey, ScoreResult | str] = {}
    for key in keys:
        mine = [
            r
            for r in records
            if (r.model, r.model_revision) == (key.model, key.model_revision)
            and (r.method == PRETRAINED or (r.method, r.variant) == (key.method, key.variant))
        ]
        try:
            (out[key],) = score_records(mine, suite, finetune_sets=rows, **settings)
        except RIBError as err:
            logger.warning("%s %s (suite %s) not scored: %s", key.model, key.label, suite.name, err)
            out[key] = str(err)
    return out, whole


def _suite_rows(
    name: str,
    frame: pd.DataFrame,
    given: Mapping[str, SuiteConfig],
    settings: Mapping[str, Any],
) -> list[LeaderboardRow]:
    """The rows of one suite's records (`frame`), in no particular order."""
    from ..records import ResultRecord
    from ..scoring import ScoreKey, as_records

    tuned = frame[frame["method"] != PRETRAINED]
    groups = {
        ScoreKey(*(str(v) for v in k)): g
        for k, g in tuned.groupby(list(KEY_COLUMNS), sort=False, dropna=False)
    }
    if not groups:
        return []
    error_kind, whole = CONFLICT, None
    try:
        suite = _resolve_suite(name, given)
    except (UnknownNameError, ConfigError) as err:
        logger.warning("suite %s not scored: %s", name, err)
        scored: dict[ScoreKey, ScoreResult | str] = dict.fromkeys(groups, str(err))
        error_kind, n_sets = UNKNOWN_SUITE, 0
    else:
        records = as_records(frame[list(ResultRecord.columns())])
        scored, whole = _score_suite(records, list(groups), suite, settings)
        n_sets = len(suite.datasets)
    out = []
    for key, g in groups.items():
        got = scored[key]
        result = None if isinstance(got, str) else got
        seeds = result.seeds if result is not None else tuple(sorted({int(s) for s in g["seed"]}))
        row = LeaderboardRow(
            id=0,
            suite=name,
            model=key.model,
            model_revision=key.model_revision,
            method=key.method,
            variant=key.variant,
            split=_split_text(g),
            in_task_meaningful=set(g["split_rule"]) == {"holdout"},
            n_sets=n_sets,
            confidence=settings["confidence"],
            result=result,
            seeds=seeds,
            repos=tuple(sorted({r for r in g[REPO_COLUMN] if r})),
            runs=_runs(g),
            error=got if isinstance(got, str) else None,
            error_kind="" if result is not None else error_kind,
        )
        if result is not None and whole is not None:
            row.notes.append(
                f"scored on its own: the records of suite {name!r} do not score together ({whole})"
            )
        out.append(row)
    return out


def build_leaderboard(
    df: pd.DataFrame,
    correct: CorrectGetter | None = None,
    *,
    suites: Sequence[SuiteConfig | str | Path] = (),
    part: str = "test",
    n_boot: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> list[LeaderboardRow]:
    """Every leaderboard row of a results table (see the module docstring), sorted by suite,
    model, revision, method and variant, numbered from 1.

    Args:
        df: the result records (``ResultRecord`` columns, ``model_repo`` optional).
        correct: per-image correctness (``key -> (N,) bool``, e.g. from a results store):
            bootstrap intervals over test images.
        suites: suites of one's own (`SuiteConfig`s or suite YAML paths) for records whose
            suite is not built in; they take precedence over a built-in suite of that name.
        part, n_boot, confidence, seed: as in `scoring.score_records`.
    """
    from ..scoring.inputs import natural_key
    from .sources import normalise_frame

    df = normalise_frame(df, "the results table")
    if df.empty:
        raise ConfigError("the results table is empty: run `rib run CONFIG` (or `rib push`) first")
    df = df[df["eval_part"] == part]
    if df.empty:
        raise ConfigError(f"no results for evaluation part {part!r}; choose another --part")
    given = _given_suites(suites)
    settings = dict(correct=correct, part=part, n_boot=n_boot, confidence=confidence, seed=seed)
    out: list[LeaderboardRow] = []
    for name, sdf in df.groupby("suite", sort=True):
        out += _suite_rows(str(name), sdf, given, settings)
    if not out:
        raise ConfigError(
            "no fine-tuned results: the table holds only pretrained baselines; run a method "
            "with `rib run` or `rib finetune` first"
        )
    out.sort(key=lambda r: (r.suite, r.model, r.model_revision, r.method, natural_key(r.variant)))
    for k, row in enumerate(out, start=1):
        row.id = k
    return out
