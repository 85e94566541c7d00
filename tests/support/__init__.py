"""Support code of the test suite (not part of the library; never imported by `imagenet_rib`).

- `fake_hub`: a fake Hugging Face Hub server on 127.0.0.1 (standard library only) and the
  ``fake_hub`` fixture that points huggingface_hub / datasets / evaluate at it.
- `fault_inject`: runs the ``rib`` CLI as a script with a ``kill -9`` injected inside a write
  that must be all or nothing (a store transaction, a checkpoint's optimizer state).
- `layouts`: small image trees in the real download layouts (wnid folders, ImageNet-V2,
  ObjectNet, ImageNet-C) with the rows the converters must produce, and the ``hf_cache`` fixture.
- `report_data`: synthetic result records with accuracies in closed form (every score known
  exactly), toy suites and finished run folders for the report, card, Hub and leaderboard tests.
- `rib_tiny`: a ~40 k-parameter ViT folder, generated datasets and a suite YAML for the runner
  tests.
- `rib_train_helpers`: a tiny ViT and tiny datasets for the fine-tuning tests (the ``tiny_root``
  and ``tiny_env`` fixtures), and a quick `TrainConfig` dict.

`tests/conftest.py` registers the modules that define fixtures as pytest plugins, so test
modules use those fixtures without importing them.
"""
