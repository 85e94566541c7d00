"""The report's provenance section: what produced the numbers and what rendered them.

From the results: suite, split, seeds, label protocols, evaluation part, library versions,
record counts and times (`scoring.ScoreTable.provenance`), and the benchmark config when the
report was built from one. From the machine rendering the report: Python, dependency versions
and hardware. The results store records no hardware per run, so the hardware listed is the
rendering machine's, and the section says so.
"""

from __future__ import annotations

import json
import os
import platform
from importlib import metadata
from typing import Any

from .. import __version__
from ..formatting import MISSING, json_safe, markdown_table
from ..scoring import ScoreTable

#: Distributions whose versions the report lists.
DEPENDENCIES = (
    "numpy",
    "scipy",
    "pandas",
    "matplotlib",
    "torch",
    "transformers",
    "datasets",
    "accelerate",
    "evaluate",
    "peft",
    "POT",
    "huggingface_hub",
    "timm",
)


def dependency_versions() -> dict[str, str]:
    """``{distribution: version}`` of the installed dependencies (``not installed`` if absent)."""
    out = {"python": platform.python_version()}
    for name in DEPENDENCIES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def hardware() -> dict[str, str]:
    """The rendering machine: OS, CPU, core count, memory and the CUDA devices torch sees."""
    info = {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu cores": str(os.cpu_count()),
    }
    try:
        pages, size = os.sysconf("SC_PHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
        info["memory"] = f"{pages * size / 2**30:.1f} GiB"
    except (ValueError, OSError, AttributeError):  # not POSIX
        info["memory"] = MISSING
    import torch

    names = [torch.cuda.get_device_name(k) for k in range(torch.cuda.device_count())]
    info["gpus"] = ", ".join(names) or "none"
    return info


def provenance_markdown(table: ScoreTable, config: Any = None) -> str:
    """The ``## Provenance`` section of a report."""
    p = table.provenance
    split = p.get("split") or {}
    protocols = p.get("protocols") or {}
    lines = [
        "## Provenance",
        "",
        "### Results",
        "",
        markdown_table(
            ["item", "value"],
            [
                ["suite", table.suite.name],
                ["label space", p.get("label_space") or MISSING],
                ["evaluation part", table.part],
                [
                    "split",
                    f"{split.get('rule', MISSING)} (seed {split.get('seed', MISSING)}, "
                    f"test fraction {split.get('test_fraction', MISSING)})",
                ],
                ["seeds", ", ".join(map(str, p.get("seeds") or [])) or MISSING],
                ["runs / records", f"{p.get('num_runs', 0)} / {p.get('num_records', 0)}"],
                ["recorded between", " and ".join(p.get("time") or []) or MISSING],
                ["library version(s) of the runs", ", ".join(p.get("library_versions") or [])],
                ["intervals", table.interval_note().removeprefix("Intervals: ")],
            ],
            left=2,
        ),
        "",
        "### Label protocols",
        "",
        markdown_table(
            ["dataset", "protocol"],
            [[d, protocols[d]] for d in table.suite.eval_datasets if d in protocols],
            left=2,
        ),
        "",
    ]
    if config is not None:
        text = json.dumps(json_safe(config.to_dict()), indent=2, sort_keys=True)
        lines += ["### Benchmark config", "", "```json", text, "```", ""]
    lines += [
        "### Software and hardware",
        "",
        f"Rendered by imagenet-rib {__version__}. The results store records no hardware per "
        "run; the machine below rendered this report.",
        "",
        markdown_table(
            ["component", "version"], [[k, v] for k, v in dependency_versions().items()], left=2
        ),
        "",
        markdown_table(["hardware", "value"], [[k, v] for k, v in hardware().items()], left=2),
    ]
    return "\n".join(lines)
