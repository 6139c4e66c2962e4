"""Lectures 11-13: one step of inversion, DeepDream and style transfer against a bare pass.

What "one step" costs: each method is run with ``steps=1`` and with ``steps=K+1`` (interleaved, in
the same run), and ``(t(K+1) - t(1)) / K`` is its time per step, so the setup that a call does once
(targets, Gram matrices, the start image, building the optimizer) is not counted. That is divided
by the time of a bare forward+backward of the same model on the same input: the whole model
forward (the loop runs the whole model too) and ``torch.autograd.grad`` of a plain sum of squares
of the same layers' activations with respect to the input, the hooks registered once outside the
timing; the bare pass is run K times in a row, so that both timed sides take about as long. Each is
timed in interleaved rounds and the fastest round kept: on a shared CPU the median of a few runs
still moved by 5x between runs, the minimum much less. The ratio is the loop's own overhead: objective, transforms, optimizer update, projection
and bookkeeping.

* inversion: ``synthesis.invert`` from the last convolution (Adam, TV prior);
* DeepDream: ``synthesis.deepdream`` with one octave (each step at the input size; jitter 32);
* style transfer: ``synthesis.style_transfer(optimizer="adam")``, content and style layers; also
  against the same Adam style transfer written out in plain PyTorch, which separates the cost of the
  loss itself (six Gram matrices of 64 channels cost about as much as TextureNet's one-layer
  convolutions) from the loop's own overhead;
* L-BFGS style transfer is reported per function evaluation (a step evaluates the model 1-25 times in
  its line search; a forward hook counts the evaluations).

Setting: on a GPU, AlexNet (inversion, DeepDream) and VGG-19 (style) with random weights (speed does
not depend on them), batch 8 at 224 px; on the CPU, ShapeNet (batch 8) and TextureNet (batch 2) at 64 px.
Target: <= 1.10x the bare pass. The asserts hold only generous ceilings (1.5x on a GPU, 2x on a
CPU), so that a busy machine does not fail the benchmark.

The lectures 09-10 loop with class objectives is benchmarked in ``test_synthesis.py``.
"""
import pytest
import torch
from timing import bench_device, interleaved

from course_utils import hooks, models, synthesis

CUDA = bench_device().type == "cuda"
K = 10 if CUDA else 5  # extra steps timed beyond the first (L-BFGS: fewer, each step evaluates several times)
K_LBFGS = 5 if CUDA else 2
BATCH, SIZE = 8, 224 if CUDA else 64
STYLE_BATCH = 8 if CUDA else 2  # TextureNet's many wide filters are slow on a CPU
CEILING = 1.5 if CUDA else 2.0


def _model(kind: str):
    if CUDA:
        return models.load("alexnet" if kind == "classifier" else "vgg19", weights="random", device=bench_device())
    return models.load("shapenet" if kind == "classifier" else "texturenet", weights="offline", device=bench_device())


def _bare(model, images, layers, k):
    """``K`` times: a forward of the whole model and the gradient of ``sum ||a_l||^2`` over ``layers``
    to the input (the hooks that keep the activations are registered once, here)."""
    store = {}
    handles = [hooks.get_layer(model, layer).register_forward_hook(lambda m, i, o, key=layer: store.__setitem__(key, o))
               for layer in layers]  # fmt: skip

    def run():  # K passes, so that both sides of the ratio take about as long
        for _ in range(k):
            x = images.detach().requires_grad_(True)
            model(x)
            torch.autograd.grad(sum(store[layer].pow(2).sum() for layer in layers), x)

    return run, handles


def _per_step(model, images, layers, method, *, repeats, k=K, hand_written=None):
    """``{"step": seconds per step, "bare": seconds of a bare pass}``, timed interleaved; with
    ``hand_written`` (a function of ``steps`` like ``method``) also ``"hand-written"`` per step."""
    bare, handles = _bare(model, images, layers, k)
    functions = {"one": lambda: method(1), "more": lambda: method(k + 1), "bare": bare}
    if hand_written is not None:
        functions.update({"hand one": lambda: hand_written(1), "hand more": lambda: hand_written(k + 1)})
    try:
        with hooks.frozen(model):
            rounds = [interleaved(functions, repeats=1, warmup=int(r == 0), device=bench_device()) for r in range(repeats)]
        times = {name: min(round_[name] for round_ in rounds) for name in functions}  # the least disturbed run
    finally:
        for handle in handles:
            handle.remove()
    result = {"step": (times["more"] - times["one"]) / k, "bare": times["bare"] / k}
    if hand_written is not None:
        result["hand-written"] = (times["hand more"] - times["hand one"]) / k
    return result


