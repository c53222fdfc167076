"""Adam and SparseAdam, step for step as torch.optim's, without torch.optim's first-use import.

torch.optim's `add_param_group`, `zero_grad` and `step` import torch._dynamo (and sympy with
it) the first time they run, so that torch.compile can trace around them: 1.4-1.9 CPU-seconds
in each new process, and each trial is a new process (one Ray actor per trial). Nothing here is
compiled, so these classes make the same updates with the same torch kernels and skip that
import: dense Adam as torch's foreach path (on CPU the same numbers as its default single-tensor
path; tests/test_adam.py holds both), SparseAdam as `torch.optim._functional.sparse_adam`.
Their `state_dict` has torch.optim's layout, so a checkpoint written by either loads in the other.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import torch


class _Optimizer:
    """Parameter groups (dicts: "params" plus hyperparameters, free to carry more keys such as
    `lr_scale`) and per-parameter state, as torch.optim keeps them."""

    def __init__(self, params: Iterable[Any], defaults: dict[str, Any]):
        groups = list(params)
        if groups and not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        self.param_groups: list[dict[str, Any]] = [
            {**defaults, **group, "params": list(group["params"])} for group in groups
        ]
        self.state: dict[torch.Tensor, dict[str, Any]] = {}

    def _params(self) -> list[torch.Tensor]:
        return [p for group in self.param_groups for p in group["params"]]

    def zero_grad(self, set_to_none: bool = True) -> None:
        for p in self._params():
            if p.grad is None:
                continue
            if set_to_none:
                p.grad = None
            else:
                p.grad.detach_().zero_()

    def state_dict(self) -> dict[str, Any]:
        """{"state": {index: tensors}, "param_groups": [{..., "params": [index, ...]}]}, the
        index counting parameters across groups in order, as torch.optim writes it."""
        index = {p: i for i, p in enumerate(self._params())}
        groups = [
            {**group, "params": [index[p] for p in group["params"]]} for group in self.param_groups
        ]
        state = {index[p]: dict(s) for p, s in self.state.items()}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore groups and state; moment tensors move to their parameter's device and dtype,
        the step counter stays as saved (as torch.optim does)."""
        saved = state_dict["param_groups"]
        if [len(g["params"]) for g in saved] != [len(g["params"]) for g in self.param_groups]:
            raise ValueError("optimizer state has a different number of parameters per group")
        by_index = dict(enumerate(self._params()))
        self.state = {}
        for i, s in state_dict["state"].items():
            p = by_index[int(i)]
            self.state[p] = {
                k: v.to(p.device, p.dtype) if torch.is_tensor(v) and k != "step" else v
                for k, v in s.items()
            }
        self.param_groups = [
            {**group, "params": mine["params"]}
            for group, mine in zip(saved, self.param_groups, strict=True)
        ]


def _new_state(p: torch.Tensor, step: int | torch.Tensor) -> dict[str, Any]:
    """A parameter's state before its first step: the step count (a float tensor for Adam, an
    int for SparseAdam, as torch.optim keeps them) and zero moments shaped like `p`."""
    return {
        "step": step,
        "exp_avg": torch.zeros_like(p, memory_format=torch.preserve_format),
        "exp_avg_sq": torch.zeros_like(p, memory_format=torch.preserve_format),
    }


class Adam(_Optimizer):
    """torch.optim.Adam without amsgrad, maximize or capturable: L2 weight decay added to the
    gradient, bias-corrected first and second moments."""

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
    ):
        super().__init__(
            params, {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay}
        )

    @torch.no_grad()
    def step(self) -> None:
        for group in self.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            if not params:
                continue
            if any(p.grad.is_sparse for p in params):
                raise RuntimeError("Adam does not take sparse gradients; use SparseAdam")
            grads = [p.grad for p in params]
            for p in params:
                if p not in self.state:
                    self.state[p] = _new_state(p, torch.tensor(0.0, dtype=torch.float32))
            states = [self.state[p] for p in params]
            steps = [s["step"] for s in states]
            exp_avgs = [s["exp_avg"] for s in states]
            exp_avg_sqs = [s["exp_avg_sq"] for s in states]
            (beta1, beta2), lr = group["betas"], group["lr"]
            torch._foreach_add_(steps, 1.0)
            if group["weight_decay"] != 0:
                grads = torch._foreach_add(grads, params, alpha=group["weight_decay"])
            torch._foreach_lerp_(exp_avgs, grads, 1 - beta1)
            torch._foreach_mul_(exp_avg_sqs, beta2)
            torch._foreach_addcmul_(exp_avg_sqs, grads, grads, 1 - beta2)
            counts = [s.item() for s in steps]
            step_sizes = [(lr / (1 - beta1**t)) * -1 for t in counts]
            denoms = torch._foreach_sqrt(exp_avg_sqs)
            torch._foreach_div_(denoms, [(1 - beta2**t) ** 0.5 for t in counts])
            torch._foreach_add_(denoms, group["eps"])
            torch._foreach_addcdiv_(params, exp_avgs, denoms, step_sizes)


class SparseAdam(_Optimizer):
    """torch.optim.SparseAdam: moments and weights updated only at the rows a sparse gradient
    touches (an embedding's rows for the batch's words)."""

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
    ):
        super().__init__(params, {"lr": lr, "betas": betas, "eps": eps})

    @torch.no_grad()
    def step(self) -> None:
        for group in self.param_groups:
            (beta1, beta2), lr, eps = group["betas"], group["lr"], group["eps"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                if not p.grad.is_sparse:
                    raise RuntimeError("SparseAdam takes sparse gradients only; use Adam")
                if p not in self.state:
                    self.state[p] = _new_state(p, 0)
                state = self.state[p]
                state["step"] += 1
                _sparse_adam_update(p, p.grad, state, beta1, beta2, lr, eps)


def _sparse_adam_update(
    param: torch.Tensor,
    grad: torch.Tensor,
    state: dict[str, Any],
    beta1: float,
    beta2: float,
    lr: float,
    eps: float,
) -> None:
    """One SparseAdam step on `param` (rows, dim) at the rows `grad` holds, in the order of
    torch.optim._functional.sparse_adam's operations."""
    grad = grad.coalesce()
    indices, values = grad._indices(), grad._values()
    if values.numel() == 0:
        return
    exp_avg, exp_avg_sq, step = state["exp_avg"], state["exp_avg_sq"], state["step"]

    def sparse(rows: torch.Tensor) -> torch.Tensor:
        return grad.new(indices, rows, grad.size())

    old_avg = exp_avg.sparse_mask(grad)._values()
    avg_update = values.sub(old_avg).mul_(1 - beta1)
    exp_avg.add_(sparse(avg_update))
    old_sq = exp_avg_sq.sparse_mask(grad)._values()
    sq_update = values.pow(2).sub_(old_sq).mul_(1 - beta2)
    exp_avg_sq.add_(sparse(sq_update))
    numer = avg_update.add_(old_avg)
    denom = sq_update.add_(old_sq).sqrt_().add_(eps)
    step_size = lr * math.sqrt(1 - beta2**step) / (1 - beta1**step)
    param.add_(sparse(-step_size * numer.div_(denom)))
