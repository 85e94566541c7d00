"""``lwf``: Learning without Forgetting (Li & Hoiem, TPAMI 2017) with a frozen teacher:

    R_n = alpha * KL( softmax(t_n / T) || softmax(s_n / T) )
        = alpha * sum_k p_nk (log p_nk - log q_nk),   p = softmax(t/T), q = softmax(s/T)

t_n: the frozen PRETRAINED model's logits on the same image, s_n: the student's, both
restricted to the fine-tuning dataset's label subset (the same `reduce` as the task loss);
averaged over the batch ("batchmean"); no T^2 factor, as in the reference. The teacher
runs in the training precision: `RIBTrainer` calls `penalty` under the Trainer's autocast.
"""

from __future__ import annotations

from .. import register_method
from ..base import Method, Regulariser
from .config import LwFConfig


def distillation_kl(teacher_logits, student_logits, temperature: float):
    """Per-sample KL(softmax(t/T) || softmax(s/T)): (B, K), (B, K) -> (B,)."""
    import torch

    log_p = torch.log_softmax(teacher_logits.float() / temperature, dim=-1)
    log_q = torch.log_softmax(student_logits.float() / temperature, dim=-1)
    return (log_p.exp() * (log_p - log_q)).sum(dim=-1)


class LwFRegulariser(Regulariser):
    name = "lwf"
    per_sample = True

    def __init__(self, config: LwFConfig) -> None:
        self.config = config
        self.teacher = None

    def setup(self, model) -> None:
        import copy

        self.teacher = copy.deepcopy(model).eval()
        for p in self.teacher.parameters():
            p.requires_grad_(False)

    def penalty(self, model, pixel_values, logits, reduce):
        import torch

        from ...models import logits_of

        with torch.no_grad():
            teacher = reduce(logits_of(self.teacher, pixel_values))
        kl = distillation_kl(teacher, logits, self.config.temperature)
        scale = self.config.alpha * (self.config.temperature**2 if self.config.t_squared else 1.0)
        return scale * kl


@register_method
class LwF(Method):
    name = "lwf"
    Config = LwFConfig
    description = "distillation from the frozen pretrained model on the fine-tuning images"

    def regularisers(self, loaded, config: LwFConfig, context):
        return [LwFRegulariser(config)]
