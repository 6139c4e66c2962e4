"""A correct submission of assignment 01_convnet_recap written differently from the solutions (one
solution cell, by grade id, at a time): it must get full marks, so the tests check only what the
docstrings promise."""
CELLS = {
    "topk_classes": '''
def topk_classes(scores, class_names, k=5):
    if len(scores.shape) != 2:
        raise ValueError("scores must be a 2-D (N, C) tensor")
    n_classes = scores.shape[-1]
    if n_classes != len(class_names):
        raise ValueError("one class name per column of scores")
    if type(k) is not int or k < 1 or k > n_classes:
        raise ValueError("k must be an int in [1, C]")
    values = scores.detach().cpu().double()
    shifted = values - values.max(dim=1, keepdim=True).values
    weights = shifted.exp()
    probabilities = weights / weights.sum(dim=1, keepdim=True)
    order = probabilities.argsort(dim=1, descending=True)[:, :k]
    answer = []
    for row in range(order.shape[0]):
        answer.append([(class_names[int(c)], float(probabilities[row, c])) for c in order[row]])
    return answer
''',
    "conv_output_size": '''
def conv_output_size(size, kernel, stride=1, padding=0, dilation=1):
    span = dilation * (kernel - 1) + 1
    if span > size + 2 * padding:
        raise ValueError(f"a kernel spanning {span} pixels does not fit in {size} + 2 x {padding} pixels")
    return (size + 2 * padding - span) // stride + 1
''',
    "receptive_fields": '''
def receptive_fields(layers):
    spans = [d * (k - 1) + 1 for k, s, p, d in layers]
    jumps_before = [math.prod(s for _, s, _, _ in layers[:i]) for i in range(len(layers))]
    answer = []
    for i in range(len(layers)):
        below = range(i + 1)
        field = 1 + sum((spans[m] - 1) * jumps_before[m] for m in below)
        start = sum(((spans[m] - 1) / 2 - layers[m][2]) * jumps_before[m] for m in below)
        answer.append((int(field), int(jumps_before[i] * layers[i][1]), float(start)))
    return answer
''',
    "choose_chain": '''
MY_CHAIN = [(5, 1, 2, 1), (5, 1, 6, 3), (5, 1, 8, 4)]
for geometry, (field, jump, start) in zip(MY_CHAIN, receptive_fields(MY_CHAIN)):
    print(f"{str(geometry):<16} receptive field {field:>4}, jump {jump}")
''',
}
