"""dl_helpers.training against independent oracles: torch autograd in float64 for an SGD
step, a hand-written torch.optim loop for Adam, a constructed validation curve for early
stopping, an uninterrupted run for checkpoint resume, hand-computed layer outputs."""

from __future__ import annotations

import copy
import doctest
import os
import subprocess
import sys
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from dl_helpers import training
from dl_helpers.training import accuracy, evaluate, fit, hidden_outputs, make_mlp


def toy_data(n: int = 40, d: int = 5, k: int = 3, seed: int = 0, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=g, dtype=dtype), torch.randint(0, k, (n,), generator=g)


def dropout_net(seed: int = 0) -> nn.Sequential:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return nn.Sequential(nn.Linear(5, 16), nn.ReLU(), nn.Dropout(0.3), nn.Linear(16, 3))


def same_weights(a: nn.Module, b: nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


# --- make_mlp ----------------------------------------------------------------------------


def test_make_mlp_layers_and_fresh_activations():
    net = make_mlp(lambda: nn.LeakyReLU(0.1), [4, 8, 6, 3])
    kinds = [type(m).__name__ for m in net]
    assert kinds == ["Linear", "LeakyReLU", "Linear", "LeakyReLU", "Linear"]
    shapes = [tuple(m.weight.shape) for m in net if isinstance(m, nn.Linear)]
    assert shapes == [(8, 4), (6, 8), (3, 6)]
    assert net[1] is not net[3] and net[1].negative_slope == 0.1
    prelu = make_mlp(nn.PReLU, [2, 3, 3, 1])
    assert prelu[1].weight is not prelu[3].weight  # each layer its own parameter


def test_make_mlp_weights_are_torchs_default_init_after_manual_seed():
    # the recipe notebook 01 used: seed the global generator, then build the layers in order
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(7)
        expected = nn.Sequential(nn.Linear(3, 5), nn.Tanh(), nn.Linear(5, 2))
    assert same_weights(make_mlp(nn.Tanh, [3, 5, 2], seed=7), expected)
    assert not same_weights(make_mlp(nn.Tanh, [3, 5, 2], seed=8), expected)


def test_make_mlp_leaves_the_global_random_state_alone():
    torch.manual_seed(123)
    before = torch.get_rng_state()
    make_mlp(nn.ReLU, [10, 10, 2], seed=0)
    assert torch.equal(torch.get_rng_state(), before)


def test_make_mlp_rejects_bad_arguments():
    with pytest.raises(TypeError, match="not the instance"):
        make_mlp(nn.ReLU(), [2, 3, 1])
    with pytest.raises(TypeError, match="nn.Module"):
        make_mlp(lambda: torch.relu, [2, 3, 1])
    for sizes in ([5], [5, 0, 2], [5, 2.5]):
        with pytest.raises(ValueError, match="sizes"):
            make_mlp(nn.ReLU, sizes)


# --- fit: the update rule against oracles -----------------------------------------------


def test_one_sgd_step_is_w_minus_lr_times_the_autograd_gradient_in_float64():
    X, y = toy_data(dtype=torch.float64)
    net = make_mlp(nn.Tanh, [5, 7, 3], seed=1).double()
    start = copy.deepcopy(net)
    params = list(start.parameters())
    loss = F.cross_entropy(start(X), y)
    grads = torch.autograd.grad(loss, params)
    # one epoch of one batch holding every row: the gradient of the full-data loss
    history = fit(net, X, y, epochs=1, batch_size=len(X), optimizer="sgd", lr=0.3)
    for p, w, g in zip(net.parameters(), params, grads, strict=True):
        torch.testing.assert_close(p, w.detach() - 0.3 * g, rtol=1e-12, atol=1e-14)
    assert history.loss == pytest.approx([loss.item()], rel=1e-12)


def test_adam_matches_a_hand_written_torch_optim_loop_step_by_step():
    X, y = toy_data(n=50)
    net = make_mlp(nn.ReLU, [5, 8, 3], seed=2)
    ref = copy.deepcopy(net)
    history = fit(net, X, y, steps=15, batch_size=8, lr=0.02, seed=4)
    # the documented sampling: torch.randint with a generator seeded by `seed`
    g = torch.Generator().manual_seed(4)
    opt = torch.optim.Adam(ref.parameters(), lr=0.02)
    losses = []
    for _ in range(15):
        rows = torch.randint(len(X), (8,), generator=g)
        opt.zero_grad()
        loss = F.cross_entropy(ref(X[rows]), y[rows])
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert history.loss == losses
    assert same_weights(net, ref)


def test_optimizer_names_and_factories():
    X, y = toy_data()
    made = []

    def factory(params):
        made.append(torch.optim.SGD(params, lr=0.05, momentum=0.9))
        return made[-1]

    net = make_mlp(nn.ReLU, [5, 4, 3])
    fit(net, X, y, steps=2, optimizer=factory)
    assert made[0].param_groups[0]["momentum"] == 0.9
    assert {id(p) for p in made[0].param_groups[0]["params"]} == {id(p) for p in net.parameters()}
    for name in training.OPTIMIZERS:
        before = copy.deepcopy(net)
        fit(net, X, y, steps=1, optimizer=name.upper(), lr=0.01)
        assert not same_weights(net, before), name


# --- fit: batches, evaluation points, monitor -------------------------------------------


def recording_loss(seen: list):
    def loss_fn(outputs, y_batch):
        seen.append(y_batch.tolist())
        return outputs.sum() * 0.0

    return loss_fn


def test_epochs_visit_every_row_once_in_a_new_order():
    X, y = torch.randn(10, 2), torch.arange(10)
    seen: list = []
    history = fit(nn.Linear(2, 1), X, y, epochs=3, batch_size=4, loss_fn=recording_loss(seen))
    assert [len(b) for b in seen] == [4, 4, 2] * 3 and len(history.loss) == 9
    epochs = [sum(seen[i : i + 3], []) for i in (0, 3, 6)]
    assert all(sorted(e) == list(range(10)) for e in epochs)
    assert len({tuple(e) for e in epochs}) == 3
    assert history.eval_step == [3, 6, 9]  # default: one evaluation point per epoch


def test_steps_draw_full_batches_with_replacement():
    X, y = torch.randn(5, 2), torch.arange(5)
    seen: list = []
    history = fit(nn.Linear(2, 1), X, y, steps=4, batch_size=8, loss_fn=recording_loss(seen))
    assert [len(b) for b in seen] == [8] * 4 and history.eval_step == [4]
    assert all(len(set(b)) < 8 for b in seen)  # 8 draws from 5 rows repeat some


def test_evaluation_points_record_interval_means_and_validation():
    X, y = toy_data(n=60)
    Xv, yv = toy_data(n=30, seed=1)
    net = make_mlp(nn.Tanh, [5, 6, 3])
    history = fit(
        net,
        X,
        y,
        steps=10,
        batch_size=16,
        lr=0.05,
        val=(Xv, yv),
        metric=training.fraction_correct,
        eval_every=3,
    )
    assert history.eval_step == [3, 6, 9, 10]
    for i, (a, b) in enumerate([(0, 3), (3, 6), (6, 9), (9, 10)]):
        assert history.train_loss[i] == pytest.approx(np.mean(history.loss[a:b]), rel=1e-12)
    assert history.val_loss[-1] == evaluate(net, Xv, yv)
    assert history.val_metric[-1] == accuracy(net, Xv, yv)
    assert len(history.val_loss) == len(history.val_metric) == 4


def test_monitor_runs_before_the_first_step_every_k_steps_and_at_the_end():
    X, y = toy_data()
    net = make_mlp(nn.ReLU, [5, 4, 3])
    initial = net[0].weight.detach().clone()
    calls = []

    def first_weight(model):
        calls.append((torch.is_grad_enabled(), model.training))
        return model[0].weight[0, 0].item()

    history = fit(net, X, y, steps=10, lr=0.1, monitor=first_weight, monitor_every=4)
    assert history.monitor_step == [0, 4, 8, 10]
    assert history.monitor[0] == initial[0, 0].item()
    assert history.monitor[-1] == net[0].weight[0, 0].item()
    assert set(calls) == {(False, True)}  # no graph; the model as it trains
    history = fit(net, X, y, steps=8, lr=0.1, monitor=first_weight, monitor_every=4)
    assert history.monitor_step == [0, 4, 8]  # the last step is not recorded twice


# --- fit: early stopping -------------------------------------------------------------------


def scripted_run(epochs: int, patience: int):
    """A one-weight model whose validation loss after epoch e is (e - 3)^2, by construction.

    Training (labels 0) minimises -w, so each SGD step with lr=1 adds exactly 1 to w;
    validation (labels 1) scores (w - 3)^2: the curve 4, 1, 0, 1, 4, 9, ... is best at 3.
    """
    net = nn.Linear(1, 1, bias=False)
    nn.init.zeros_(net.weight)

    def loss_fn(outputs, labels):
        return -outputs.mean() if labels[0] == 0 else (outputs.mean() - 3) ** 2

    ones = torch.ones(4, 1)
    history = fit(
        net,
        ones,
        torch.zeros(4),
        epochs=epochs,
        batch_size=4,
        optimizer="sgd",
        lr=1.0,
        loss_fn=loss_fn,
        val=(ones, torch.ones(4)),
        patience=patience,
    )
    return net, history


def test_early_stopping_stops_after_patience_bad_epochs_and_restores_the_best():
    net, history = scripted_run(epochs=20, patience=2)
    assert history.val_loss == [4.0, 1.0, 0.0, 1.0, 4.0]  # stopped after epoch 5
    assert history.stopped_early and history.best_step == 3 and len(history.loss) == 5
    assert net.weight.item() == 3.0  # the weights of epoch 3, not of epoch 5


def test_best_weights_are_restored_when_training_runs_to_the_end():
    net, history = scripted_run(epochs=5, patience=10)
    assert not history.stopped_early and history.best_step == 3 and net.weight.item() == 3.0
    net, history = scripted_run(epochs=3, patience=1)  # still improving at the end
    assert history.best_step == 3 and net.weight.item() == 3.0


# --- fit: reproducibility and checkpoints ------------------------------------------------


class Interrupted(Exception):
    pass


def checkpointed_run(path, crash_at: int | None = None, resume: bool = False):
    """Adam on a dropout net, 4 epochs of 3 batches, checkpoints every 5 steps (mid-epoch)."""
    X, y = toy_data(n=40)
    Xv, yv = toy_data(n=20, seed=1)
    net = dropout_net()

    def monitor(model):
        if len(monitor.calls) == crash_at:
            raise Interrupted
        monitor.calls.append(1)
        return model[0].weight.norm().item()

    monitor.calls = []
    history = fit(
        net,
        X,
        y,
        epochs=4,
        batch_size=16,
        lr=0.01,
        val=(Xv, yv),
        patience=10,
        monitor=monitor,
        monitor_every=2,
        checkpoint=path,
        checkpoint_every=5,
        resume=resume,
        seed=3,
    )
    return net, history


def test_resuming_an_interrupted_run_reproduces_the_uninterrupted_one_bit_for_bit(tmp_path):
    torch.manual_seed(99)
    rng_before = torch.get_rng_state()
    net, history = checkpointed_run(tmp_path / "full.pt")
    assert torch.equal(torch.get_rng_state(), rng_before)  # fit forks the global state
    with pytest.raises(Interrupted):  # monitor call 5 comes at step 8, after the save at 5
        checkpointed_run(tmp_path / "cut.pt", crash_at=4)
    saved = torch.load(tmp_path / "cut.pt", weights_only=False)
    assert saved["step"] == 5 and len(saved["history"]["loss"]) == 5
    resumed_net, resumed = checkpointed_run(tmp_path / "cut.pt", resume=True)
    assert resumed == history
    assert same_weights(resumed_net, net)


def test_resuming_with_more_steps_continues_the_same_run(tmp_path):
    X, y = toy_data()
    nets = [make_mlp(nn.ReLU, [5, 6, 3], seed=5) for _ in range(2)]
    straight = fit(nets[0], X, y, steps=12, batch_size=8, lr=0.05)
    fit(nets[1], X, y, steps=7, batch_size=8, lr=0.05, checkpoint=tmp_path / "c.pt")
    continued = fit(
        nets[1], X, y, steps=12, batch_size=8, lr=0.05, checkpoint=tmp_path / "c.pt", resume=True
    )
    assert continued.loss == straight.loss and same_weights(nets[0], nets[1])


def test_resume_without_a_file_starts_fresh_and_a_mismatched_run_is_refused(tmp_path):
    X, y = toy_data()
    a, b = make_mlp(nn.ReLU, [5, 3]), make_mlp(nn.ReLU, [5, 3])
    fresh = fit(a, X, y, steps=3, checkpoint=tmp_path / "new.pt", resume=True)
    assert fresh.loss == fit(b, X, y, steps=3).loss and (tmp_path / "new.pt").exists()
    with pytest.raises(ValueError, match="batch_size"):
        fit(a, X, y, steps=5, batch_size=4, checkpoint=tmp_path / "new.pt", resume=True)


def test_same_seed_same_run_other_seed_other_run():
    X, y = toy_data()
    runs = []
    for seed in (0, 0, 1):
        net = dropout_net()
        runs.append((net, fit(net, X, y, steps=6, batch_size=8, seed=seed, lr=0.01)))
    assert runs[0][1] == runs[1][1] and same_weights(runs[0][0], runs[1][0])
    assert runs[0][1].loss != runs[2][1].loss


def test_fit_restores_the_callers_train_eval_mode_and_device_default_is_cpu_here():
    X, y = toy_data()
    net = dropout_net().eval()
    fit(net, X, y, steps=2)
    assert not any(m.training for m in net.modules())
    if not torch.cuda.is_available():  # device=None means CUDA only where there is one
        assert all(p.device.type == "cpu" for p in net.parameters())


# --- fit: quiet, and clear errors --------------------------------------------------------


def test_fit_writes_nothing_and_warns_nothing_without_progress(capfd):
    X, y = toy_data()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fit(make_mlp(nn.ReLU, [5, 4, 3]), X, y, epochs=2, val=(X, y), patience=1)
    assert caught == []
    assert capfd.readouterr() == ("", "")


@pytest.mark.parametrize("tqdm_disable", [None, "1"])
def test_progress_bar_goes_to_stdout_only_unless_tqdm_disable_is_set(tqdm_disable):
    # tqdm reads TQDM_* variables when it is imported, so each case needs its own process;
    # `make test` sets TQDM_DISABLE=1 to keep notebook outputs stable, and that must win.
    env = {k: v for k, v in os.environ.items() if k != "TQDM_DISABLE"}
    if tqdm_disable:
        env["TQDM_DISABLE"] = tqdm_disable
    code = (
        "import torch; from torch import nn; from dl_helpers import training as t;"
        "X = torch.randn(20, 5); y = torch.randint(0, 3, (20,));"
        "t.fit(t.make_mlp(nn.ReLU, [5, 4, 3]), X, y, steps=5, progress=True)"
    )
    run = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    )
    assert run.stderr == ""
    assert ("5/5" in run.stdout) == (tqdm_disable is None)


