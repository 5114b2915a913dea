# %% [markdown]
# # Gradient descent and its variants
#
# Every training method in this series comes down to the same step: compute the gradient of
# the loss with respect to the weights and move the weights a little against it,
#
# $$\mathbf{w} \leftarrow \mathbf{w} - \eta \nabla L(\mathbf{w}),$$
#
# with the learning rate $\eta$. That leaves two design questions, and this tutorial looks
# at both on problems small enough to draw:
#
# - **How much data per step?** The gradient of the loss over the whole training set (batch
#   gradient descent), over one sample (stochastic gradient descent) or over a small group of
#   samples (minibatch gradient descent).
# - **What to do with the gradient?** Use it as it is, accumulate it into a velocity
#   (momentum), or scale each weight's step by the size of its past gradients (Adagrad,
#   RMSProp, Adam).
#
# All of these are in `chainrule.optim`, with PyTorch's names and defaults.

# %%
import matplotlib.pyplot as plt
import numpy as np

import chainrule as cr
from chainrule import nn, optim
from chainrule.data import DataLoader, TensorDataset, make_spirals
from chainrule.train import fit

# %% [markdown]
# ## Batch, stochastic and minibatch gradient descent
#
# To see the path of the weights we need a model with only two of them. We fit a line
# $\hat{y} = w x + b$ to 100 noisy points by minimising the mean squared error
#
# $$L(w, b) = \frac{1}{N} \sum_{n=1}^{N} \left( w x_n + b - y_n \right)^2.$$
#
# The loss is a sum over samples, so its gradient is too. A minibatch of $B$ samples gives
# the same formula with the sum over the batch only: an estimate of the full gradient that
# is right on average but noisy, and the noisier the smaller $B$ is.
#
# We run the same algorithm, `optim.SGD` with $\eta = 0.1$, with three batch sizes for five
# epochs each (an *epoch* is one pass over the training data). A `DataLoader` cuts the
# shuffled data into batches; `batch_size=len(dataset)` is batch gradient descent and
# `batch_size=1` is stochastic.

# %%
rng = np.random.default_rng(0)
N = 100
x = rng.uniform(-2, 2, N)
y = 1.5 * x - 1 + 0.5 * rng.standard_normal(N)
dataset = TensorDataset(x, y)


def full_loss(w, b):
    return np.mean((w * x + b - y) ** 2)


def train_line(batch_size, epochs=5, lr=0.1):
    """Fit the line with minibatches of `batch_size`; return the weights after every step."""
    params = cr.tensor([-1.5, 2.0], dtype=np.float64, requires_grad=True)  # (w, b)
    optimizer = optim.SGD([params], lr=lr)
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=True, seed=0)
    path = [params.numpy().copy()]
    for _ in range(epochs):
        for xb, yb in loader:
            optimizer.zero_grad()
            loss = ((params[0] * xb + params[1] - yb) ** 2).mean()
            loss.backward()
            optimizer.step()
            path.append(params.numpy().copy())
    return np.array(path)


batch_sizes = {"batch (B = 100)": N, "minibatch (B = 10)": 10, "stochastic (B = 1)": 1}
paths = {name: train_line(size) for name, size in batch_sizes.items()}

best = np.linalg.lstsq(np.c_[x, np.ones(N)], y, rcond=None)[0]
print(f"least-squares solution: w = {best[0]:.3f}, b = {best[1]:.3f}, loss {full_loss(*best):.4f}")
print(f"{'':<20} {'steps':>5} {'w':>7} {'b':>7} {'loss':>7}")
for name, path in paths.items():
    w, b = path[-1]
    print(f"{name:<20} {len(path) - 1:>5} {w:>7.3f} {b:>7.3f} {full_loss(w, b):>7.4f}")

# %% [markdown]
# The left panel draws the contours of $L(w, b)$ and each method's path from the same start;
# the right panel shows the loss on the whole data set after every step, against the
# number of epochs so far.

# %%
colours = {
    "batch (B = 100)": "tab:blue",
    "minibatch (B = 10)": "tab:green",
    "stochastic (B = 1)": "tab:red",
}
ws, bs = np.meshgrid(np.linspace(-2, 3, 200), np.linspace(-2.5, 2.5, 200))
surface = np.mean((ws[..., None] * x + bs[..., None] - y) ** 2, axis=-1)

fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.8), layout="constrained")
left.contour(ws, bs, surface, levels=np.geomspace(0.3, 30, 12), colors="gray", linewidths=0.6)
for name, path in paths.items():
    style = {"color": colours[name], "lw": 0.8, "marker": "o", "ms": 2}
    if name.startswith("stochastic"):
        style.update(lw=0.5, ms=0, alpha=0.7)
    left.plot(path[:, 0], path[:, 1], label=name, **style)
    epochs = np.linspace(0, 5, len(path))
    right.semilogy(epochs, [full_loss(w, b) for w, b in path], **style)
left.plot(*best, "k*", ms=12, mec="white", zorder=5, label="minimum")
left.set(xlabel="w", ylabel="b", title="paths in weight space")
left.legend(fontsize=7, loc="upper right")
right.axhline(full_loss(*best), color="black", ls="--", lw=0.8, label="minimum")
right.set(xlabel="epoch", ylabel="loss on all data (log scale)", title="loss per epoch")
right.grid(alpha=0.3, which="both")
right.legend(fontsize=8)
plt.show()

# %% [markdown]
# In five epochs, batch gradient descent made five careful steps and is still far from the
# minimum. Minibatch descent made ten steps per epoch, each almost as good as a full-batch
# step, and got close. Stochastic descent made a hundred steps per epoch and got near the
# minimum fastest, but its path is a random walk: every sample pulls the line towards
# itself, so the weights keep jumping around the minimum instead of settling in it, and its
# final loss is above the minibatch run's.
#
# That is the trade-off. A step on fewer samples is cheaper and, per epoch, we get more of
# them; but the noise in each step stays as long as the learning rate does. Minibatches of
# tens to hundreds of samples are the usual compromise (they also use vectorised
# arithmetic well). To make a stochastic run settle, the learning rate must shrink over time,
# the subject of the [next tutorial](10-learning-rates.md).
#
# ## A narrow valley
#
# The second difficulty does not need any noise. Take the elongated bowl
#
# $$f(w_1, w_2) = 0.1\, w_1^2 + 2\, w_2^2,$$
#
# twenty times steeper across than along. Its gradient is $(0.2\, w_1, 4\, w_2)$. Gradient
# descent multiplies $w_2$ by $1 - 4\eta$ each step, so it diverges unless $\eta < 0.5$; and
# it multiplies $w_1$ by $1 - 0.2 \eta$, which for $\eta$ close to $0.5$ is still $0.9$:
# progress along the valley is slow. The steep direction sets the learning rate, the shallow
# one the speed. The optimisers below address this in two ways. In their update rules, $w$
# is the vector of weights, $g = \nabla L(w)$ its gradient at the current step, and
# squares, square roots and divisions of vectors are taken element by element.
#
# **Momentum** keeps a velocity $v$, a decaying sum of past gradients, and steps along it:
#
# $$v \leftarrow \mu v + g,$$
#
# $$w \leftarrow w - \eta v.$$
#
# Components of the gradient that keep their sign (along the valley) build up speed, up to
# $1 / (1 - \mu)$ times the plain step; components that flip sign from step to step (across
# the valley) cancel out. This is `optim.SGD(params, lr, momentum=mu)`.
#
# **Adagrad** gives every weight its own step size, dividing by the square root of the sum
# $s$ of all its squared gradients so far:
#
# $$s \leftarrow s + g^2,$$
#
# $$w \leftarrow w - \eta \frac{g}{\sqrt{s} + \epsilon}.$$
#
# A weight with large gradients takes smaller steps, one with small gradients larger ones.
# Because $s$ only grows, the steps keep shrinking, which can stop training too early.
#
# **RMSProp** replaces the sum by a running average, so that old gradients are forgotten:
#
# $$r \leftarrow \alpha r + (1 - \alpha) g^2,$$
#
# $$w \leftarrow w - \eta \frac{g}{\sqrt{r} + \epsilon}.$$
#
# **Adam** combines both ideas: a running average $m$ of the gradients (momentum) divided
# by the root of a running average $r$ of their squares (RMSProp), with a correction for
# both averages starting at zero:
#
# $$m \leftarrow \beta_1 m + (1 - \beta_1) g,$$
#
# $$r \leftarrow \beta_2 r + (1 - \beta_2) g^2,$$
#
# $$\hat{m} = \frac{m}{1 - \beta_1^t}, \quad \hat{r} = \frac{r}{1 - \beta_2^t},$$
#
# $$w \leftarrow w - \eta \frac{\hat{m}}{\sqrt{\hat{r}} + \epsilon},$$
#
# with $t$ the number of steps taken. The defaults are $\beta_1 = 0.9$ and $\beta_2 = 0.999$.
#
# Each optimiser below takes 40 steps from the same start, with a learning rate that suits
# it (the adaptive methods' steps are measured in different units, so equal rates would not be
# a fair comparison). Gradient descent gets $\eta = 0.4$, close to its limit of 0.5.


