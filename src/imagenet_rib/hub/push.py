"""Publishing: a run (weights + card + ``.eval_results``) to a model repo, its rows to a
leaderboard dataset, and the benchmark's ``eval.yaml``.

A run uploads an explicit list of files (`run_files`), JSON ones re-written without local
paths or credential-like keys. Credentials come only from huggingface_hub's own mechanisms (``HF_TOKEN``, ``hf auth login``);
this module never reads, logs or writes a token. The leaderboard is one Parquet file of
`ResultRecord` rows; an append reads the rows at the repo's head, merges (the new row wins on a
duplicate key) and commits with ``parent_commit`` = that head, retrying when another writer
committed in between, so concurrent pushes never lose each other's rows.
"""

from __future__ import annotations

import io
import json
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError, RIBError
from ..finetune import CONFIG_FILE, LOG_FILE, SUMMARY_FILE
from ..methods.visual_prompt import PROMPT_FILE
from ..methods.weights import MODEL_FILE
from ..records import RUN_ID_FILE, ResultRecord
from .card_facts import benchmark_eval_yaml, redact, redact_paths
from .model_card import RunCard, build_model_card

if TYPE_CHECKING:
    import pandas as pd

    from ..suites import SuiteConfig

logger = logging.getLogger(__name__)

LEADERBOARD_FILE = "data/results.parquet"
KEY = ["run_id", "variant", "eval_dataset", "eval_part"]
#: Column a leaderboard row adds to `ResultRecord`: the model repo its run was pushed to
#: ("" for the pretrained baseline rows and rows appended without a repo).
REPO_COLUMN = "model_repo"
#: What a finished run folder uploads (as `finetune` writes it), in this order; nothing else
#: (no checkpoints, stages or stray files).
REQUIRED_FILES = ("model.safetensors", MODEL_FILE, SUMMARY_FILE)
OPTIONAL_FILES = (
    "config.json",
    "preprocessor_config.json",
    PROMPT_FILE,
    CONFIG_FILE,
    RUN_ID_FILE,
    LOG_FILE,
)
_LEADERBOARD_CARD = """---
configs:
- config_name: default
  data_files:
  - split: train
    path: {path}
tags:
- imagenet-rib
- leaderboard
---

# ImageNet-RIB leaderboard results

One row per measured accuracy (top-1, percent) of a pretrained or fine-tuned model on one evaluation
dataset, with its full provenance: the columns of `imagenet_rib.records.ResultRecord`
({columns}), plus `model_repo`, the model repo a run was pushed to. Key: (run_id, variant,
eval_dataset, eval_part). Rows are appended by `rib push`;
compute RIB scores with `imagenet_rib.scoring.score_records(df, suite)`.
"""


@dataclass
class LeaderboardResult:
    repo_id: str
    rows_before: int
    rows_added: int
    rows_after: int
    commit: str

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class PushResult:
    repo_id: str
    commit: str
    files: list[str]
    leaderboard: LeaderboardResult | None = None
    card: RunCard | None = field(default=None, repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "repo_id": self.repo_id,
            "commit": self.commit,
            "files": self.files,
            "leaderboard": self.leaderboard.to_dict() if self.leaderboard else None,
        }


def run_files(run_dir: Path) -> list[Path]:
    """The files of a finished run folder that are published (see `REQUIRED_FILES`)."""
    lacking = [f for f in REQUIRED_FILES if not (run_dir / f).is_file()]
    if lacking:
        raise ConfigError(
            f"{run_dir} lacks {lacking}: it is not a finished run folder (`rib finetune` / "
            "`rib run` writes them when the run ends); finish the run first"
        )
    return [run_dir / f for f in (*REQUIRED_FILES, *OPTIONAL_FILES) if (run_dir / f).is_file()]


def public_bytes(path: Path) -> bytes | str:
    """What is uploaded for `path`: JSON / JSON Lines re-written without credentials or local
    paths (`card_facts.redact`) when that changes them, else the file itself (its path)."""
    if path.suffix not in (".json", ".jsonl"):
        return str(path)
    text = path.read_text()
    if path.suffix == ".json":
        data = json.loads(text)
        clean = redact(data)
        return (
            str(path)
            if clean == data
            else (json.dumps(clean, indent=2, sort_keys=True) + "\n").encode()
        )
    lines = [json.loads(line) for line in text.splitlines() if line.strip()]
    clean = [redact(x) for x in lines]
    return str(path) if clean == lines else "".join(json.dumps(x) + "\n" for x in clean).encode()


