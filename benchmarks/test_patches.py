"""Lecture 03: the streaming top-k costs about one forward pass, and its memory does not grow with the data.

Time: ``patches.top_activations`` over a dataset divided by a forward-only pass of the whole model over the
same batches (target <= 1.2), and divided by a forward pass stopped at the same layer (the top-k bookkeeping
alone). Memory: the peak while streaming a lazily generated dataset, and the same dataset 10 times longer
(tracemalloc and the process's peak resident memory on CPU, ``torch.cuda.max_memory_allocated`` on CUDA).
"""
import os
import resource
import tracemalloc

import torch
from torch.utils.data import Dataset

from course_utils import models, patches
from course_utils.hooks import get_layer
from timing import bench_device, interleaved

os.environ.setdefault("COURSE_PROGRESS", "0")  # no progress bars in the timings


class NoiseImages(Dataset):
    """Images made when asked for (seeded per item): the dataset itself takes no memory."""

    def __init__(self, count: int, size: int = 64):
        self.count, self.size = count, size

    def __len__(self):
        return self.count

    def __getitem__(self, index):
        generator = torch.Generator().manual_seed(index)
        return torch.rand(3, self.size, self.size, generator=generator), 0


def _model(device):
    model = models.load("shapenet", device=device)
    return model, model.roles["last_conv"]


def test_top_activations_costs_one_forward_pass(record):
    device = bench_device()
    model, layer = _model(device)
    count, batch = (16384, 1024) if device.type == "cuda" else (512, 128)
    images = torch.rand(count, 3, 64, 64, device=device)
    module = get_layer(model, layer)

    def forward():
        with torch.no_grad():
            for chunk in images.split(batch):
                model(chunk)

    def forward_to_layer():
        with torch.no_grad():
            for chunk in images.split(batch):
                patches._layer_output(model, module, chunk)

    def top_k():
        patches.top_activations(model, images, layer, k=9, batch_size=batch)

    times = interleaved({"forward": forward, "to_layer": forward_to_layer, "top_k": top_k}, repeats=3, device=device)
    ratio = times["top_k"] / times["forward"]
    overhead = times["top_k"] / times["to_layer"]
    record("top_activations / forward pass (ShapeNet last conv, k=9)",
           f"{ratio:.2f}x ({overhead:.2f}x a forward stopped at the layer; {count} images, "
           f"{count / times['top_k']:,.0f} images/s)", "<= 1.2")  # fmt: skip
    assert ratio < 2.0 and overhead < 3.0  # generous ceilings: a busy machine must not fail them


def _peak(model, layer, dataset, device) -> int:
    """Peak bytes while streaming ``dataset``: CUDA allocator on a GPU, tracemalloc on the CPU."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        base = torch.cuda.memory_allocated(device)
        torch.cuda.reset_peak_memory_stats(device)
        patches.top_activations(model, dataset, layer, k=9, batch_size=256)
        torch.cuda.synchronize(device)
        return torch.cuda.max_memory_allocated(device) - base
    tracemalloc.start()
    try:
        patches.top_activations(model, dataset, layer, k=9, batch_size=256)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_memory_is_flat_when_the_data_grows(record):
    device = bench_device()
    model, layer = _model(device)
    small, large = (2048, 20480) if device.type == "cuda" else (256, 2560)
    patches.top_activations(model, NoiseImages(small), layer, k=9, batch_size=256)  # warm-up: caches, allocator
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB, the process's high-water mark
    if device.type == "cpu":  # tracemalloc sees Python objects only: also watch the whole process, untraced
        patches.top_activations(model, NoiseImages(large), layer, k=9, batch_size=256)
    rss_growth = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before) / 1024  # MiB
    peak_small = _peak(model, layer, NoiseImages(small), device)
    peak_large = _peak(model, layer, NoiseImages(large), device)
    growth = peak_large / max(peak_small, 1)
    all_maps_mib = large * 128 * 8 * 8 * 4 / 2**20  # what storing every map of the large run would take
    how = "CUDA allocator" if device.type == "cuda" else "tracemalloc"
    record("top_activations peak memory, 10x the data",
           f"{growth:.2f}x ({how}: {peak_small / 2**20:.1f} -> {peak_large / 2**20:.1f} MiB; process high-water "
           f"+{rss_growth:.0f} MiB; all maps would "
           f"be {all_maps_mib:.0f} MiB)", "flat (1.0x)")  # fmt: skip
    assert growth < 1.5 or peak_large - peak_small < 2**20  # flat, or below 1 MiB of difference
    if device.type == "cpu":
        assert rss_growth < all_maps_mib / 2
