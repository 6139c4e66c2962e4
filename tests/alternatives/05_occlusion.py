"""A correct submission of assignment 05_occlusion written differently from the solutions (other
operations, only the checks the docstrings promise), one solution cell by grade id; it must keep
full marks (see ``tests/test_nbgrader.py``)."""
CELLS = {
    "window_masks": '''
import torch.nn.functional as F


def window_masks(height, width, window, stride):
    if min(window, stride) < 1:
        raise ValueError("window and stride must be positive")
    if window > height or window > width:
        raise ValueError("the window does not fit in the image")
    rows, cols = (height - window) // stride + 1, (width - window) // stride + 1
    # one image per position, with a single 1 at the window's top-left corner (on a grid of stride s) ...
    corners = torch.eye(rows * cols).reshape(rows * cols, 1, rows, cols)
    # ... spread over a k x k square by a transposed convolution with a kernel of ones
    squares = F.conv_transpose2d(corners, torch.ones(1, 1, window, window), stride=stride)[:, 0]
    squares = F.pad(squares, (0, width - squares.shape[-1], 0, height - squares.shape[-2]))
    return squares > 0.5
''',
    "occlusion_map": '''
def occlusion_map(model, image, target, window, stride, baseline=0.5, batch_size=64):
    height, width = image.shape[-2:]
    masks = window_masks(height, width, window, stride)
    rows = (height - window) // stride + 1
    was_training = model.training
    model.eval()
    try:
        probabilities = []
        with torch.no_grad():
            for start in range(0, len(masks), batch_size):
                chunk = masks[start : start + batch_size, None]
                occluded = torch.where(chunk, torch.tensor(baseline, dtype=image.dtype), image)
                probabilities.append(model(occluded).softmax(dim=1)[:, target])
    finally:
        model.train(was_training)
    return torch.cat(probabilities).reshape(rows, -1)
''',
    "pointing_hit": '''
def pointing_hit(probability, mask, window, stride):
    masks = window_masks(mask.shape[0], mask.shape[1], window, stride)
    overlap = (masks & mask).flatten(1).any(dim=1)
    lowest = int(probability.flatten().argmin())
    return bool(overlap[lowest]), float(overlap.float().mean())
''',
    "choose_window": '''
MY_WINDOW = 24  # another window that hides an arm and keeps the chance level below 0.9
''',
}
