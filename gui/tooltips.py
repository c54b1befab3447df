"""One-sentence explanations (with the formula where there is one) shown as tooltips."""

ACTIVATIONS = {
    "relu": ("ReLU", "Rectified linear unit: f(z) = max(0, z). Cheap, and its gradient does not vanish for z > 0."),
    "leaky_relu": ("Leaky ReLU", "f(z) = z if z > 0 else 0.01·z: like ReLU, but a unit stuck below 0 still learns."),
    "sigmoid": ("Sigmoid", "σ(z) = 1 / (1 + e^−z), squashes to (0, 1); saturates, so deep stacks learn slowly."),
    "tanh": ("Tanh", "tanh(z) = (e^z − e^−z) / (e^z + e^−z), squashes to (−1, 1), centred on 0."),
}
INITIALIZERS = {
    "he": ("He", "W ~ N(0, 2 / fan_in): keeps the signal's variance through ReLU layers."),
    "xavier": ("Xavier", "W ~ U(−a, a), a = √(6 / (fan_in + fan_out)): balanced for tanh and sigmoid."),
    "lecun": ("LeCun", "W ~ N(0, 1 / fan_in): for tanh and sigmoid layers."),
    "normal": ("Small normal", "W ~ N(0, 0.01²): the classic tiny start; deep nets barely learn from it."),
}
OPTIMIZERS = {
    "sgd": ("SGD", "Plain gradient descent: w ← w − η·g."),
    "momentum": ("Momentum", "v ← μ·v + g, w ← w − η·v: velocity smooths noisy gradients and speeds up valleys."),
    "nesterov": ("Nesterov", "Momentum that looks ahead: w ← w − η·(g + μ·v), with v ← μ·v + g."),
    "rmsprop": ("RMSProp", "s ← ρ·s + (1−ρ)·g², w ← w − η·g / (√s + ε): a step size per weight."),
    "adam": ("Adam", "Momentum plus RMSProp with bias correction: w ← w − η·m̂ / (√v̂ + ε)."),
}
SCHEDULES = {
    "constant": ("Constant", "The learning rate stays η for the whole run."),
    "step": ("Step decay", "η·0.5^⌊epoch / k⌋: halve the rate every third of the run."),
    "cosine": ("Cosine", "η·(1 + cos(π·epoch / epochs)) / 2: glide smoothly down to 0."),
}
DESCENTS = {
    "full": ("Full batch", "One update per pass, from the gradient averaged over every training image."),
    "mini": ("Mini-batch", "One update per batch of B shuffled images: the usual compromise."),
    "sgd": ("Stochastic", "One update per image: noisy steps, but progress after every sample."),
}

WIDTH = "Neurons in this layer, each computing a = f(x·w + b); more units, more capacity and parameters."
DROPOUT = "While training, zero each hidden unit with probability p and scale the rest by 1/(1−p); off at test time."
SEED = "Seeds the initial weights, dropout and the shuffling order: the same seed repeats a run exactly."
PARAMS = "Weights plus biases: Σ (fan_in·fan_out + fan_out) over the Dense layers."
BATCH_SIZE = "B, the number of images averaged per gradient step in mini-batch mode: g = (1/B)·Σ ∇loss_i."
LEARNING_RATE = "η, the step size: w ← w − η·g. It can be changed while a run trains."
MOMENTUM = "μ, how much of the previous step is kept: v ← μ·v + g (Momentum and Nesterov only)."
WEIGHT_DECAY = "λ, L2 regularisation: g ← g + λ·w, pulling weights towards 0."
EPOCHS = "Passes over the training subset."
TRAIN_SIZE = "How many training images to use (the first N): fewer train faster, generalise worse."
DATASET = "Which images to learn: MNIST digits (bundled) or Fashion-MNIST clothes."
AUGMENT = (
    "Every update sees its images randomly shifted, rotated and scaled a little: more varied "
    "examples, less overfitting, slower to fit. Mini-batch and stochastic descent draw new "
    "transforms for each batch or image; full batch transforms the whole training set afresh at "
    "every epoch."
)
CONTINUE = (
    "Train the current model (the last run's or the opened file's) further instead of starting from "
    "fresh weights. Available when its layers match the Network tab."
)
COMPARE_INIT = (
    "Train the current network twice from the same seed: from small random weights N(0, 0.01²) and from "
    "He initialisation, then overlay them."
)
ABOUT = "About scratchnet: version, licences and credits."
OPEN_FOLDER = "Use a folder holding the four IDX files of an MNIST-style data set."
START = "Build the network from the settings (fresh weights from the seed) and train it (Ctrl+Enter)."
PAUSE = "Pause after the current update; press again to resume."
STOP = "Stop after the current update and keep the run in the history (Esc)."
STEP = "While paused, run exactly one more update (one gradient step)."
COMPARE = (
    "Train the current network three times from the same seed: full batch, mini-batch, stochastic, "
    "each with plain SGD at its own learning rate, then overlay them."
)
RUNS = "Finished and stopped runs. Select several (Ctrl/Shift+click) to overlay their curves."
X_AXIS = "Plot against epochs (passes), samples seen (images processed) or training seconds."
