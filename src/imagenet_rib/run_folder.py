"""A run folder on disk: its files, its config, its lock and the checks before any write.

Layout (see `finetune`): ``rib_config.json`` (the resolved config), ``train_log.jsonl``,
``checkpoints/``, ``stages/``, the finalized model files and ``train_summary.json``
(written last: its presence marks a finished run). A folder is used only if it is new,
empty or a run folder of the very same run; it is locked (`locks.folder_lock`) while a
process trains in it.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

from .errors import ConfigError
from .paths import atomic_write_text

CONFIG_FILE, LOG_FILE, SUMMARY_FILE = "rib_config.json", "train_log.jsonl", "train_summary.json"
#: TrainConfig fields that change how fast a run goes, never its result (not its identity)
MACHINE_FIELDS = ("num_workers",)


def is_main() -> bool:
    return int(os.environ.get("RANK", "0")) == 0


def read_log(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def trim_log(path: Path, stage: str, keep_until: int) -> None:
    """Drop log lines of `stage` after step `keep_until` (they are re-logged on resume)."""
    if path.exists():
        rows = [r for r in read_log(path) if r.get("stage", "") != stage or r["step"] <= keep_until]
        atomic_write_text(path, "".join(json.dumps(r) + "\n" for r in rows))


def read_config(run_dir: Path) -> dict[str, Any]:
    """The ``rib_config.json`` of a run folder (ConfigError if it is unreadable)."""
    path = Path(run_dir) / CONFIG_FILE
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise ConfigError(
            f"{path} is unreadable or not valid JSON ({err}); the run folder is damaged "
            f"(e.g. a copy cut short): copy it again from where it was written, or delete the "
            f"folder and re-run the fine-tuning"
        ) from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path} must hold a JSON object; the run folder is damaged")
    return data


def check_folder(run_dir: Path, resolved: dict[str, Any]) -> bool:
    """True if `run_dir` holds this run already, False if it is absent or empty; raises if it
    is a file, a folder of other files, or a run folder of a different run (left untouched)."""
    if run_dir.exists() and not run_dir.is_dir():
        raise ConfigError(
            f"output folder {run_dir} is a file; give the path of a new or existing run folder"
        )
    above = next((p for p in run_dir.absolute().parents if p.exists()), None)
    if above is not None and not above.is_dir():
        raise ConfigError(
            f"output folder {run_dir} would be inside the file {above}; give a folder path"
        )
    path = run_dir / CONFIG_FILE
    if not path.exists():
        # a process killed while writing the config leaves only its temporary file
        theirs = [
            p.name
            for p in (run_dir.iterdir() if run_dir.is_dir() else ())
            if not re.fullmatch(rf"\.{re.escape(CONFIG_FILE)}\.tmp-[0-9a-f]{{8}}", p.name)
        ]
        if theirs:
            shown = sorted(theirs)[:5]
            raise ConfigError(
                f"output folder {run_dir} is not empty ({shown}) and is not a run folder (no "
                f"{CONFIG_FILE}); it was left untouched: give a new or empty folder"
            )
        return False
    old = read_config(run_dir)
    if isinstance(old.get("train"), dict):  # folders written before these moved to provenance
        old["train"] = {k: v for k, v in old["train"].items() if k not in MACHINE_FIELDS}
    strip = lambda d: {k: v for k, v in d.items() if k != "provenance"}  # noqa: E731
    if strip(old) != strip(resolved):
        diff = sorted(
            k
            for k in set(old) | set(resolved)
            if k != "provenance" and old.get(k) != resolved.get(k)
        )
        raise ConfigError(
            f"run folder {run_dir} holds a run with a different config (differs in {diff}); "
            f"pass another output_dir or delete that folder to replace it"
        )
    return True


def run_lock(run_dir: Path):
    """The run folder's lock (main process only: the ranks of one launch share the folder)."""
    from .locks import folder_lock

    return folder_lock(run_dir, what="run folder") if is_main() else contextlib.nullcontext()


def start(run_dir: Path, resolved: dict[str, Any], resume: bool) -> None:
    """Create the run folder (or reuse it) and write its config: the first write of a run."""
    if not is_main():
        return
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        if not resume:  # retrain: the folder is no longer a finished run until it is again
            (run_dir / SUMMARY_FILE).unlink(missing_ok=True)
            for stale in (run_dir / "checkpoints", run_dir / "stages"):
                shutil.rmtree(stale, ignore_errors=True)
            (run_dir / LOG_FILE).unlink(missing_ok=True)
        atomic_write_text(
            run_dir / CONFIG_FILE, json.dumps(resolved, indent=2, sort_keys=True) + "\n"
        )
    except PermissionError as err:
        raise ConfigError(
            f"cannot write the run folder {run_dir} ({err.strerror}); choose a writable "
            f"--output-dir"
        ) from None


def publish_final(
    run_dir: Path, module: Any, info: dict[str, Any], summary: dict[str, Any]
) -> None:
    """Write a finished run's model (a standard HF checkpoint: `models.checkpoint`) and then
    its summary, the mark of a finished run; drop the checkpoints and stage snapshots.

    The model files are written to a temporary folder and renamed into place one by one, so
    an interrupted write never leaves a summary beside half a model."""
    import uuid

    from .methods.weights import save_module
    from .models.checkpoint import write_hf_checkpoint

    tmp = run_dir / f".final-{uuid.uuid4().hex[:8]}"
    save_module(module, tmp, info)
    write_hf_checkpoint(tmp)  # preprocessor_config.json, id2label: pipeline() loads it
    for f in tmp.iterdir():
        os.replace(f, run_dir / f.name)
    tmp.rmdir()
    atomic_write_text(run_dir / SUMMARY_FILE, json.dumps(summary, indent=2) + "\n")
    shutil.rmtree(run_dir / "checkpoints", ignore_errors=True)
    shutil.rmtree(run_dir / "stages", ignore_errors=True)


def resolved_config(
    loaded: Any,
    method: str,
    method_config: Any,
    dataset: str,
    protocol: Any,
    split: Any,
    train: Any,
    *,
    max_train_samples: int | None,
    source: str | None,
    sources: dict[str, str],
) -> dict[str, Any]:
    """The run folder's ``rib_config.json``: everything that decides the run's result (a
    folder never takes a different one), plus its machine ``provenance`` (never compared)."""
    from . import __version__
    from .determinism import compute_provenance
    from .state import revision_of

    train_cfg = {k: v for k, v in train.to_dict().items() if k not in MACHINE_FIELDS}
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    config = {
        "model": {
            "name": loaded.name,
            "revision": revision_of(loaded),  # as `rib run` records it
            "kind": loaded.kind,
            "label_space": loaded.label_space,
            "transform": loaded.transform.to_dict(),
        },
        "method": method,
        "method_config": method_config.to_dict(),
        "dataset": dataset,
        "protocol": protocol.to_dict(),
        "split": split.to_dict(),
        "train": train_cfg,
        "max_train_samples": max_train_samples,
        "source": source,
        # what decides the float bits besides the config
        "provenance": {
            "library_version": __version__,
            "world_size": world_size,
            "sources": sources,
            "num_workers": train.workers(),
            **compute_provenance(),
        },
    }
    return json.loads(json.dumps(config, sort_keys=True, default=str))
