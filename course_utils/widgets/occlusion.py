"""Lecture 05 widgets: a window/stride explorer for occlusion maps, and the occlusion quiz.

The quiz is the lecture's "human experiment comparison": the reader names the class of synthetic
images hidden more and more by grey squares, and compares their accuracy with the network's on
the very same images (:func:`course_utils.plotting.show_quiz_results`).
"""
from __future__ import annotations

import io
from dataclasses import dataclass

import ipywidgets
import numpy as np
import torch

from ..data.synthetic import CLASSES, make_shapes
from ..imaging import check_images, to_pil
from .static import INTERACTIVE, StaticView, figure_png, quiet_progress, static_mode

__all__ = ["QuizItems", "make_quiz", "accuracy_by_level", "simulated_reader", "OcclusionQuiz", "OcclusionExplorer",
           "occlusion_explorer"]


@dataclass
class QuizItems:
    """Quiz images in the order they are shown (growing occlusion).

    ``images (M, 3, H, W)`` in [0, 1] (occluded), ``labels (M,)``, ``levels (M,)`` the occluded
    share of the image, ``visible (M,)`` the share of the object left visible, ``classes``.
    """

    images: torch.Tensor
    labels: torch.Tensor
    levels: torch.Tensor
    visible: torch.Tensor
    classes: tuple[str, ...] = CLASSES

    def __len__(self) -> int:
        return len(self.labels)