def test_a_fresh_process_importing_and_training_prints_nothing():
    # the first torch.optim optimiser imports torch._dynamo: that must stay silent too
    code = (
        "import torch; from torch import nn; from dl_helpers import data, training as t;"
        "d = data.digits_split(); net = t.make_mlp(nn.ReLU, [64, 16, 10]);"
        "t.fit(net, d.X_train, d.y_train, steps=3, val=(d.X_val, d.y_val));"
        "t.accuracy(net, d.X_val, d.y_val)"
    )
    run = subprocess.run(
        [sys.executable, "-W", "always", "-c", code], capture_output=True, text=True, check=True
    )
    assert (run.stdout, run.stderr) == ("", "")


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({}, ValueError, "exactly one of steps= and epochs="),
        ({"steps": 3, "epochs": 1}, ValueError, "exactly one"),
        ({"steps": 0}, ValueError, "steps must be a positive integer"),
        ({"steps": 1, "optimizer": "adamax"}, ValueError, "unknown optimizer 'adamax'"),
        ({"steps": 1, "optimizer": torch.optim.SGD, "lr": 0.1}, ValueError, "factory"),
        ({"steps": 1, "patience": 2}, ValueError, "val="),
        ({"steps": 1, "resume": True}, ValueError, "checkpoint"),
        ({"steps": 1, "val": (torch.zeros(3, 5), torch.zeros(2))}, ValueError, "X_val, y_val"),
    ],
)
def test_bad_arguments_raise_clear_errors(kwargs, error, match):
    X, y = toy_data()
    with pytest.raises(error, match=match):
        fit(make_mlp(nn.ReLU, [5, 3]), X, y, **kwargs)


