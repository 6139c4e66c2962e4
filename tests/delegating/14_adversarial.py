"""What a student who delegates every graded function of assignment 14_adversarial to the course writes
(one solution cell, by grade id, at a time); see ``tests/test_nbgrader.py``."""
CELLS = {
    "linear_attack": '''
def linear_attack(w, x, b, epsilon):
    attack = adversarial.linear_attack(w, x, b, epsilon)
    return attack.adversarial, attack.probability, attack.adversarial_probability
''',
    "fgsm": '''
def fgsm(model, images, labels, epsilon):
    return adversarial.fgsm(model, images, labels, epsilon)
''',
    "choose_epsilon": '''
MY_EPSILON = 12 / 255
''',
    "fool_step": '''
def fool_step(model, images, targets, confidence=0.99, overshoot=2.0, max_step=8 / 255):
    result = adversarial.fool(model, images, targets, max_steps=1, restarts=0, confidence=confidence,
                              overshoot=overshoot, max_step=max_step)
    return result.images, adversarial.target_confidence(model, images, targets)
''',
    "fool": '''
def fool(model, images, targets, max_steps=50, confidence=0.99):
    result = adversarial.fool(model, images, targets, max_steps=max_steps, confidence=confidence)
    return result.images, adversarial.target_confidence(model, result.images, targets)
''',
}
