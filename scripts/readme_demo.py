"""Keep README.md's demo block equal to what `make demo` prints on a fresh clone.

    python scripts/readme_demo.py          # copy docs/demo_output.txt into README.md's block
    python scripts/readme_demo.py --run    # first re-run the demo (fresh output folder and,
                                           # with --fresh-cache, an empty cache), store its
                                           # stdout in docs/demo_output.txt, report the time
    python scripts/readme_demo.py --run --workdir DIR   # resume DIR/rib-demo instead

`rib demo` prints its timings and run counts to stderr, so its stdout (the scores, the OTDD
section, the findings) is the same on every machine and for a fresh or a resumed run; the
block between the README's markers is that stdout verbatim. tests/test_readme_demo.py checks that README.md and docs/demo_output.txt
agree.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
EXPECTED = ROOT / "docs" / "demo_output.txt"
START = "<!-- demo-output:start (make demo-readme writes this block; do not edit) -->"
END = "<!-- demo-output:end -->"


def render(output: str) -> str:
    """The README block holding `output` verbatim, markers included."""
    return f"{START}\n```text\n{output.rstrip()}\n```\n{END}"


def block_of(readme: str) -> str:
    """The stdout stored in README text `readme` (between the markers, unfenced)."""
    if readme.count(START) != 1 or readme.count(END) != 1:
        raise SystemExit(f"README.md needs exactly one {START!r} ... {END!r} block")
    inner = readme[readme.index(START) + len(START) : readme.index(END)].strip("\n")
    lines = inner.splitlines()
    if len(lines) < 2 or lines[0] != "```text" or lines[-1] != "```":
        raise SystemExit("the README demo block must be one ```text fence between the markers")
    return "\n".join(lines[1:-1]) + "\n"


def sync(readme: str, output: str) -> str:
    """`readme` with its demo block replaced by `output`."""
    block_of(readme)  # checks the markers
    head, rest = readme.split(START, 1)
    return head + render(output) + rest.split(END, 1)[1]


def run_demo(fresh_cache: bool, workdir: Path | None = None) -> tuple[str, float]:
    """stdout of `rib demo` run in an empty folder (as after a fresh clone), or in `workdir`
    (resuming its ``rib-demo/``), and its wall time."""
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    with tempfile.TemporaryDirectory(prefix="rib-demo-readme-") as tmp:
        if fresh_cache:
            env["IMAGENET_RIB_CACHE"] = str(Path(tmp) / "cache")
        start = time.time()
        proc = subprocess.run(
            [sys.executable, "-m", "imagenet_rib", "demo"],
            cwd=tmp if workdir is None else workdir,
            env=env,
            stdout=subprocess.PIPE,
            text=True,
        )
        wall = time.time() - start
    if proc.returncode != 0:
        raise SystemExit(f"rib demo failed (exit {proc.returncode}); README left unchanged")
    return proc.stdout, wall


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", action="store_true", help="re-run the demo first")
    parser.add_argument(
        "--fresh-cache", action="store_true", help="with --run: start from an empty cache"
    )
    parser.add_argument(
        "--workdir",
        type=Path,
        default=None,
        help="with --run: run in this folder, resuming its rib-demo/ (default: an empty one)",
    )
    args = parser.parse_args()
    if args.run:
        load = os.getloadavg()[0]
        output, wall = run_demo(args.fresh_cache, args.workdir)
        EXPECTED.write_text(output)
        print(
            f"rib demo: {wall // 60:.0f} min {wall % 60:.0f} s wall "
            f"({'empty' if args.fresh_cache else 'existing'} cache, "
            f"{'resumed ' + str(args.workdir / 'rib-demo') if args.workdir else 'fresh'} runs; "
            "load average "
            f"{load:.1f} at the start, {os.getloadavg()[0]:.1f} at the end, "
            f"{os.cpu_count()} cores); wrote {EXPECTED.relative_to(ROOT)}"
        )
    if not EXPECTED.is_file():
        raise SystemExit(f"{EXPECTED} is missing: run with --run first")
    README.write_text(sync(README.read_text(), EXPECTED.read_text()))
    print(f"README.md demo block = {EXPECTED.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
