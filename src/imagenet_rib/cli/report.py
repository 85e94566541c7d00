"""`rib report`: RIB score tables (Markdown, HTML) and the paper's figures from a results store."""

from __future__ import annotations

import argparse
from typing import Any


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "report",
        help="render score tables and figures from a results store",
        description="Compute RIB scores per (pretraining source, method) from a results store "
        "(or a .parquet/.csv export), print the summary and RI_i per fine-tuning set, and write "
        "report.md, report.html, scores.json and figures/.",
    )
    p.add_argument("--store", required=True, help="results store (results.sqlite) or an export")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument(
        "--format", default="md,html", help="comma-separated: md, html (default: md,html)"
    )
    p.add_argument(
        "--suite",
        default=None,
        help="the suite the runs used: built-in name or suite YAML (default: the store's suite, "
        "which must then be built in)",
    )
    p.add_argument(
        "--config",
        default=None,
        help="benchmark config (YAML or built-in name): report only its runs, in its order "
        "(needs a results store, not an export)",
    )
    p.add_argument("--part", default="test", help="evaluation part to score (default: test)")
    p.add_argument(
        "--otdd",
        default=None,
        help="OTDD file written by `rib otdd --suite SUITE --model MODEL --json FILE` for the "
        "OTDD-vs-degradation scatter plot",
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

    if args.n_boot < 0:  # never silently "no bootstrap"
        raise ConfigError(
            f"--n-boot {args.n_boot} is negative; give the number of bootstrap resamples "
            f"(e.g. 1000), or 0 for no bootstrap intervals"
        )
    vector = None
    if args.otdd:
        from ..otdd.vector import OTDDVector

        vector = OTDDVector.load(args.otdd)  # a clear error before any scoring work
    config = None
    if args.config:
        from ..results import ResultStore
        from ..sweep import scores
        from .run import load_config

        if Path(args.store).suffix in (".parquet", ".csv", ".jsonl"):
            raise ConfigError("--config needs the results store (results.sqlite), not an export")
        load_results(args.store)  # a clear error for a missing store
        config = load_config(args.config)
        results = scores(
            config,
            ResultStore(args.store),
            n_boot=args.n_boot,
            confidence=args.confidence,
            seed=args.seed,
        )
        correct = None
    else:
        results, correct = load_results(args.store)
    otdd = None if vector is None else _otdd_mapping(vector, results, args.suite, config)
    result = build_report(
        results,
        args.out,
        suite=args.suite,
        correct=correct if args.n_boot > 0 else None,
        config=config,
        otdd=otdd,
        formats=[f.strip() for f in args.format.split(",") if f.strip()],
        part=args.part,
        bar_method=args.bar_method,
        n_boot=args.n_boot,
        confidence=args.confidence,
        seed=args.seed,
        embed_images=not args.link_images,
    )
    from ..report.tables import PER_SET, per_set_table

    print(result.table.to_markdown(), end="\n\n")
    print(f"{PER_SET[0][1]}:\n{per_set_table(result.table, PER_SET[0][0])}", end="\n\n")
    for kind, path in {**result.paths, **result.figures}.items():
        print(f"{kind}: {path}")
    return 0


def _otdd_mapping(vector: Any, results: Any, suite: str | None, config: Any) -> dict[str, Any]:
    """The report's ``{model: {D_i: OTDD}}`` of an `OTDDVector`, checked against the records:
    the same suite, its reference set, and at least one model of the store."""
    from ..errors import ConfigError, RIBError
    from ..otdd.vector import WRITER
    from ..suites import load_suite

    if config is not None:
        names = {r.model for r in results}
        suite_cfg = config.load_suite()
    else:
        names = set(results["model"]) if "model" in results else set()
        stored = sorted(set(results["suite"])) if "suite" in results else []
        try:
            suite_cfg = load_suite(suite or stored[0]) if suite or stored else None
        except RIBError:  # build_report refuses an unknown suite with its own fix
            suite_cfg = None
    if suite_cfg is not None and vector.suite not in (None, suite_cfg.name):
        raise ConfigError(
            f"--otdd holds distances of suite {vector.suite!r} but the results are of suite "
            f"{suite_cfg.name!r}; recompute it with {WRITER.replace('SUITE', suite_cfg.name)}"
        )
    mapping = vector.report_mapping(suite_cfg.reference if suite_cfg is not None else None)
    models = [m for m in vector.models if m is not None]
    if models and names and not set(models) & names:
        raise ConfigError(
            f"--otdd gives distances for the models {models}, but the results are of "
            f"{sorted(names)}; compute it with the same --model names the runs used"
        )
    return mapping
