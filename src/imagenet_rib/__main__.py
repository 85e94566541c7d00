"""``python -m imagenet_rib`` (and ``accelerate launch -m imagenet_rib``) runs the CLI."""

import sys

from .cli import main

sys.exit(main())
