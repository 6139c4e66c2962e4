"""Lecture 06 widget: a deepvis-style activation explorer (static counterpart:
:func:`course_utils.plotting.show_activations`)."""
from __future__ import annotations

import io
from typing import Sequence

import ipywidgets as widgets
import matplotlib.pyplot as plt
import torch

from .. import activations as acts
from .. import hooks, patches
from ..imaging import check_images
from ..plotting.activations import show_activations
from .static import INTERACTIVE, StaticView, quiet_progress, static_mode

__all__ = ["ActivationExplorer", "activation_explorer"]


class ActivationExplorer(widgets.VBox):
    """Image, layer and channel pickers above the :func:`~course_utils.plotting.show_activations`
    figure (rendered as a PNG, so it also works where no live matplotlib backend exists).

    Attributes: ``image_picker``, ``layer_picker``, ``channel_picker`` (change their ``value``
    to drive it from code), ``view`` (the ``ipywidgets.Image``), ``status`` (an HTML line).
    Feature maps are computed once per layer for all images, top patches once per layer for all
    channels; every forward pass goes through :mod:`course_utils.hooks` (hooks always removed).
    With ``COURSE_WIDGETS=static`` it displays a picture of its initial view instead of the widget.
    """

    def __init__(self, model, images: torch.Tensor, *, dataset=None, layers: Sequence[str] | None = None,
                 k: int = 9, captions: Sequence[str] | None = None, dpi: int = 72):  # fmt: skip
        check_images(images)
        if len(images) == 0:
            raise ValueError("images is empty: give at least one image to explore")
        layers = list(layers) if layers is not None else acts.default_layers(model)
        if not layers:
            raise ValueError("no layers to explore: pass layers=[...] (names from course_utils.hooks.layer_names)")
        for layer in layers:
            hooks.get_layer(model, layer)  # a clear error for an unknown name
        if captions is not None and len(captions) != len(images):
            raise ValueError(f"got {len(captions)} captions for {len(images)} images")
        self.model, self.images, self.dataset, self.k, self.dpi = model, images, dataset, k, dpi
        self._maps: dict[str, torch.Tensor] = {}
        self._top: dict[str, patches.TopActivations] = {}
        labels = list(captions) if captions is not None else [f"image {i}" for i in range(len(images))]
        self.image_picker = widgets.Dropdown(options=[(f"{i}: {c}", i) for i, c in enumerate(labels)], value=0,
                                             description="image")  # fmt: skip
        self.layer_picker = widgets.Dropdown(options=layers, value=layers[0], description="layer")
        count = self._layer_maps(layers[0]).shape[1]
        self.channel_picker = widgets.IntSlider(value=0, min=0, max=count - 1, description="channel",
                                                continuous_update=False)  # fmt: skip
        self.view = widgets.Image(format="png")
        self.status = widgets.HTML()
        super().__init__([widgets.HBox([self.image_picker, self.layer_picker, self.channel_picker]), self.view, self.status])
        self._updating = False
        self.channel_picker.value = self._strongest()
        self.image_picker.observe(self._on_change, names="value")
        self.layer_picker.observe(self._on_layer, names="value")
        self.channel_picker.observe(self._on_change, names="value")
        self.refresh()
        self._initial = (self.image_picker.label, self.layer_picker.value, self.channel_picker.value, self.view.value)

    def static_view(self) -> StaticView:
        """A picture of the initial view (first image, first layer, its strongest channel) and one line."""
        image, layer, channel, png = self._initial
        line = (f"The explorer's initial view (image {image}, layer {layer}, channel {channel}), as a picture: "
                f"{INTERACTIVE} (pick an image, a layer and a channel).")  # fmt: skip
        return StaticView(png, line)

    def _repr_mimebundle_(self, **kwargs):
        """The widget in a live notebook; a static picture when ``COURSE_WIDGETS=static``."""
        if static_mode():
            return self.static_view()._repr_mimebundle_()
        return super()._repr_mimebundle_(**kwargs)

    def _layer_maps(self, layer: str) -> torch.Tensor:
        """``(N, C, h, w)`` maps of ``layer`` for all images (cached)."""
        if layer not in self._maps:
            maps = acts.feature_maps(self.model, self.images, layer).cpu()
            if maps.ndim != 4:
                raise ValueError(f"layer {layer!r} gives {tuple(maps.shape)}: the explorer needs spatial maps (N, C, h, w)")
            self._maps[layer] = maps
        return self._maps[layer]

    def _strongest(self) -> int:
        maps = self._layer_maps(self.layer_picker.value)[self.image_picker.value]  # (C, h, w)
        return int(maps.flatten(1).amax(1).argmax())

    def _channel_top(self, layer: str, channel: int):
        if self.dataset is None:
            return None
        if layer not in self._top:
            with quiet_progress():
                self._top[layer] = patches.top_activations(self.model, self.dataset, layer, k=self.k, one_per_image=True)
        return patches.TopActivations(*(field[channel : channel + 1] for field in self._top[layer]))

    def _on_layer(self, change) -> None:
        self._updating = True
        try:
            count = self._layer_maps(change["new"]).shape[1]
            self.channel_picker.max = count - 1
            self.channel_picker.value = self._strongest()
        finally:
            self._updating = False
        self.refresh()

    def _on_change(self, change) -> None:
        if not self._updating:
            self.refresh()

    def refresh(self) -> None:
        """Redraw the figure for the current pickers."""
        layer, index, channel = self.layer_picker.value, self.image_picker.value, self.channel_picker.value
        maps = self._layer_maps(layer)[index]
        fig = show_activations(self.model, self.images[index], layer, channel=channel, maps=maps, dataset=self.dataset,
                               top=self._channel_top(layer, channel), k=self.k)  # fmt: skip
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=self.dpi)
        plt.close(fig)
        self.view.value = buffer.getvalue()
        active = float((maps[channel] > 0).float().mean())
        self.status.value = (f"<code>{layer}</code>, channel {channel} of {maps.shape[0]}: max "
                             f"{float(maps[channel].max()):.3f}, active at {active:.0%} of positions")  # fmt: skip


def activation_explorer(model, images: torch.Tensor, *, dataset=None, layers: Sequence[str] | None = None,
                        k: int = 9, captions: Sequence[str] | None = None) -> ActivationExplorer:  # fmt: skip
    """A deepvis-style explorer (Yosinski et al. 2015): pick an image, a layer and a channel.

    Shows every channel of the layer for the image, the chosen channel enlarged over the image,
    and, when ``dataset`` is given, its top-``k`` patches over the dataset, one per image (lecture 03's
    :func:`course_utils.patches.top_activations`). The static figure for rendered pages is
    :func:`course_utils.plotting.show_activations`.

    Args:
        model: a course model; never changed (eval mode, no gradients, hooks always removed).
        images: ``(N, 3, H, W)`` in [0, 1], the images to pick from.
        dataset: images ``(M, 3, H, W)`` (or a Dataset) to rank top patches over (optional).
        layers: layer names to offer (default :func:`course_utils.activations.default_layers`).
        k: top patches per channel.
        captions: one label per image for the image picker.

    Returns:
        an :class:`ActivationExplorer` (an ``ipywidgets.VBox``): display it, or drive its pickers.
        With ``COURSE_WIDGETS=static`` it displays a picture of its initial view and one line.

    Example:
        >>> explorer = activation_explorer(model, images, dataset=data.make_shapes(500).images)
        >>> explorer.layer_picker.value = explorer.layer_picker.options[-1]  # redraws
    """
    return ActivationExplorer(model, images, dataset=dataset, layers=layers, k=k, captions=captions)