def make_quiz(levels=(0.0, 0.3, 0.5, 0.7, 0.85), per_level: int = 6, *, size: int = 64, cells: int = 8,
              seed: int = 0) -> QuizItems:
    """Synthetic shapes hidden by grey squares: ``per_level`` new images at each occlusion level.

    The image is cut into ``cells x cells`` squares and ``round(level * cells**2)`` of them, drawn
    at random, are painted grey (0.5). Each image appears once (a reader who saw it less occluded
    would remember it). Deterministic given ``seed``.

    Example:
        >>> quiz = make_quiz(per_level=2)
        >>> quiz.images.shape, quiz.levels.tolist()[:3]  # (10, 3, 64, 64), [0.0, 0.0, 0.3]
    """
    levels = [float(level) for level in levels]
    if not levels or min(levels) < 0 or max(levels) > 1:
        raise ValueError(f"levels must be occluded shares in [0, 1], got {levels}")
    if per_level < 1 or size % cells:
        raise ValueError(f"need per_level >= 1 and size divisible by cells, got {per_level}, {size}, {cells}")
    batch = make_shapes(len(levels) * per_level, size=size, seed=seed)
    level = torch.tensor(levels).repeat_interleave(per_level)  # (M,)
    generator = torch.Generator().manual_seed(seed + 1)
    order = torch.rand(len(level), cells * cells, generator=generator).argsort(dim=1)  # random cell ranks
    hidden = order < (level * cells * cells).round()[:, None]  # (M, cells^2): the first k ranks
    pixels = hidden.reshape(-1, 1, cells, cells).float()
    pixels = torch.nn.functional.interpolate(pixels, scale_factor=size // cells, mode="nearest")[:, 0] > 0  # (M, H, W)
    images = torch.where(pixels[:, None], torch.tensor(0.5), batch.images)
    visible = (batch.masks & ~pixels).sum((1, 2)) / batch.masks.sum((1, 2)).clamp(min=1)
    shown = pixels.float().mean((1, 2))
    return QuizItems(images, batch.labels, shown, visible, batch.classes)


def accuracy_by_level(correct, levels) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Accuracy per occlusion level: ``(levels, accuracy, counts)``; ``nan`` where nothing was answered.

    ``correct``: ``(M,)`` bool, or float with ``nan`` for unanswered items; ``levels``: ``(M,)``.
    Levels are rounded to 2 decimals to group items.
    """
    correct = np.asarray(correct, dtype=float)
    levels = np.round(np.asarray(levels, dtype=float), 2)
    unique = np.unique(levels)
    answered = ~np.isnan(correct)
    counts = np.array([(answered & (levels == level)).sum() for level in unique])
    sums = np.array([np.nansum(correct[levels == level]) for level in unique])
    with np.errstate(invalid="ignore", divide="ignore"):
        return unique, np.where(counts > 0, sums / np.maximum(counts, 1), np.nan), counts


def simulated_reader(quiz: QuizItems, *, seed: int = 0) -> torch.Tensor:
    """Answers ``(M,)`` of a *simulated* reader: an assumption about a reader, not data from a person.

    It assumes a reader who names the true class with probability equal to the share of the object
    left visible, and otherwise guesses uniformly among the classes; its accuracy curve restates
    that assumption. Reproducible given ``seed``.
    """
    generator = torch.Generator().manual_seed(seed)
    knows = torch.rand(len(quiz), generator=generator) < quiz.visible
    guess = torch.randint(len(quiz.classes), (len(quiz),), generator=generator)
    return torch.where(knows, quiz.labels, guess)


def _png(image: torch.Tensor, scale: int) -> bytes:
    buffer = io.BytesIO()
    pil = to_pil(image)
    pil.resize((pil.width * scale, pil.height * scale), resample=0).save(buffer, format="PNG")  # 0: nearest
    return buffer.getvalue()


class OcclusionQuiz:
    """The quiz widget: one image at a time, one button per class; answers are recorded.

    ``answer(name)`` is what a button click calls, so the quiz can also be driven from code.
    ``answers`` holds the class index given for each item (``-1`` while unanswered) and
    :meth:`accuracy` the reader's accuracy per level. Display it by leaving it last in a cell.

    Example:
        >>> quiz = OcclusionQuiz(make_quiz())
        >>> quiz  # doctest: +SKIP  (shows the image and the buttons)
    """

    def __init__(self, items: QuizItems, *, scale: int = 3):
        import ipywidgets as widgets

        check_images(items.images, "quiz images")
        self.items, self.scale = items, scale
        self.answers = torch.full((len(items),), -1, dtype=torch.long)
        self.position = 0
        self._image = widgets.Image(format="png")
        self._status = widgets.HTML()
        buttons = [widgets.Button(description=name, layout=widgets.Layout(width="130px")) for name in items.classes]
        for button in buttons:
            button.on_click(lambda b: self.answer(b.description))
        self.widget = widgets.VBox([self._status, self._image, widgets.GridBox(
            buttons, layout=widgets.Layout(grid_template_columns="repeat(5, 135px)"))])  # fmt: skip
        self._show()

    def _show(self) -> None:
        total = len(self.items)
        if self.position >= total:
            levels, accuracy, _ = self.accuracy()
            summary = ", ".join(f"{level:.0%}: {acc:.0%}" for level, acc in zip(levels, accuracy))
            self._status.value = f"<b>Done.</b> Your accuracy by occluded share: {summary}"
            return
        level = float(self.items.levels[self.position])
        self._status.value = f"Item {self.position + 1} of {total}, {level:.0%} of the image hidden. Which class?"
        self._image.value = _png(self.items.images[self.position], self.scale)

    def answer(self, name: str) -> None:
        """Record ``name`` (a class name) for the current item and show the next one."""
        if name not in self.items.classes:
            raise ValueError(f"unknown class {name!r}; answer one of: {', '.join(self.items.classes)}")
        if self.position >= len(self.items):
            raise IndexError("the quiz is finished; create a new OcclusionQuiz to play again")
        self.answers[self.position] = self.items.classes.index(name)
        self.position += 1
        self._show()

    def correct(self) -> np.ndarray:
        """``(M,)`` float: 1 right, 0 wrong, ``nan`` not answered yet."""
        right = (self.answers == self.items.labels).numpy().astype(float)
        return np.where(self.answers.numpy() >= 0, right, np.nan)

    def accuracy(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The reader's ``(levels, accuracy, counts)`` so far (see :func:`accuracy_by_level`)."""
        return accuracy_by_level(self.correct(), self.items.levels)

    def static_view(self) -> StaticView:
        """A picture of the quiz's first view (status line, image, class buttons) and one line."""
        from ..plotting.occlusion import show_quiz_item

        level = float(self.items.levels[0])
        status = f"Item 1 of {len(self.items)}, {level:.0%} of the image hidden. Which class?"
        png = figure_png(show_quiz_item(self.items.images[0], status, self.items.classes))
        return StaticView(png, f"The quiz's first item, as a picture: {INTERACTIVE} (click a class for each image).")

    def _repr_mimebundle_(self, **kwargs):
        """The widget in a live notebook; a static picture when ``COURSE_WIDGETS=static``."""
        if static_mode():
            return self.static_view()._repr_mimebundle_()
        return self.widget._repr_mimebundle_(**kwargs)


class OcclusionExplorer(ipywidgets.VBox):
    """Sliders for the image, the window and the stride above the occlusion maps of one image.

    ``children[0]`` holds the sliders (``image``, ``window``, ``stride``: change their ``value`` to
    drive it from code), ``children[1]`` the figure (an ``ipywidgets.Image`` holding a PNG of
    :func:`course_utils.plotting.show_occlusion`). With ``COURSE_WIDGETS=static`` it displays a
    picture of its initial view instead of the widget.
    """

    def __init__(self, model, images: torch.Tensor, target=None, *, masks=None, baseline=0.5, dpi: int = 72):
        widgets = ipywidgets
        check_images(images)
        if len(images) == 0:
            raise ValueError("images is empty: give at least one image to explore")
        self.model, self.images, self.target, self.masks, self.baseline, self.dpi = model, images, target, masks, baseline, dpi
        side = min(images.shape[-2:])
        self.image = widgets.IntSlider(0, 0, len(images) - 1, description="image")
        self.window = widgets.IntSlider(max(1, side // 4), 1, side, description="window")
        self.stride = widgets.IntSlider(max(1, side // 16), 1, max(1, side // 2), description="stride")
        self.view = widgets.Image(format="png")
        super().__init__([widgets.HBox([self.image, self.window, self.stride]), self.view])
        self._initial = (self.image.value, self.window.value, self.stride.value)
        for slider in (self.image, self.window, self.stride):
            slider.observe(self.redraw, names="value")
        self.redraw()
        self._initial_png = self.view.value

    def figure(self):
        """The figure of the current slider values (a new matplotlib ``Figure``)."""
        from ..attribution.occlusion import occlusion
        from ..plotting.occlusion import show_occlusion

        n, window, stride = self.image.value, self.window.value, self.stride.value
        one = self.images[n : n + 1]
        target = self.target
        chosen = target if target is None or isinstance(target, (int, str)) else target[n : n + 1]
        with quiet_progress():
            maps = occlusion(self.model, one, chosen, window=window, stride=stride, baseline=self.baseline)
        return show_occlusion(one, maps, self.model.classes, window=window, stride=stride,
                              masks=None if self.masks is None else self.masks[n : n + 1])  # fmt: skip

    def redraw(self, change=None) -> None:
        """Recompute and show the maps for the current sliders."""
        self.view.value = figure_png(self.figure(), dpi=self.dpi)

    def static_view(self) -> StaticView:
        """A picture of the initial view (image, window and stride as first shown) and one line."""
        n, window, stride = self._initial
        line = (f"The explorer's initial view (image {n}, window {window}, stride {stride}), as a picture: "
                f"{INTERACTIVE} (sliders for the image, the window and the stride).")  # fmt: skip
        return StaticView(self._initial_png, line)

    def _repr_mimebundle_(self, **kwargs):
        if static_mode():
            return self.static_view()._repr_mimebundle_()
        return super()._repr_mimebundle_(**kwargs)


def occlusion_explorer(model, images: torch.Tensor, target=None, *, masks=None, baseline=0.5) -> OcclusionExplorer:
    """Sliders for the image, the window and the stride; redraws the occlusion maps of one image.

    The static counterpart is :func:`course_utils.plotting.show_occlusion`. With
    ``COURSE_WIDGETS=static`` (a page executed for the site) the explorer displays a picture of its
    initial view and one line saying that the live notebook is interactive.

    Returns:
        an :class:`OcclusionExplorer` (an ``ipywidgets.VBox``; display it by leaving it last in a cell).
    """
    return OcclusionExplorer(model, images, target, masks=masks, baseline=baseline)
