"""The `evaluate` metric modules shipped inside the package: ``rib`` and ``otdd``.

Each is a folder (``<name>/<name>.py`` + its card ``README.md`` + a Space ``app.py``) that
`evaluate.load` takes by path, offline and from any working directory::

    import evaluate
    from imagenet_rib import metrics

    rib = evaluate.load(metrics.path("rib"))
    otdd = evaluate.load(metrics.path("otdd"))

``rib metrics push --namespace ORG`` publishes them as Hub Spaces (`push_metric`), after
which ``evaluate.load("ORG/rib")`` works too.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from ..registry import Registry

#: metric name -> folder of its evaluate module
METRICS: Registry[Path] = Registry("metric")
for _name in ("rib", "otdd"):
    METRICS.register(_name, Path(str(files(__package__) / _name)))

#: the files of a module folder that make its Space
SPACE_FILES = ("*.py", "README.md", "requirements.txt")


def path(name: str) -> str:
    """Folder of metric module `name`, for ``evaluate.load(path(name))``."""
    return str(METRICS.get(name))


def names() -> list[str]:
    return METRICS.names()
