"""What a student who delegates every graded function of assignment 09_class_models to the course writes
(one solution cell, by grade id, at a time); see ``tests/test_nbgrader.py``."""
CELLS = {
    "ascent_step": '''
def ascent_step(image, grad, lr=0.02, l2=1e-3, eps=1e-8):
    x = image.detach().clone().requires_grad_(True)
    optimizer = synthesis.NormalizedGradient([x], lr=lr)
    x.grad = -(grad - 2 * l2 * (image - 0.5))
    optimizer.step()
    return x.detach().clamp(0, 1)
''',
    "class_model_loop": '''
def class_model_loop(model, init, targets, steps=20, lr=0.02, l2=1e-3):
    objective = synthesis.class_score(targets.tolist()) - l2 * synthesis.l2()
    result = synthesis.optimize(model, objective, param=init, steps=steps, lr=lr, optimizer="normalized",
                                record={"score": synthesis.class_score(targets.tolist())})
    return result.image, result.records["score"]
''',
    "choose_l2": '''
MY_L2 = 0.06
''',
}