def test_bad_data_raise_clear_errors():
    X, y = toy_data()
    net = make_mlp(nn.ReLU, [5, 3])
    with pytest.raises(ValueError, match="same number of rows, got 40 and 39"):
        fit(net, X, y[:-1], steps=1)
    with pytest.raises(TypeError, match="X must be a torch.Tensor, got ndarray"):
        fit(net, X.numpy(), y, steps=1)
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="cuda"):
            fit(net, X, y, steps=1, device="cuda")


# --- evaluate, accuracy, hidden_outputs --------------------------------------------------


def test_evaluate_uses_eval_mode_then_restores_every_modules_mode_and_the_gradients():
    X, y = toy_data()
    net = dropout_net()
    net[1].eval()  # a submodule deliberately in the other mode must keep it
    for p in net.parameters():
        p.grad = torch.full_like(p, 0.5)
    loss = evaluate(net, X, y)
    with torch.no_grad():  # oracle: dropout off is the identity
        expected = F.cross_entropy(net[3](torch.relu(net[0](X))), y).item()
    assert loss == pytest.approx(expected, rel=1e-6) and isinstance(loss, float)
    assert [m.training for m in net] == [True, False, True, True] and net.training
    assert all(torch.equal(p.grad, torch.full_like(p, 0.5)) for p in net.parameters())
    assert evaluate(net, X, y) == loss  # deterministic: dropout really was off


