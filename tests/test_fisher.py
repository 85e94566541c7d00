"""The EWC Fisher: batched per-sample gradients equal the per-sample loop; its data and
precision come from the run (the suite's sources, the training precision)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from imagenet_rib.methods.ewc.fisher import diagonal_fisher, sample_labels
from imagenet_rib.models import load_model, logits_of


def loop_fisher(model, x: torch.Tensor, y: torch.Tensor) -> dict[str, torch.Tensor]:
    """The previous implementation: one backward pass per image, given labels."""
    params = {n: p for n, p in model.named_parameters() if p.requires_grad}
    fisher = {n: torch.zeros_like(p) for n, p in params.items()}
    model.eval()
    for i in range(len(x)):
        logp = torch.log_softmax(logits_of(model, x[i : i + 1]).float(), dim=-1)[0]
        grads = torch.autograd.grad(logp[int(y[i])], list(params.values()), allow_unused=True)
        for (n, _), g in zip(params.items(), grads):
            if g is not None:
                fisher[n] += g.pow(2)
    return {n: f / len(x) for n, f in fisher.items()}


def max_rel_diff(a: dict, b: dict) -> float:
    """max_k |a_k - b_k| / max_k |b_k| over every entry of every tensor (the Fisher's scale:
    some entries, e.g. key biases of attention, are exactly 0 up to rounding)."""
    assert set(a) == set(b)
    scale = max(float(t.abs().max()) for t in b.values())
    return max(float((a[n] - b[n]).abs().max()) for n in b) / scale


@pytest.fixture(scope="module")
def vit(tiny_root):
    model = load_model(str(tiny_root / "model")).model
    model.vit.embeddings.patch_embeddings.projection.weight.requires_grad_(False)  # frozen
    return model


@pytest.mark.parametrize("kind", ["empirical", "sampled"])
@pytest.mark.parametrize("chunk", [5, None])  # 5: chunks of 5, 5 and 2
def test_vectorised_fisher_equals_the_per_sample_loop(vit, kind, chunk):
    torch.manual_seed(0)
    x = torch.randn(12, 3, 32, 32)
    y = torch.randint(0, 10, (12,))
    if kind == "sampled":  # the labels the vectorised estimator samples (seed 3)
        y = sample_labels(vit, x, np.random.default_rng(3).random(12))
    got = diagonal_fisher(
        vit, x, y if kind == "empirical" else None, kind=kind, seed=3, chunk=chunk
    )
    ref = loop_fisher(vit, x, y)
    assert set(got) == {n for n, p in vit.named_parameters() if p.requires_grad}
    assert max_rel_diff(got, ref) < 1e-5
    assert all(bool((f >= 0).all()) for f in got.values())


def test_sampled_labels_follow_the_model_probabilities():
    model = torch.nn.Linear(4, 3)
    with torch.no_grad():
        model.weight.zero_()
        model.bias.copy_(torch.tensor([0.0, np.log(3.0), 0.0]))  # p = (0.2, 0.6, 0.2)

    class Wrapped(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = model

        def forward(self, pixel_values):
            return self.fc(pixel_values)

    u = np.array([0.1, 0.19, 0.21, 0.5, 0.79, 0.81, 0.99])
    y = sample_labels(Wrapped(), torch.zeros(7, 4), u)
    assert y.tolist() == [0, 0, 1, 1, 1, 2, 2]  # inversion of the cumulative (0.2, 0.8, 1)


class Recorder(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = torch.nn.Linear(12, 5)
        self.seen: list[bool] = []

    def forward(self, pixel_values):
        self.seen.append(torch.is_autocast_enabled("cpu"))
        return self.fc(pixel_values.flatten(1))


@pytest.mark.parametrize("precision,expect", [("no", False), ("bf16", True)])
def test_fisher_runs_in_the_training_precision(precision, expect):
    model = Recorder()
    f = diagonal_fisher(model, torch.randn(6, 3, 2, 2), None, chunk=4, mixed_precision=precision)
    assert model.seen and all(s == expect for s in model.seen)
    assert all(t.dtype == torch.float32 for t in f.values())


EWC_CONFIG = """\
name: ewc-sources
suite: tiny/tiny-suite.yaml
models: [tiny/tiny-model]
methods:
  - name: ewc
    config: {fisher_dataset: tiny-val, fisher_samples: 8}
finetune_datasets: [tiny-a]
split: {rule: holdout, test_fraction: 0.3, seed: 0}
train: {lr: 0.01, max_steps: 2, warmup_steps: 0, batch_size: 8, save_steps: 0, num_workers: 0}
eval_batch_size: 16
output_dir: out
"""


@pytest.mark.slow
def test_ewc_in_a_sweep_reads_its_fisher_set_from_the_suite_sources(tmp_path, monkeypatch):
    """tiny-val exists only as the suite YAML's source (no environment variable, not a
    Mini-RIB set): the Fisher must be read from there."""
    from imagenet_rib.paths import cache_dir
    from imagenet_rib.results import ResultStore
    from imagenet_rib.sweep import BenchmarkConfig, run
    from support.rib_tiny import make_suite

    make_suite(tmp_path / "tiny")
    (tmp_path / "cfg.yaml").write_text(EWC_CONFIG)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("IMAGENET_RIB_DATA_DIR", raising=False)
    before = set((cache_dir() / "fisher").glob("*.safetensors"))
    result = run(BenchmarkConfig.load(tmp_path / "cfg.yaml"), progress=False)
    assert len(result.executed) == 2  # baseline + ewc
    store = ResultStore(tmp_path / "out" / "results.sqlite")
    ewc = store.records(method="ewc")
    assert {r.eval_dataset for r in ewc} == {"tiny-a", "tiny-b", "tiny-c", "tiny-val"}
    assert len(set((cache_dir() / "fisher").glob("*.safetensors")) - before) == 1
