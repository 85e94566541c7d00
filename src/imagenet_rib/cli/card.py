"""`rib card`: the model card (+ .eval_results files) of a fine-tuned run."""

from __future__ import annotations

import argparse


def add_card_options(p: argparse.ArgumentParser) -> None:
    """Options shared by `rib card` and `rib push`."""
    p.add_argument("run_dir", metavar="RUN_DIR", help="run folder (holds rib_config.json)")
    p.add_argument("--store", required=True, help="results store holding the run's records")
    p.add_argument(
        "--run-id",
        default=None,
        help="the run's id in the store (default: the one RUN_DIR/rib_run.json records; needed "
        "for folders not made by `rib run`)",
    )
    p.add_argument("--variant", default=None, help="variant of the run's records, if several")
    p.add_argument(
        "--suite",
        default=None,
        help="the suite the run used: built-in name or suite YAML (default: the records' suite)",
    )
    p.add_argument(
        "--benchmark",
        default=None,
        help="benchmark dataset repo (must exist, e.g. made by --publish-eval-yaml) that the "
        ".eval_results files point at; without it no .eval_results are written",
    )
    p.add_argument(
        "--base-model", default=None, help="Hub id of the pretrained model (default: known ids)"
    )
    p.add_argument(
        "--license",
        default=None,
        help="licence of the fine-tuned weights (default: the pretrained model's where known, "
        "else 'other')",
    )


def card_options(args: argparse.Namespace, correct) -> dict:
    return {
        "suite": args.suite,
        "correct": correct,
        "benchmark": args.benchmark,
        "base_model": args.base_model,
        "license": args.license,
    }


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "card",
        help="write the model card of a fine-tuned run",
        description="Write README.md (model card with model-index metadata and intervals) and, "
        "with --benchmark, .eval_results/*.yaml for the run held by RUN_DIR, from ITS records "
        "in the results store only.",
    )
    add_card_options(p)
    p.add_argument(
        "--out",
        default=None,
        help="card path (default: RUN_DIR/README.md); the "
        ".eval_results folder is written next to it",
    )
    p.add_argument("--repo-id", default=None, help="model repo id (names the model in the card)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ..hub import build_model_card
    from ..paths import atomic_write_text
    from ..report import load_results

    df, correct = load_results(args.store)
    card = build_model_card(
        df,
        args.run_dir,
        run_id=args.run_id,
        variant=args.variant,
        repo_id=args.repo_id,
        **card_options(args, correct),
    )
    out = Path(args.out) if args.out else Path(args.run_dir) / "README.md"
    atomic_write_text(out, str(card.card))
    print(f"card: {out}")
    for rel, text in card.eval_results.items():
        path = out.parent / rel
        atomic_write_text(path, text)
        print(f"eval results: {path}")
    return 0