# %%
def valley(w):
    return 0.1 * w[0] ** 2 + 2 * w[1] ** 2


def descend(make_optimizer, steps=40):
    w = cr.tensor([-5.0, -2.0], dtype=np.float64, requires_grad=True)
    optimizer = make_optimizer([w])
    path = [w.numpy().copy()]
    for _ in range(steps):
        optimizer.zero_grad()
        valley(w).backward()
        optimizer.step()
        path.append(w.numpy().copy())
    return np.array(path)


optimisers = {
    "gradient descent, lr 0.4": lambda p: optim.SGD(p, lr=0.4),
    "momentum 0.5, lr 0.4": lambda p: optim.SGD(p, lr=0.4, momentum=0.5),
    "Adagrad, lr 1": lambda p: optim.Adagrad(p, lr=1.0),
    "RMSProp, lr 0.1": lambda p: optim.RMSprop(p, lr=0.1),
    "Adam, lr 0.3": lambda p: optim.Adam(p, lr=0.3),
}
valley_paths = {name: descend(make) for name, make in optimisers.items()}

w1, w2 = np.meshgrid(np.linspace(-5.5, 5.5, 200), np.linspace(-2.5, 2.5, 200))
heights = 0.1 * w1**2 + 2 * w2**2
fig, axes = plt.subplots(2, 3, figsize=(9, 5.2), layout="constrained")
for ax, (name, path) in zip(axes.flat, valley_paths.items()):
    ax.contour(w1, w2, heights, levels=np.geomspace(0.05, 12, 10), colors="gray", linewidths=0.5)
    ax.plot(path[:, 0], path[:, 1], "o-", ms=2.5, lw=1, color="tab:blue")
    ax.plot(0, 0, "k*", ms=8)
    ax.set_title(name, fontsize=9)
    ax.set(xlabel="$w_1$", ylabel="$w_2$")
curves = axes.flat[-1]
for name, path in valley_paths.items():
    curves.semilogy([valley(w) for w in path], lw=1.2, label=name.split(",")[0])
curves.set(xlabel="step", ylabel="f (log scale)")
curves.set_title("value after each step", fontsize=9)
curves.grid(alpha=0.3, which="both")
curves.legend(fontsize=6)
fig.suptitle("40 steps on f = 0.1 w1² + 2 w2²")
plt.show()

for name, path in valley_paths.items():
    print(f"{name:<25} f after 10 steps {valley(path[10]):.1e}, after 40 {valley(path[40]):.1e}")

# %% [markdown]
# What the panels show:
#
# - **Gradient descent** overshoots across the valley on every step (the factor
#   $1 - 4 \eta = -0.6$ flips the sign of $w_2$), while it creeps along $w_1$.
# - **Momentum** with the same learning rate overshoots across the valley just as much in
#   its first steps, but along the valley its velocity builds up: it covers the length of
#   the valley in a fraction of the steps, and its value falls fastest of all (last panel).
#   How much of the zigzag cancels in the velocity depends on $\mu$ and $\eta$ together.
# - **Adagrad** and **RMSProp** divide each coordinate by its own gradient size, so at first
#   both coordinates move by about the same amount: the path heads diagonally, not
#   downhill, and then follows the valley floor. The steep coordinate no longer limits the
#   shallow one.
# - **Adam**'s momentum carries it past the valley floor, and after 40 steps it is still
#   oscillating, with the highest value of the five: on this smooth, noise-free function its
#   averaging buys little.
#
# The last panel is the honest summary: which method is fastest depends on the function
# and on the learning rate each gets. There is no ranking that holds for every problem.
# Note also that the per-coordinate methods profit here from the valley being aligned with
# the axes; for a valley running diagonally, dividing each coordinate separately could not
# undo the elongation.
#
# ## Training a network
#
# On a real network the differences show up as training curves. We train the same network,
# two hidden layers of 32 tanh units, to separate two interleaved spirals, with each
# optimiser: minibatches of 32, 80 epochs, the same initial weights (`cr.manual_seed(0)`
# before building each model). The learning rates are common starting values: 0.1 for SGD,
# with and without momentum 0.9, and for Adagrad; 0.01 for RMSProp and Adam.

