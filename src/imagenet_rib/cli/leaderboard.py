"""`rib leaderboard`: serve the leaderboard locally, or create / update its Hub Space."""

from __future__ import annotations

import argparse


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "leaderboard",
        help="browse the RIB scores in a Gradio app, or deploy it as a Hub Space",
        description="The leaderboard: one row per (pretraining source, method, variant, suite) "
        "with mRI and its interval, average OOD accuracy before / after, pretraining-set "
        "degradation, in-task gain, seeds and model repos; a detail view per row. Needs "
        "gradio to serve: pip install 'imagenet-rib[leaderboard]'.",
    )
    sub = p.add_subparsers(dest="leaderboard_command", metavar="ACTION", required=True)

    s = sub.add_parser(
        "serve",
        help="run the leaderboard app locally",
        description="Serve the leaderboard of ONE results source until interrupted. A results "
        "store is opened read-only (never modified, safe while `rib run` writes to it).",
    )
    src = s.add_mutually_exclusive_group(required=True)
    src.add_argument("--store", help="results store (results.sqlite) or an export of it")
    src.add_argument("--parquet", help="a Parquet (or .csv / .jsonl) export of a results store")
    src.add_argument("--dataset", help="Hub leaderboard dataset id (ORG/NAME, from `rib push`)")
    s.add_argument("--revision", default=None, help="revision of --dataset (default: main)")
    s.add_argument(
        "--suite",
        action="append",
        default=[],
        metavar="YAML",
        help="suite YAML for records of a suite that is not built in (repeatable); rows of a "
        "suite neither built in nor given show an error instead of scores",
    )
    s.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1)")
    s.add_argument("--port", type=int, default=7860, help="port (default: 7860)")
    s.add_argument("--n-boot", type=int, default=1000, help="bootstrap resamples (default: 1000)")
    s.add_argument("--confidence", type=float, default=0.95, help="interval level (default: 0.95)")
    s.add_argument("--seed", type=int, default=0, help="bootstrap seed (default: 0)")
    s.set_defaults(func=run_serve)

    u = sub.add_parser(
        "push",
        help="create or update the leaderboard's Hub Space",
        description="Create (or update) a Gradio Space serving a leaderboard dataset, with the "
        "files of spaces/leaderboard/ and the dataset id in its README metadata and "
        "leaderboard.json, in one commit. Authentication: HF_TOKEN or `hf auth login`.",
    )
    u.add_argument("--repo-id", required=True, help="Space repo to create/update (ORG/NAME)")
    u.add_argument("--leaderboard", required=True, help="leaderboard dataset it serves (ORG/NAME)")
    u.add_argument("--revision", default=None, help="pin the dataset revision (default: latest)")
    u.add_argument("--private", action="store_true", help="create the Space as private")
    u.add_argument(
        "--requirement",
        default=None,
        help="requirements.txt line that installs imagenet-rib on the Space (default: the "
        "template's `imagenet-rib[leaderboard]==VERSION`), e.g. a git URL of a release",
    )
    u.set_defaults(func=run_push)


def run_serve(args: argparse.Namespace) -> int:
    from ..errors import ConfigError
    from ..leaderboard.app import import_gradio, make_app, serve

    import_gradio()  # fail before the (possibly long) scoring if gradio is missing
    if not 0 < args.port < 65536:
        raise ConfigError(f"--port {args.port} must lie in 1..65535")
    if args.n_boot < 2:
        raise ConfigError(f"--n-boot {args.n_boot} must be >= 2 (1000 or more for 95% intervals)")
    board = make_app(
        args.store,
        parquet=args.parquet,
        dataset=args.dataset,
        revision=args.revision,
        suites=args.suite,
        n_boot=args.n_boot,
        confidence=args.confidence,
        seed=args.seed,
    )
    print(f"leaderboard: {len(board.rows)} rows from {board.origin}")
    print(f"serving on http://{args.host}:{args.port}/ (Ctrl+C to stop)", flush=True)
    serve(board, host=args.host, port=args.port)
    return 0


def run_push(args: argparse.Namespace) -> int:
    from ..leaderboard.space import push_space

    result = push_space(
        args.repo_id,
        args.leaderboard,
        revision=args.revision,
        private=args.private or None,
        requirement=args.requirement,
    )
    print(f"pushed {len(result.files)} files to Space {result.repo_id} (commit {result.commit})")
    print(f"serving {result.dataset}: {result.url}")
    return 0