def _with_standard_files(run_dir: Path, ops: list[Any]) -> list[Any]:
    """`ops` with the folder's config.json / preprocessor_config.json as a standard checkpoint
    has them (`models.checkpoint`), so ``pipeline(model=repo_id)`` loads the pushed repo even
    from a folder written before run folders carried them; unchanged for a folder that cannot
    be one (a torchvision network, a visual prompt), whose card says so."""
    from huggingface_hub import CommitOperationAdd

    from ..models.checkpoint import hf_checkpoint_files, standard_problem

    problem = standard_problem(run_dir)
    if problem:
        logger.info("%s: transformers.pipeline() will not load the repo (%s)", run_dir, problem)
        return ops
    files = hf_checkpoint_files(run_dir)
    kept = [op for op in ops if op.path_in_repo not in files]
    return kept + [CommitOperationAdd(name, text.encode()) for name, text in files.items()]


def public_rows(df: pd.DataFrame) -> pd.DataFrame:
    """Leaderboard rows without local paths in their text columns (a local model folder, a
    soup's source folders in method_config)."""
    out = df.copy()
    for col in ("model", "model_revision", "method_config", "per_group"):
        out[col] = [redact_paths(v) for v in out[col]]
    return out


def run_operations(run_dir: Path, files: Sequence[Path], card: RunCard) -> list[Any]:
    """The ``CommitOperationAdd`` list of one run push: the published `files` (`run_files`,
    as `public_bytes`), the standard checkpoint files, ``README.md`` (the card) and the
    card's ``.eval_results`` files."""
    from huggingface_hub import CommitOperationAdd

    ops = [CommitOperationAdd(p.relative_to(run_dir).as_posix(), public_bytes(p)) for p in files]
    ops = _with_standard_files(run_dir, ops)
    ops.append(CommitOperationAdd("README.md", str(card.card).encode()))
    ops += [CommitOperationAdd(path, text.encode()) for path, text in card.eval_results.items()]
    return ops


def leaderboard_rows(card: RunCard, repo_id: str) -> pd.DataFrame:
    """The leaderboard rows a push of `card`'s run to model repo `repo_id` appends: the run's
    records (``model_repo`` = `repo_id`) then its baseline's (``model_repo`` = ""), as
    `public_rows`."""
    import pandas as pd

    run, baseline = card.rows.run, card.rows.baseline
    frame = pd.DataFrame([r.to_dict() for r in [*run, *baseline]], columns=ResultRecord.columns())
    frame[REPO_COLUMN] = [repo_id] * len(run) + [""] * len(baseline)
    return public_rows(frame)


def push_run(
    run_dir: str | Path,
    repo_id: str,
    records: Any,
    *,
    leaderboard_repo: str | None = None,
    private: bool | None = None,
    run_id: str | None = None,
    variant: str | None = None,
    commit_message: str | None = None,
    **card_options: Any,
) -> PushResult:
    """Upload the run folder's published files (`run_files`, with local paths redacted), its
    model card and its ``.eval_results`` files to `repo_id` in ONE commit; then append the
    run's rows (and its model's pretrained baseline rows) to `leaderboard_repo` if given.

    `card_options` go to `build_model_card` (suite, correct, benchmark, base_model, ...); a
    given benchmark repo must exist (publish it with `publish_benchmark_eval_yaml` first).
    """
    from huggingface_hub import HfApi

    run_dir = Path(run_dir)
    files = run_files(run_dir)
    card = build_model_card(
        records, run_dir, run_id=run_id, variant=variant, repo_id=repo_id, **card_options
    )
    api = HfApi()
    if card.benchmark and not api.repo_exists(card.benchmark, repo_type="dataset"):
        raise ConfigError(
            f"the benchmark dataset repo {card.benchmark} does not exist, so the card's "
            ".eval_results would cite a dataset that is not there; publish it first "
            "(`rib push ... --publish-eval-yaml`) or drop --benchmark"
        )
    ops = run_operations(run_dir, files, card)
    api.create_repo(repo_id, private=private, exist_ok=True)
    info = api.create_commit(
        repo_id,
        operations=ops,
        commit_message=commit_message
        or f"ImageNet-RIB run {card.rows.run_id}"
        + (f" [{card.rows.variant}]" if card.rows.variant else ""),
    )
    logger.info("pushed run %s to %s (%d files)", card.rows.run_id, repo_id, len(ops))
    result = PushResult(repo_id, info.oid, sorted(op.path_in_repo for op in ops), card=card)
    if leaderboard_repo:
        result.leaderboard = append_leaderboard(leaderboard_repo, leaderboard_rows(card, repo_id))
    return result


def _read_rows(api: Any, repo_id: str, revision: str) -> pd.DataFrame | None:
    import pandas as pd
    from huggingface_hub import hf_hub_download

    if LEADERBOARD_FILE not in api.list_repo_files(repo_id, repo_type="dataset", revision=revision):
        return None
    path = hf_hub_download(repo_id, LEADERBOARD_FILE, repo_type="dataset", revision=revision)
    df = pd.read_parquet(path)
    missing = sorted(set(ResultRecord.columns()) - set(df.columns))
    if missing:
        raise RIBError(
            f"{repo_id}/{LEADERBOARD_FILE} lacks column(s) {missing}: it is not an ImageNet-RIB "
            "leaderboard; choose another --leaderboard repo (nothing was changed)"
        )
    return df


