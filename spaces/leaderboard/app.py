"""The ImageNet-RIB leaderboard Space: a thin entry point to `imagenet_rib.leaderboard`.

It serves the leaderboard dataset named by the Space variable RIB_LEADERBOARD_DATASET, else by
the leaderboard.json that `rib leaderboard push --leaderboard ORG/NAME` writes next to this file.
"""

from pathlib import Path

from imagenet_rib.leaderboard.app import space_demo

demo = space_demo(Path(__file__).resolve().parent)

if __name__ == "__main__":
    demo.launch()
