"""Pretrain the shipped Mini-RIB models (`models.mini`) from their recipes (`SOURCES`).

A recipe is a seeded AdamW run of ``transformers.Trainer`` on one torch thread over the
model's pretraining set; the result is scored on all of ``mini-val`` (held out from
pretraining) and saved with ``rib_pretraining.json``, which records the training and the
provenance that decide the weights' bits. `scripts/train_mini_models.py` runs it.
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path
from typing import Any

from .models.mini import SOURCES, image_processor, vit_config

logger = logging.getLogger(__name__)


def validation_accuracy(model, transform, seed: int = 0) -> float:
    """Top-1 accuracy (%) of `model` on all of ``mini-val`` (held out from pretraining),
    on one torch thread as recorded in ``rib_pretraining.json``."""
    from .data.loading import load_split
    from .data.splits import SplitConfig
    from .determinism import torch_threads
    from .evaluation import evaluate_split

    val = load_split("mini-val", "test", SplitConfig(rule="none"), seed=seed)
    with torch_threads(1):
        return evaluate_split(model, transform, val).accuracy


def train_mini_model(
    name: str, out: Path, *, seed: int = 0, epochs: int | None = None, max_steps: int = -1
) -> dict[str, Any]:
    """Pretrain Mini-RIB model `name` into folder `out` (one torch thread); return its summary.

    Writes the `SHIPPED_FILES`; ``rib_pretraining.json`` records the training and the
    provenance (torch version, threads, CPU capability) that decide the weights' bits.
    """
    import torch
    import transformers
    from transformers import Trainer, TrainingArguments, ViTForImageClassification

    from .data.loading import load_split
    from .data.mini import MINI_VERSION
    from .data.splits import SplitConfig
    from .data.stream import ImageRows
    from .determinism import compute_provenance, torch_threads
    from .transforms import from_hf_processor

    source = SOURCES[name]
    out = Path(out)
    processor = image_processor()
    transform = from_hf_processor(processor)
    train = load_split(source.pretrain_set, "train", SplitConfig(rule="none"), seed=seed)
    with torch_threads(1):
        torch.manual_seed(seed)
        model = ViTForImageClassification(vit_config())
        args = TrainingArguments(
            output_dir=str(out / "_trainer"),
            per_device_train_batch_size=source.batch_size,
            num_train_epochs=epochs or source.epochs,
            max_steps=max_steps,
            learning_rate=source.learning_rate,
            weight_decay=0.05,
            warmup_steps=source.warmup_steps,
            lr_scheduler_type="cosine",
            seed=seed,
            data_seed=seed,
            save_strategy="no",
            report_to=[],
            logging_steps=50,
            use_cpu=True,
            disable_tqdm=True,
            dataloader_num_workers=0,
        )
        trainer = Trainer(
            model=model,
            args=args,
            train_dataset=ImageRows(train.dataset, transform, train.targets, normalize=True),
        )
        result = trainer.train()
        model = model.eval()
        acc = validation_accuracy(model, transform, seed)
        provenance = compute_provenance()
    model.save_pretrained(out)
    processor.save_pretrained(out)
    summary = {
        "name": name,
        "pretrain_set": source.pretrain_set,
        "suite_version": MINI_VERSION,
        "seed": seed,
        "epochs": args.num_train_epochs,
        "learning_rate": source.learning_rate,
        "train_loss": round(float(result.training_loss), 6),
        "steps": result.global_step,
        "mini_val_accuracy": acc,
        "provenance": {**provenance, "transformers_version": transformers.__version__},
    }
    (out / "rib_pretraining.json").write_text(json.dumps(summary, indent=2) + "\n")
    shutil.rmtree(out / "_trainer", ignore_errors=True)
    logger.info("pretrained %s: mini-val accuracy %.2f%%", name, acc)
    return summary
