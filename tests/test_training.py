"""The Trainer subclass: penalties in closed form, gradient accumulation, bad configs, resume."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from transformers import TrainerCallback

from imagenet_rib.data.splits import SplitConfig
from imagenet_rib.errors import ConfigError, UnknownNameError
from imagenet_rib.finetune import finetune
from imagenet_rib.methods import get_method
from imagenet_rib.methods.ewc import EWCRegulariser
from imagenet_rib.methods.ewc.fisher import diagonal_fisher
from imagenet_rib.methods.l2sp import L2SPRegulariser
from imagenet_rib.methods.lwf import LwFRegulariser
from imagenet_rib.training import TrainConfig
from support.rib_train_helpers import TINY, quick_train

SPLIT = SplitConfig(rule="none")


class Linear(torch.nn.Module):
    """logits = x W^T + b, called like the library's models (``pixel_values=``)."""

    def __init__(self, w: np.ndarray, b: np.ndarray) -> None:
        super().__init__()
        self.fc = torch.nn.Linear(w.shape[1], w.shape[0])
        with torch.no_grad():
            self.fc.weight.copy_(torch.tensor(w, dtype=torch.float32))
            self.fc.bias.copy_(torch.tensor(b, dtype=torch.float32))

    def forward(self, pixel_values):
        return self.fc(pixel_values)


def _ident(z):
    return z


def test_l2sp_and_ewc_penalties_match_closed_forms():
    m = Linear(np.array([[1.0, 2.0], [3.0, 4.0]]), np.array([0.5, -0.5]))
    l2 = L2SPRegulariser(lam=0.3)
    fisher = {
        "fc.weight": torch.tensor([[1.0, 0.0], [2.0, 0.5]]),
        "fc.bias": torch.tensor([4.0, 1.0]),
    }
    ewc = EWCRegulariser(lam=3.0, fisher_fn=lambda model: fisher)
    l2.setup(m)
    ewc.setup(m)
    with torch.no_grad():
        m.fc.weight += torch.tensor([[1.0, -1.0], [0.5, 2.0]])
        m.fc.bias += torch.tensor([0.1, -0.2])
    x = torch.zeros(1, 2)
    # sum of squared changes: 1 + 1 + 0.25 + 4 + 0.01 + 0.04 = 6.3
    assert l2.penalty(m, x, x, _ident).item() == pytest.approx(0.3 * 6.3)
    # sum F * d^2: 1*1 + 0*1 + 2*0.25 + 0.5*4 + 4*0.01 + 1*0.04 = 3.58; times lambda / 2
    assert ewc.penalty(m, x, x, _ident).item() == pytest.approx(1.5 * 3.58)


def test_lwf_kl_matches_hand_computation():
    w = np.array([[1.0, 0.0, -1.0], [0.5, 2.0, 0.0], [0.0, -1.0, 1.0]])
    teacher = Linear(w, np.zeros(3))
    reg = LwFRegulariser(get_method("lwf").make_config({"alpha": 0.7, "temperature": 2.0}))
    reg.setup(teacher)
    x = torch.tensor([[1.0, 2.0, 0.5], [-1.0, 0.0, 3.0]])
    student = torch.tensor([[0.2, -0.3, 1.0], [2.0, 0.0, -1.0]])
    t = x.numpy() @ w.T

    def softmax(z):
        e = np.exp(z - z.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    p, q = softmax(t / 2.0), softmax(student.numpy() / 2.0)
    expected = 0.7 * (p * (np.log(p) - np.log(q))).sum(axis=1)
    got = reg.penalty(None, x, student, _ident)
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-5)
    # same logit subset as the task loss: `reduce` is applied to the teacher too
    sub = lambda z: z[:, [0, 2]]  # noqa: E731
    p2, q2 = softmax(t[:, [0, 2]] / 2.0), softmax(student.numpy()[:, [0, 2]] / 2.0)
    got2 = reg.penalty(None, x, student[:, [0, 2]], sub)
    np.testing.assert_allclose(
        got2.numpy(), 0.7 * (p2 * (np.log(p2) - np.log(q2))).sum(axis=1), rtol=1e-5
    )


