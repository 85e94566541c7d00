"""RIB: robustness-inheritance scores of a fine-tuned classifier (an `evaluate` metric).

A thin wrapper over `imagenet_rib.scores`: every input row is ONE evaluation, the accuracy
(config 'accuracy') or the per-image correctness (config 'correctness') on `eval_set` of the
model fine-tuned on `finetune_set`, next to the pretrained model's on the same `eval_set`.
"""

import datasets
import evaluate
import numpy as np

from imagenet_rib.intervals import bootstrap_rib
from imagenet_rib.metrics.inputs import check_accuracies, check_correctness
from imagenet_rib.scores import compute_rib

_CITATION = """\
@article{hwang2024imagenetrib,
  title   = {ImageNet-RIB Benchmark: Large Pre-Training Datasets Don't Guarantee Robustness after Fine-Tuning},
  author  = {Hwang, Jaedong and Cheung, Brian and Hong, Zhang-Wei and Boopathy, Akhilan and Agrawal, Pulkit and Fiete, Ila},
  journal = {arXiv preprint arXiv:2410.21582},
  year    = {2024}
}
"""

_DESCRIPTION = """\
Robustness Inheritance Benchmark scores. With A_pre(j) the pretrained model's top-1 accuracy
on dataset D_j and A(i->j) the accuracy on D_j after fine-tuning on D_i:
dA(i->j) = A(i->j) - A_pre(j); RI_i = mean over j != i of dA(i->j); mRI = mean over i of RI_i;
pretraining-set degradation A(i->ref) - A_pre(ref); in-task gain A(i->i) - A_pre(i).
Missing cells are NaN (None in the output) and listed, never averaged as 0.
"""

_KWARGS_DESCRIPTION = """
One row per (fine-tuning set, evaluation set) pair.
Args:
    predictions: config 'accuracy': A(i->j), the fine-tuned model's top-1 accuracy in percent.
        Config 'correctness': the per-image top-1 correctness (list of bool) on eval_set.
    references: the pretrained model's accuracy (or per-image correctness, the SAME images in
        the same order) on eval_set; it must be identical in every row with that eval_set.
    finetune_set: the dataset the model of this row was fine-tuned on (D_i).
    eval_set: the dataset it was evaluated on (D_j, or the reference).
    suite: the ordered dataset names D_1..D_n (default: the eval_set values in order of
        appearance, without `reference`).
    reference: the pretraining reference set (e.g. "imagenet-val"), optional.
    finetune_sets: the rows to score (default: the whole suite).
    n_boot, confidence, seed: bootstrap options (config 'correctness' only).
    scale: config 'accuracy' only. None (default): accuracies are percentages and values in
        (0, 1] next to larger ones (fractions mixed with percentages), or all values in
        [0, 1], are refused; "percent": trust the values; "fraction": all values are
        fractions, multiplied by 100.
    Correctness vectors must hold bools or 0/1 integers (floats are refused, not cast).
Returns:
    The RIB scores (config 'correctness': with paired bootstrap intervals over images):
    'mri', 'ri', 'mean_acc_pre', 'avg_ood_post', 'reference_degradation', 'in_task_gain',
    'delta' (nested dict i -> j -> dA), 'missing'.
Examples:
    >>> from imagenet_rib import metrics
    >>> rib = evaluate.load(metrics.path("rib"))
    >>> rib.compute(
    ...     predictions=[60.0, 40.0, 70.0, 55.0],
    ...     references=[50.0, 50.0, 60.0, 60.0],
    ...     finetune_set=["a", "b", "a", "b"],
    ...     eval_set=["b", "a", "ref", "ref"],
    ...     suite=["a", "b"], reference="ref",
    ... )["mri"]
    0.0
"""


def _pretrained(references, eval_set, check):
    """{eval_set: pretrained value}, checking that repeated rows agree."""
    out = {}
    for value, name in zip(references, eval_set):
        if name in out and not check(out[name], value):
            raise ValueError(
                f"the pretrained model's value on {name!r} differs between rows; every row with "
                f"eval_set={name!r} must carry the same reference"
            )
        out.setdefault(name, value)
    return out


def _same_accuracy(a, b):
    """Equal, both missing (None), or both NaN (NaN != NaN)."""
    return a == b or (a != a and b != b)


def _post(predictions, finetune_set, eval_set):
    out = {}
    for value, i, j in zip(predictions, finetune_set, eval_set):
        if j in out.setdefault(i, {}):
            raise ValueError(
                f"two rows for fine-tuning set {i!r} evaluated on {j!r}; give each pair once"
            )
        out[i][j] = value
    return out


def _suite(suite, eval_set, reference):
    if suite is not None:
        return list(suite)
    return [j for j in dict.fromkeys(eval_set) if j != reference]


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class Rib(evaluate.Metric):
    def _info(self):
        if self.config_name == "correctness":
            value = datasets.List(datasets.Value("bool"))
        elif self.config_name in ("default", "accuracy"):
            value = datasets.Value("float64")
        else:
            raise ValueError(
                f"unknown config {self.config_name!r}; choose 'accuracy' (default) or 'correctness'"
            )
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features(
                {
                    "predictions": value,
                    "references": value,
                    "finetune_set": datasets.Value("string"),
                    "eval_set": datasets.Value("string"),
                }
            ),
            homepage="https://github.com/FieteLab/ImageNet-RIB",
            reference_urls=["https://arxiv.org/abs/2410.21582"],
        )

    def add_batch(self, *, predictions=None, references=None, **kwargs):
        """Add rows; correctness vectors are checked before `evaluate` casts them to bools."""
        if self.config_name == "correctness":
            check_correctness(predictions, "predictions")
            check_correctness(references, "references")
        super().add_batch(predictions=predictions, references=references, **kwargs)

    def add(self, *, prediction=None, reference=None, **kwargs):
        """Add one row; a correctness vector is checked before `evaluate` casts it to bools."""
        if self.config_name == "correctness":
            check_correctness(None if prediction is None else [prediction], "prediction")
            check_correctness(None if reference is None else [reference], "reference")
        super().add(prediction=prediction, reference=reference, **kwargs)

    def _compute(
        self,
        predictions,
        references,
        finetune_set,
        eval_set,
        suite=None,
        reference=None,
        finetune_sets=None,
        n_boot=1000,
        confidence=0.95,
        seed=0,
        scale=None,
    ):
        suite = _suite(suite, eval_set, reference)
        if self.config_name == "correctness":
            pre = _pretrained(references, eval_set, lambda a, b: list(a) == list(b))
            post = _post(predictions, finetune_set, eval_set)
            result = bootstrap_rib(
                {j: np.asarray(v, dtype=bool) for j, v in pre.items()},
                {i: {j: np.asarray(v, dtype=bool) for j, v in r.items()} for i, r in post.items()},
                suite,
                reference,
                finetune_sets,
                n_boot=n_boot,
                confidence=confidence,
                seed=seed,
            )
            out = result.scores.to_dict()
            out["intervals"] = {k: v for k, v in result.to_dict().items() if k != "scores"}
            return out
        both = check_accuracies([*predictions, *references], scale)
        predictions, references = both[: len(predictions)], both[len(predictions) :]
        pre = _pretrained(references, eval_set, _same_accuracy)
        return compute_rib(
            pre, _post(predictions, finetune_set, eval_set), suite, reference, finetune_sets
        ).to_dict()