def test_accuracy_against_a_numpy_count():
    X, y = toy_data(n=200)
    net = make_mlp(nn.ReLU, [5, 8, 3], seed=3)
    with torch.no_grad():
        predicted = net(X).numpy().argmax(axis=1)
    assert accuracy(net, X, y) == pytest.approx(np.mean(predicted == y.numpy()), abs=1e-7)


def test_fraction_correct_for_one_logit_binary_outputs():
    logits = torch.tensor([[2.0], [-1.0], [0.5], [-3.0]])
    assert training.fraction_correct(logits, torch.tensor([[1.0], [0.0], [0.0], [1.0]])) == 0.5
    assert training.fraction_correct(logits, torch.tensor([1, 0, 1, 0])) == 1.0


def test_hidden_outputs_are_the_activations_computed_by_hand():
    net = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Dropout(0.5), nn.Linear(4, 2), nn.Tanh())
    X = toy_data(n=6, d=3)[0]
    outs = hidden_outputs(net, X)
    W1, b1 = net[0].weight.detach().numpy(), net[0].bias.detach().numpy()
    W2, b2 = net[3].weight.detach().numpy(), net[3].bias.detach().numpy()
    h1 = np.maximum(X.numpy() @ W1.T + b1, 0)
    assert len(outs) == 3 and all(isinstance(o, np.ndarray) for o in outs)
    np.testing.assert_allclose(outs[0], h1, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(outs[1], h1, rtol=1e-6, atol=1e-7)  # dropout off in eval mode
    np.testing.assert_allclose(outs[2], np.tanh(h1 @ W2.T + b2), rtol=1e-6, atol=1e-7)
    assert net.training and net[2].training
    with pytest.raises(TypeError, match="Sequential"):
        hidden_outputs(nn.Linear(3, 4), X)


def test_docstring_examples_are_correct():
    result = doctest.testmod(training, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted >= 8 and result.failed == 0