def test_empirical_fisher_of_softmax_regression_matches_closed_form():
    rng = np.random.default_rng(0)
    w, b = rng.normal(size=(3, 4)), rng.normal(size=3)
    x, y = rng.normal(size=(5, 4)), np.array([0, 2, 1, 1, 0])
    m = Linear(w, b)
    f = diagonal_fisher(m, torch.tensor(x, dtype=torch.float32), torch.tensor(y), kind="empirical")
    z = x @ w.T + b
    p = np.exp(z - z.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    r = np.eye(3)[y] - p  # d log p_y / d z
    np.testing.assert_allclose(
        f["fc.weight"].numpy(),
        np.mean([np.outer(ri, xi) ** 2 for ri, xi in zip(r, x)], 0),
        rtol=1e-4,
    )
    np.testing.assert_allclose(f["fc.bias"].numpy(), (r**2).mean(0), rtol=1e-4)


def test_gradient_accumulation_equals_the_large_batch(tiny_env, tmp_path):
    """batch 8 x 1 micro-batch == batch 8 as 4 x 2 (loss and weights after 2 SGD steps)."""
    from support.rib_train_helpers import make_dataset

    make_dataset(tmp_path / "data" / "mini-r", (0, 1, 2, 3, 4, 7), 8)
    common = dict(
        lr=0.5,
        momentum=0.0,
        warmup_steps=0,
        scheduler="constant",
        epochs=2,
        max_steps=-1,
        batch_size=8,
        save_steps=0,
        logging_steps=1,
    )
    cfg = {"l2sp": {"lam": 10.0}, "lwf": {"alpha": 5.0}}
    out = {}
    for ga in (1, 4):
        out[ga] = finetune(
            str(tiny_env / "model"),
            "l2sp+lwf",
            "mini-r",
            method_config=cfg,
            train={**common, "gradient_accumulation_steps": ga},
            split=SPLIT,
            source=str(tmp_path / "data" / "mini-r"),
            output_dir=tmp_path / f"ga{ga}",
        )
    logs = {ga: [r for r in out[ga].log if "loss" in r] for ga in out}
    assert len(logs[1]) == len(logs[4]) == 2
    assert logs[1][1]["loss/l2sp"] > 0 and logs[1][1]["loss/lwf"] > 0  # the regularisers act
    for a, b in zip(logs[1], logs[4]):
        assert a["loss"] == pytest.approx(b["loss"], rel=1e-5)
    for n, t in out[1].model.state_dict().items():
        torch.testing.assert_close(out[4].model.state_dict()[n], t, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize(
    ("method", "config", "match"),
    [
        ("no-such-method", None, "unknown method"),
        ("ewc", {"lam": -1.0}, "lam"),
        ("l2sp", {"lam": -0.1}, "lam"),
        ("lwf", {"alpha": -1}, "alpha"),
        ("lora", {"rank": 0}, "rank"),
        ("lora", {"target_modules": ["no_such_proj"]}, "do not exist"),
        ("linear-probe", {"variant": "deep"}, "variant"),
        ("ft", {"lr": 0.1}, "unknown option"),
    ],
)
def test_bad_configs_fail_before_training(method, config, match, tiny_env, tmp_path):
    with pytest.raises((ConfigError, UnknownNameError), match=match):
        finetune(
            str(tiny_env / "model"),
            method,
            "mini-r",
            method_config=config,
            train=quick_train(),
            split=SPLIT,
            output_dir=tmp_path / "run",
        )
    assert not (tmp_path / "run" / "model.safetensors").exists()
    assert not (tmp_path / "run" / "checkpoints").exists()


def test_bad_train_configs_name_the_fix():
    with pytest.raises(ConfigError, match="batch_size"):
        TrainConfig(batch_size=0)
    with pytest.raises(ConfigError, match="optimizer"):
        TrainConfig(optimizer="lamb")
    with pytest.raises(ConfigError, match="multiple of 4"):
        TrainConfig(batch_size=6, gradient_accumulation_steps=4).per_device_batch(1)


def test_head_that_does_not_match_the_mask_fails_before_training(tiny_env, tmp_path):
    from transformers import ViTForImageClassification

    from imagenet_rib.models.mini import image_processor, vit_config

    folder = tmp_path / "five-way"
    ViTForImageClassification(
        vit_config(
            **TINY,
            num_labels=5,
            id2label={i: str(i) for i in range(5)},
            label2id={str(i): i for i in range(5)},
        )
    ).save_pretrained(folder)
    image_processor().save_pretrained(folder)
    with pytest.raises(ConfigError, match="10-way head"):
        finetune(
            str(folder),
            "ft",
            "mini-r",
            train=quick_train(),
            split=SPLIT,
            output_dir=tmp_path / "run",
        )
    assert not (tmp_path / "run" / "checkpoints").exists()


class Crash(TrainerCallback):
    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step == 3:
            raise RuntimeError("simulated crash")


def test_killed_run_resumes_to_the_uninterrupted_weights(tiny_env, tmp_path):
    train = quick_train(
        max_steps=5, save_steps=2, lr=0.05, momentum=0.9, scheduler="cosine", warmup_steps=1
    )
    model = str(tiny_env / "model")
    ref = finetune(
        model,
        "ewc",
        "mini-r",
        method_config={"fisher_samples": 8},
        train=train,
        split=SPLIT,
        output_dir=tmp_path / "ref",
    )
    with pytest.raises(RuntimeError, match="simulated crash"):
        finetune(
            model,
            "ewc",
            "mini-r",
            method_config={"fisher_samples": 8},
            train=train,
            split=SPLIT,
            output_dir=tmp_path / "run",
            callbacks=[Crash()],
        )
    assert (tmp_path / "run" / "checkpoints" / "ewc" / "checkpoint-2").is_dir()
    assert not (tmp_path / "run" / "model.safetensors").exists()
    res = finetune(
        model,
        "ewc",
        "mini-r",
        method_config={"fisher_samples": 8},
        train=train,
        split=SPLIT,
        output_dir=tmp_path / "run",
    )
    for n, t in ref.model.state_dict().items():
        torch.testing.assert_close(res.model.state_dict()[n], t, atol=1e-6, rtol=1e-6)
    assert [r["step"] for r in res.log if "loss" in r] == [1, 2, 3, 4, 5]
    assert not (tmp_path / "run" / "checkpoints").exists()  # cleaned after the finish
    # a finished run is returned as is; a different config never overwrites it
    again = finetune(
        model,
        "ewc",
        "mini-r",
        method_config={"fisher_samples": 8},
        train=train,
        split=SPLIT,
        output_dir=tmp_path / "run",
        callbacks=[Crash()],
    )
    assert again.log == res.log
    with pytest.raises(ConfigError, match="different config"):
        finetune(
            model,
            "ewc",
            "mini-r",
            method_config={"fisher_samples": 9},
            train=train,
            split=SPLIT,
            output_dir=tmp_path / "run",
        )


class AutocastRecorder(torch.nn.Module):
    """A 10-way classifier recording, per forward, whether autocast was on."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = torch.nn.Linear(3 * 32 * 32, 10)
        self.seen: list[bool] = []

    def forward(self, pixel_values, **_):
        self.seen.append(torch.is_autocast_enabled("cpu"))
        return self.fc(pixel_values.flatten(1))


@pytest.mark.parametrize("precision", ["no", "bf16"])
def test_lwf_teacher_runs_in_the_training_precision_on_uint8_batches(precision, tmp_path):
    import datasets

    from imagenet_rib.data.labels import MINI_DIGITS
    from imagenet_rib.data.protocol import full_protocol
    from imagenet_rib.data.stream import ImageRows
    from imagenet_rib.methods.lwf.config import LwFConfig
    from imagenet_rib.models.mini import image_processor
    from imagenet_rib.trainer import build_trainer
    from imagenet_rib.transforms import from_hf_processor
    from support.rib_train_helpers import make_dataset

    make_dataset(tmp_path / "d", tuple(range(10)), 8)
    ds = datasets.load_from_disk(str(tmp_path / "d"))
    transform = from_hf_processor(image_processor())
    rows = ImageRows(ds, transform, np.arange(8) % 10)
    model, reg = AutocastRecorder(), LwFRegulariser(LwFConfig())
    cfg = TrainConfig(
        batch_size=4,
        max_steps=2,
        warmup_steps=0,
        save_steps=0,
        logging_steps=1,
        mixed_precision=precision,
        num_workers=1,
    )
    trainer = build_trainer(
        model,
        rows,
        full_protocol(MINI_DIGITS).reduce,
        cfg,
        tmp_path / "out",
        transform=transform,
        regularisers=[reg],
        num_processes=1,
    )
    trainer.train()
    on = precision == "bf16"
    assert len(reg.teacher.seen) == 2 and all(s == on for s in reg.teacher.seen)
    assert model.seen and all(s == on for s in model.seen)


def test_trainer_refuses_float_batches(tmp_path):
    from imagenet_rib.data.labels import MINI_DIGITS
    from imagenet_rib.data.protocol import full_protocol
    from imagenet_rib.models.mini import image_processor
    from imagenet_rib.trainer import build_trainer
    from imagenet_rib.transforms import from_hf_processor

    class Floats(torch.utils.data.Dataset):
        def __len__(self):
            return 4

        def __getitem__(self, i):
            return {"pixel_values": torch.zeros(3, 32, 32), "labels": 0}

    cfg = TrainConfig(batch_size=4, max_steps=1, warmup_steps=0, save_steps=0, num_workers=0)
    trainer = build_trainer(
        AutocastRecorder(),
        Floats(),
        full_protocol(MINI_DIGITS).reduce,
        cfg,
        tmp_path,
        transform=from_hf_processor(image_processor()),
        num_processes=1,
    )
    with pytest.raises(ConfigError, match="uint8"):
        trainer.train()


def test_num_workers_is_machine_provenance_not_part_of_the_run(tiny_env, tmp_path):
    import json

    common = dict(train=quick_train(max_steps=1), split=SPLIT)
    model = str(tiny_env / "model")
    finetune(model, "ft", "mini-r", output_dir=tmp_path / "r", **common)
    config = json.loads((tmp_path / "r" / "rib_config.json").read_text())
    assert "num_workers" not in config["train"]
    assert config["provenance"]["num_workers"] == TrainConfig().workers() >= 1
    # the same run with other workers is the same run (returned, not retrained or refused)
    again = finetune(
        model,
        "ft",
        "mini-r",
        output_dir=tmp_path / "r",
        train={**common["train"], "num_workers": 0},
        split=SPLIT,
    )
    assert again.run_dir == tmp_path / "r"


def test_finetune_names_its_options_when_one_is_unknown_or_missing(tmp_path):
    from imagenet_rib.finetune import FinetuneArgs

    with pytest.raises(ConfigError, match=r"unknown option\(s\) \['epochs'\]; the options are "):
        finetune("mini-vit-clean", "ft", "mini-sketch", output_dir=tmp_path, epochs=3)
    with pytest.raises(ConfigError, match="output_dir is required; the options are output_dir, "):
        finetune("mini-vit-clean", "ft", "mini-sketch")
    with pytest.raises(
        ConfigError, match=r"max_train_samples=0 is out of range; it must lie in \[1, inf\]"
    ):
        FinetuneArgs(model="m", method="ft", dataset="d", output_dir="o", max_train_samples=0)
    args = FinetuneArgs(model="m", method="ft", dataset="d", output_dir="o", sources={"d": "x"})
    assert args.data_source() == "x" and args.train_config() == TrainConfig()
    assert not tmp_path.joinpath("rib_config.json").exists()