# %%
X, labels = make_spirals(300, noise=0.1, turns=1.0, seed=0)
X = X.astype(np.float32)

network_optimisers = {
    "SGD": lambda p: optim.SGD(p, lr=0.1),
    "SGD + momentum": lambda p: optim.SGD(p, lr=0.1, momentum=0.9),
    "Adagrad": lambda p: optim.Adagrad(p, lr=0.1),
    "RMSProp": lambda p: optim.RMSprop(p, lr=0.01),
    "Adam": lambda p: optim.Adam(p, lr=0.01),
}
histories = {}
for name, make in network_optimisers.items():
    cr.manual_seed(0)
    model = nn.mlp(2, [32, 32], 2, activation="tanh")
    histories[name] = fit(
        model,
        nn.CrossEntropyLoss(),
        make(model.parameters()),
        (X, labels),
        epochs=80,
        batch_size=32,
        progress=False,
    )

fig, (data_ax, loss_ax) = plt.subplots(
    1, 2, figsize=(9, 3.6), width_ratios=[1, 1.6], layout="constrained"
)
data_ax.scatter(X[:, 0], X[:, 1], c=labels, cmap="coolwarm", s=8)
data_ax.set(xlabel="$x_1$", ylabel="$x_2$", title="two spirals", aspect="equal")
for name, history in histories.items():
    epochs = np.arange(1, history.epochs + 1)
    loss_ax.semilogy(epochs, history.train_loss, label=name)
loss_ax.set(xlabel="epoch", ylabel="training loss (log scale)", title="cross-entropy per epoch")
loss_ax.grid(alpha=0.3, which="both")
loss_ax.legend(fontsize=8)
plt.show()

print(f"{'':<15} {'final loss':>10} {'accuracy':>9}")
for name, history in histories.items():
    print(f"{name:<15} {history.train_loss[-1]:>10.3f} {history.train_accuracy[-1]:>9.2f}")

# %% [markdown]
# Plain SGD stays on a plateau: its loss hardly moves, and its accuracy shows that it has
# not learned the spirals. Plateaus like this are common early in training: the gradient is
# small, so steps proportional to it are small too, and leaving takes a long time (in a run
# of a few hundred epochs, this one does leave). Momentum adds up these small but consistent
# gradients and leaves the plateau after a couple of dozen epochs.
#
# The adaptive methods divide by the gradient's own size, so their steps are about $\eta$ per
# weight however small the gradient is. That makes the learning rate the thing to compare:
#
# - Adagrad's first steps are about $\eta = 0.1$ per weight, and it leaves the plateau at
#   once; then its steps shrink, and its curve flattens.
# - RMSProp's running average $r$ starts at zero, so its first steps are up to
#   $1 / \sqrt{1 - \alpha} = 10$ times $\eta$, also about 0.1: it leaves at once too. The spike
#   in its curve is one step that went too far, from which it recovered.
# - Adam corrects its averages for starting at zero, so its steps stay near $\eta = 0.01$
#   from the start, and it takes longer to leave the plateau.
#
# Which optimiser is "best" here says as much about the learning rates as about the
# algorithms. What the adaptive methods buy is less sensitivity to the scale of the
# gradients, which is why Adam with a rate between $10^{-3}$ and $10^{-2}$ is a common first
# choice, and why its learning rate is still worth tuning.
#
# ## Summary
#
# - The batch size trades the cost of a step against its noise. Stochastic and minibatch
#   steps make progress many times per epoch, but with a constant learning rate they keep
#   jittering around the minimum.
# - In a narrow valley the steepest direction limits the learning rate and the shallowest
#   sets the speed. Momentum builds up speed along directions where the gradient keeps its
#   sign.
# - Adagrad, RMSProp and Adam divide each weight's step by the size of its recent gradients:
#   Adagrad by all of them (its steps only shrink), RMSProp by a running average, Adam with
#   momentum on top.
# - Which optimiser wins depends on the problem and on the learning rate: compare curves,
#   as here, rather than trusting a ranking.