def merge_rows(existing: pd.DataFrame | None, new: pd.DataFrame) -> pd.DataFrame:
    """Existing rows + new rows, one row per key (the new row wins), sorted by key."""
    import pandas as pd

    cols = ResultRecord.columns() + ([REPO_COLUMN] if REPO_COLUMN in new.columns else [])
    frames = [f for f in (existing, new[cols]) if f is not None and len(f)]
    merged = pd.concat(frames, ignore_index=True) if frames else new[cols].iloc[:0]
    if REPO_COLUMN in merged.columns:  # rows appended before the column existed: no repo known
        merged[REPO_COLUMN] = merged[REPO_COLUMN].fillna("")
    merged = merged.drop_duplicates(KEY, keep="last")
    return merged.sort_values(KEY, kind="stable").reset_index(drop=True)


def append_leaderboard(
    repo_id: str,
    rows: pd.DataFrame | Sequence[pd.DataFrame],
    *,
    private: bool | None = None,
    max_retries: int = 5,
) -> LeaderboardResult:
    """Append `rows` (ResultRecord columns) to the leaderboard dataset repo without losing any
    existing row (optimistic concurrency on the repo head, see the module docstring)."""
    import pandas as pd
    from huggingface_hub import CommitOperationAdd, HfApi
    from huggingface_hub.errors import HfHubHTTPError

    new = pd.concat(list(rows), ignore_index=True) if not isinstance(rows, pd.DataFrame) else rows
    missing = sorted(set(ResultRecord.columns()) - set(new.columns))
    if missing:
        raise ConfigError(f"leaderboard rows lack column(s) {missing}; pass ResultStore rows")
    api = HfApi()
    api.create_repo(repo_id, repo_type="dataset", private=private, exist_ok=True)
    for attempt in range(max_retries):
        head = api.repo_info(repo_id, repo_type="dataset").sha
        existing = _read_rows(api, repo_id, head)
        merged = merge_rows(existing, new)
        buf = io.BytesIO()
        merged.to_parquet(buf, index=False)
        ops = [CommitOperationAdd(LEADERBOARD_FILE, buf.getvalue())]
        if "README.md" not in api.list_repo_files(repo_id, repo_type="dataset", revision=head):
            text = _LEADERBOARD_CARD.format(
                path=LEADERBOARD_FILE, columns=", ".join(ResultRecord.columns())
            )
            ops.append(CommitOperationAdd("README.md", text.encode()))
        before = 0 if existing is None else len(existing)
        try:
            info = api.create_commit(
                repo_id,
                operations=ops,
                repo_type="dataset",
                parent_commit=head,
                commit_message=f"Add {len(merged) - before} ImageNet-RIB result rows",
            )
        except HfHubHTTPError as err:
            status = getattr(err.response, "status_code", None)
            if status in (409, 412) and attempt + 1 < max_retries:
                logger.info("leaderboard %s moved while appending; retrying", repo_id)
                time.sleep(0.2 * (attempt + 1))
                continue
            raise
        return LeaderboardResult(repo_id, before, len(merged) - before, len(merged), info.oid)
    raise RIBError(
        f"could not append to {repo_id} after {max_retries} attempts (concurrent writers)"
    )


def publish_benchmark_eval_yaml(
    repo_id: str,
    suite: SuiteConfig | str,
    *,
    name: str | None = None,
    description: str | None = None,
    private: bool | None = None,
) -> str:
    """Write ``eval.yaml`` at the root of the benchmark dataset repo (creating the repo if
    needed) so the Hub aggregates the models' ``.eval_results`` into its leaderboard.
    `suite` is a `SuiteConfig` or a suite name / YAML path for `suites.load_suite`."""
    from huggingface_hub import HfApi

    from ..suites import SuiteConfig, load_suite

    suite = suite if isinstance(suite, SuiteConfig) else load_suite(suite)
    text = benchmark_eval_yaml(
        suite, name=name or f"ImageNet-RIB ({suite.name})", description=description
    )
    api = HfApi()
    api.create_repo(repo_id, repo_type="dataset", private=private, exist_ok=True)
    info = api.upload_file(
        path_or_fileobj=text.encode(),
        path_in_repo="eval.yaml",
        repo_id=repo_id,
        repo_type="dataset",
        commit_message="Add the ImageNet-RIB benchmark eval.yaml",
    )
    return info.oid if hasattr(info, "oid") else str(info)
