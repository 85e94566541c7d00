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
        help="first (re)write eval.yaml on the --benchmark dataset repo (creating it)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from huggingface_hub import get_token

    from ..errors import ConfigError
    from ..hub import publish_benchmark_eval_yaml, push_run
    from ..report import load_results

    if get_token() is None:  # before reading or building anything
        raise ConfigError(
            "no Hugging Face token: set HF_TOKEN to a token with write access, or run "
            "`hf auth login` once (rib never takes a token on the command line)"
        )
    df, correct = load_results(args.store)
    if args.publish_eval_yaml:
        if not args.benchmark:
            raise ConfigError(
                "--publish-eval-yaml needs --benchmark REPO (the dataset repo to write)"
            )
        suite = args.suite or _suite_of(df)
        publish_benchmark_eval_yaml(args.benchmark, suite)
        print(f"eval.yaml: {args.benchmark}")
    result = push_run(
        args.run_dir,
        args.repo_id,
        df,
        leaderboard_repo=args.leaderboard,
        private=args.private or None,
        run_id=args.run_id,
        variant=args.variant,
        **card_options(args, correct),
    )
    print(f"pushed {len(result.files)} files to {result.repo_id} (commit {result.commit})")
    if result.leaderboard is not None:
        lb = result.leaderboard
        print(f"leaderboard {lb.repo_id}: {lb.rows_before} -> {lb.rows_after} rows")
    return 0


def _suite_of(df) -> str:
    from ..errors import ConfigError

    names = sorted(set(df["suite"]))
    if len(names) != 1:
        raise ConfigError(f"the store holds suites {names}; name the run's suite with --suite")
    return names[0]
