"""Datasets: label spaces, the label protocol, the dataset registry, splits, the Mini-RIB suite.

Every dataset of a suite is an HF `datasets.Dataset` with one schema (`schema.py`), labels
in its suite's pretraining label space, and a registry entry (`specs.py`) that owns its
label subset / ObjectNet mapping and its scoring rule.
"""
