"""`rib report`: RIB score tables (Markdown, HTML) and the paper's figures from a results store."""

from __future__ import annotations

import argparse
import json


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "report",
        help="render score tables and figures from a results store",
        description="Compute RIB scores per (pretraining source, method) from a results store "
        "(or a .parquet/.csv export) and write report.md, report.html, scores.json and figures/.",
    )
    p.add_argument("--store", required=True, help="results store (results.sqlite) or an export")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument(
        "--format", default="md,html", help="comma-separated: md, html (default: md,html)"
    )
    p.add_argument(
        "--suite",
        nargs="+",
        default=None,
        help="downstream datasets in report order (default: the store's suite)",
    )
    p.add_argument("--reference", default=None, help="pretraining reference dataset")
    p.add_argument("--part", default="test", help="evaluation part to score (default: test)")
    p.add_argument(
        "--otdd",
        default=None,
        help="JSON file {dataset: OTDD} or {model: {dataset: OTDD}} for the scatter plot",
    )
    p.add_argument("--bar-method", default="ft", help="method of the OOD bar chart (default: ft)")
    p.add_argument("--n-boot", type=int, default=1000, help="bootstrap resamples (0: no bootstrap)")
    p.add_argument("--confidence", type=float, default=0.95, help="confidence level of intervals")
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed")
    p.add_argument(
        "--link-images",
        action="store_true",
        help="link figures from the HTML page instead of embedding them",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ..errors import ConfigError
    from ..report import build_report, load_results

    df, correct = load_results(args.store)
    otdd = None
    if args.otdd:
        path = Path(args.otdd)
        if not path.is_file():
            raise ConfigError(f"--otdd {path} does not exist; write `rib otdd` output there first")
        otdd = json.loads(path.read_text())
    result = build_report(
        df,
        args.out,
        correct=correct if args.n_boot > 0 else None,
        otdd=otdd,
        formats=[f.strip() for f in args.format.split(",") if f.strip()],
        suite=args.suite,
        reference=args.reference,
        part=args.part,
        bar_method=args.bar_method,
        n_boot=max(args.n_boot, 1),
        confidence=args.confidence,
        seed=args.seed,
        embed_images=not args.link_images,
    )
    for kind, path in {**result.paths, **result.figures}.items():
        print(f"{kind}: {path}")
    return 0