def _hand_written_style_transfer(model, content, style, content_layer, style_layers, steps, *, lr=0.02,
                                 content_weight=1.0, style_weight=1e3, tv_weight=1.0):  # fmt: skip
    """The same Adam style transfer written out in plain PyTorch (hooks, losses, Adam, clamp): what
    ``synthesis.style_transfer`` would cost with no loop of its own around the objective."""
    store = {}
    handles = [hooks.get_layer(model, layer).register_forward_hook(lambda m, i, o, key=layer: store.__setitem__(key, o))
               for layer in dict.fromkeys([content_layer, *style_layers])]  # fmt: skip
    try:
        with torch.no_grad():
            model(content)
            target = store[content_layer]
            model(style)
            grams = [synthesis.gram_matrix(store[layer]) for layer in style_layers]
        x = content.clone().requires_grad_(True)
        optimizer = torch.optim.Adam([x], lr=lr)
        for _ in range(steps):
            model(x)
            loss = (content_weight * synthesis.content_loss(store[content_layer], target)
                    + style_weight * synthesis.style_loss([store[layer] for layer in style_layers], grams)
                    + tv_weight * synthesis.tv_loss(x)).sum()  # fmt: skip
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            with torch.no_grad():
                x.clamp_(0, 1)
        return x.detach()
    finally:
        for handle in handles:
            handle.remove()


def _images(seed=0, batch=BATCH):
    generator = torch.Generator().manual_seed(seed)
    return torch.rand(batch, 3, SIZE, SIZE, generator=generator).to(bench_device())


def _report(record, name, model, times, note="", batch=BATCH):
    ratio = times["step"] / times["bare"]
    record(
        f"{name} step / bare forward+backward",
        f"{ratio:.3f}x ({model.name}, batch {batch} at {SIZE} px, {times['step'] * 1e3:.1f} ms per step, "
        f"bare {times['bare'] * 1e3:.1f} ms{note})",
        "<= 1.10x",
    )
    return ratio


def test_inversion_and_deepdream_step_overhead(record, monkeypatch):
    monkeypatch.setenv("COURSE_PROGRESS", "0")
    model, images = _model("classifier"), _images()
    layer = model.roles["last_conv"]
    repeats = 7 if CUDA else 3
    inversion = _per_step(model, images, [layer], lambda steps: synthesis.invert(model, images, layer, steps=steps),
                          repeats=repeats)  # fmt: skip
    dream = _per_step(model, images, [layer], lambda steps: synthesis.deepdream(model, images, layer, octaves=1, steps=steps),
                      repeats=repeats)  # fmt: skip
    ratios = [_report(record, "inversion", model, inversion), _report(record, "DeepDream", model, dream)]
    assert all(ratio < CEILING for ratio in ratios), ratios
    assert hooks.count_hooks(model) == 0


def test_style_transfer_step_overhead(record, monkeypatch):
    monkeypatch.setenv("COURSE_PROGRESS", "0")
    model, content, style = _model("extractor"), _images(0, STYLE_BATCH), _images(1, 1)
    layers = list(dict.fromkeys([model.roles["content"], *model.roles["style"]]))
    repeats = 7 if CUDA else 2

    def transfer(steps, optimizer):
        return synthesis.style_transfer(model, content, style, optimizer=optimizer, steps=steps)

    def hand_written(steps):
        return _hand_written_style_transfer(model, content, style, model.roles["content"], model.roles["style"], steps)

    torch.testing.assert_close(hand_written(3), transfer(3, "adam").image)  # the same computation
    adam = _per_step(model, content, layers, lambda steps: transfer(steps, "adam"), repeats=repeats, hand_written=hand_written)
    ratio = _report(record, "style transfer (Adam)", model, adam, batch=STYLE_BATCH,
                    note=f"; the same loss written out in plain PyTorch: {adam['hand-written'] / adam['bare']:.3f}x")  # fmt: skip

    evaluations = []
    counter = model.register_forward_hook(lambda *args: evaluations.append(1))
    try:
        for steps in (1, K_LBFGS + 1):
            evaluations.clear()
            transfer(steps, "lbfgs")
            counts = len(evaluations) - 2  # the content and style targets are one forward each
            if steps == 1:
                first = counts
    finally:
        counter.remove()
    per_eval = K_LBFGS / (counts - first)  # steps per evaluation beyond the first step
    lbfgs = _per_step(model, content, layers, lambda steps: transfer(steps, "lbfgs"), repeats=repeats, k=K_LBFGS)
    lbfgs["step"] *= per_eval  # seconds per function evaluation
    lbfgs_ratio = _report(record, "style transfer (L-BFGS) evaluation", model, lbfgs,
                          note=f", {1 / per_eval:.1f} evaluations per step", batch=STYLE_BATCH)  # fmt: skip
    assert ratio < CEILING and lbfgs_ratio < CEILING, (ratio, lbfgs_ratio)
    assert hooks.count_hooks(model) == 0
