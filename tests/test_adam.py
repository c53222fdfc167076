"""tune.train.adam makes torch.optim's updates, number for number, without its torch._dynamo
import."""

import subprocess
import sys

import pytest
import torch
from torch import nn

from tune.train.adam import Adam, SparseAdam


def dense_model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(6, 5), nn.Tanh(), nn.Linear(5, 3))


def groups(model: nn.Module) -> list[dict]:
    first, second = model[0], model[2]
    return [
        {"params": list(first.parameters()), "lr": 3e-3, "lr_scale": 0.5},
        {"params": list(second.parameters())},
    ]


def dense_steps(model: nn.Module, optimizer, steps: int, seed: int = 1) -> None:
    """`steps` updates on seeded batches; the head gets no gradient every third step (a group
    member without a gradient is skipped, as in torch.optim)."""
    g = torch.Generator().manual_seed(seed)
    for i in range(steps):
        x, y = torch.randn(8, 6, generator=g), torch.randint(0, 3, (8,), generator=g)
        optimizer.zero_grad(set_to_none=True)
        nn.functional.cross_entropy(model(x), y).backward()
        if i % 3 == 2:
            model[2].bias.grad = None
        optimizer.step()


def weights(model: nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in model.parameters()]


@pytest.mark.parametrize("foreach", [False, True], ids=["single-tensor", "foreach"])
def test_adam_makes_torch_optims_updates_exactly(foreach):
    ours, theirs = dense_model(), dense_model()
    kwargs = {"lr": 1e-2, "weight_decay": 1e-2}
    dense_steps(ours, Adam(groups(ours), **kwargs), 7)
    dense_steps(theirs, torch.optim.Adam(groups(theirs), foreach=foreach, **kwargs), 7)
    for a, b in zip(weights(ours), weights(theirs), strict=True):
        assert torch.equal(a, b)
    assert not torch.equal(weights(ours)[0], weights(dense_model())[0])


def test_adam_state_loads_from_and_into_torch_optim():
    """A checkpoint's optimizer state written by either optimizer resumes in the other."""
    ours, theirs = dense_model(), dense_model()
    mine, torchs = Adam(groups(ours), lr=1e-2), torch.optim.Adam(groups(theirs), lr=1e-2)
    dense_steps(ours, mine, 4)
    dense_steps(theirs, torchs, 4)
    swapped_mine, swapped_torchs = Adam(groups(ours), lr=1.0), torch.optim.Adam(groups(theirs))
    swapped_mine.load_state_dict(torchs.state_dict())
    swapped_torchs.load_state_dict(mine.state_dict())
    assert [g["lr"] for g in swapped_mine.param_groups] == [3e-3, 1e-2]
    assert swapped_mine.param_groups[0]["lr_scale"] == 0.5
    dense_steps(ours, swapped_mine, 3, seed=2)
    dense_steps(theirs, swapped_torchs, 3, seed=2)
    for a, b in zip(weights(ours), weights(theirs), strict=True):
        assert torch.equal(a, b)


def test_adam_refuses_a_state_for_other_parameters():
    model = dense_model()
    state = Adam(list(model[0].parameters())).state_dict()
    with pytest.raises(ValueError, match="number of parameters"):
        Adam(groups(model)).load_state_dict(state)


@pytest.mark.parametrize("betas", [(0.0, 0.999), (0.9, 0.999)])
def test_sparse_adam_makes_torch_optims_updates_exactly(betas):
    def embedding() -> nn.Embedding:
        torch.manual_seed(0)
        return nn.Embedding(40, 4, sparse=True)

    ours, theirs = embedding(), embedding()
    mine = SparseAdam(list(ours.parameters()), lr=5e-2, betas=betas)
    torchs = torch.optim.SparseAdam(list(theirs.parameters()), lr=5e-2, betas=betas)
    g = torch.Generator().manual_seed(3)
    for _ in range(6):
        tokens = torch.randint(0, 12, (5, 7), generator=g)  # repeats: the gradient coalesces
        target = torch.randn(5, 7, 4, generator=g)
        for model, optimizer in ((ours, mine), (theirs, torchs)):
            optimizer.zero_grad()
            ((model(tokens) - target) ** 2).sum().backward()
            optimizer.step()
    assert torch.equal(ours.weight, theirs.weight)
    assert torch.equal(ours.weight[20:], embedding().weight[20:])
    again = SparseAdam(list(theirs.parameters()))
    again.load_state_dict(torchs.state_dict())
    assert again.state[theirs.weight]["step"] == 6


def test_training_imports_no_torch_dynamo():
    """The import these classes exist to skip: a whole `rnn-tune train` run, dense and sparse
    embedding, leaves torch._dynamo (and sympy) unimported."""
    script = """
import sys, tempfile
from tune.cli.main import main
for sparse in ("--sparse-embedding", "--no-sparse-embedding"):
    assert main(["train", "--dataset", "synthetic", "--synthetic-samples", "200", "--epochs", "1",
                 "--embed-dim", "8", "--hidden-dim", "8", "--threads", "1", "--weight-decay",
                 "0.01", sparse, "--output", tempfile.mkdtemp()]) == 0
print(sorted(m for m in ("torch._dynamo", "sympy") if m in sys.modules))
"""
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300, check=True
    )
    assert out.stdout.strip().splitlines()[-1] == "[]"
