"""`rib push`: upload a run (weights, card, .eval_results) and append it to a leaderboard."""

from __future__ import annotations

import argparse

from .card import add_card_options, card_options


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "push",
        help="upload a fine-tuned run to the Hub",
        description="Upload a run folder with its model card and .eval_results to a model repo "
        "in one commit, then append its result rows to a leaderboard dataset. Authentication: "
        "HF_TOKEN or `hf auth login` (never a command-line flag).",
    )
    add_card_options(p)
    p.add_argument("--repo-id", required=True, help="model repo to create/update (user/name)")
    p.add_argument("--leaderboard", default=None, help="leaderboard dataset repo to append rows to")
    p.add_argument("--private", action="store_true", help="create the model repo as private")
    p.add_argument(
        "--publish-eval-yaml",
        action="store_true",
        help="also (re)write eval.yaml on the benchmark dataset repo",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..hub import publish_benchmark_eval_yaml, push_run
    from ..report import load_results

    df, _ = load_results(args.store)
    result = push_run(
        args.run_dir,
        args.repo_id,
        df,
        leaderboard_repo=args.leaderboard,
        private=args.private or None,
        run_id=args.run_id,
        variant=args.variant,
        **card_options(args),
    )
    print(f"pushed {len(result.files)} files to {result.repo_id} (commit {result.commit})")
    if result.leaderboard is not None:
        lb = result.leaderboard
        print(f"leaderboard {lb.repo_id}: {lb.rows_before} -> {lb.rows_after} rows")
    if args.publish_eval_yaml and result.card is not None:
        publish_benchmark_eval_yaml(
            result.card.benchmark,
            result.card.suite,
            name=f"ImageNet-RIB ({result.card.rows.first['suite']})",
        )
        print(f"eval.yaml: {result.card.benchmark}")
    return 0
