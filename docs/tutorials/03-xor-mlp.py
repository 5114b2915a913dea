# %% [markdown]
# # XOR and the multilayer perceptron
#
# Exclusive or is the smallest problem a single neuron cannot solve. Its output is 1 when
# exactly one of the two inputs is 1:
#
# | $x_1$ | $x_2$ | XOR |
# |---|---|---|
# | 0 | 0 | 0 |
# | 0 | 1 | 1 |
# | 1 | 0 | 1 |
# | 1 | 1 | 0 |
#
# This tutorial shows why no single line separates the two classes, what the
# [perceptron](01-perceptron.md) rule does when asked to find one anyway, and how one hidden
# layer fixes the problem: first with weights chosen by hand, then with weights learnt by
# gradient descent.

# %%
import matplotlib.pyplot as plt
import numpy as np

import chainrule as cr
from chainrule import nn, optim
from chainrule.classic import Perceptron
from chainrule.data import make_xor
from chainrule.train import fit, predict_outputs

X4, y4 = make_xor(4, noise=0, seed=0)  # the truth table itself
for x, label in zip(X4, y4):
    print(x, "->", label)

# %% [markdown]
# ## Why one line is not enough
#
# Suppose a unit with $z = w_1 x_1 + w_2 x_2 + b$ answered 1 exactly when $z > 0$. The four
# rows of the table would demand
#
# $$b \le 0, \qquad w_2 + b > 0, \qquad w_1 + b > 0, \qquad w_1 + w_2 + b \le 0.$$
#
# Adding the middle two gives $w_1 + w_2 + 2b > 0$, so $w_1 + w_2 + b > -b \ge 0$, which
# contradicts the last one. No choice of weights works: the classes are not *linearly
# separable*. Geometrically, the two points of each class sit on opposite corners of the
# square, and any line that puts both 1s on one side puts at least one 0 there too.
#
# ## The perceptron goes round in circles
#
# The perceptron rule only stops after an epoch without mistakes, which can never happen
# here. `fit_epochs` lets us look at the weights at the end of every epoch:

# %%
perceptron = Perceptron(max_epochs=5)
for epoch in perceptron.fit_epochs(X4, y4, record=True):
    print(
        f"epoch {epoch}: w = {perceptron.coef_[0]}, b = {perceptron.intercept_[0]:+.0f}, "
        f"updates so far {perceptron.n_updates_}, accuracy {perceptron.score(X4, y4):.2f}"
    )
print("converged:", perceptron.converged_)
print("the four updates of epoch 1 (w, b):")
for update in perceptron.history_[:4]:
    print("   ", update.coef[0], update.intercept[0])

# %% [markdown]
# Every sample is a mistake in every epoch, and after one pass the weights are back at zero.
# That is no coincidence: when every sample updates, the epoch adds
# $\sum_n t_n \mathbf{x}_n$ to $\mathbf{w}$ and $\sum_n t_n$ to $b$, and for XOR both sums
# are zero, because the two classes have the same mean, the centre of the square. With
# noisy data the perceptron does not return to exactly the same weights, but it never
# settles either; we will see its accuracy jump around below.
#
# ## A hidden layer, built by hand
#
# XOR is "$x_1$ OR $x_2$, but not $x_1$ AND $x_2$". Each of OR and AND *is* linearly
# separable, so one threshold unit can compute each, and a third unit can combine them:
#
# $$h_1 = \operatorname{step}(x_1 + x_2 - 0.5), \qquad h_2 = \operatorname{step}(x_1 + x_2 -
# 1.5), \qquad y = \operatorname{step}(h_1 - h_2 - 0.5).$$
#
# In chainrule that is two `Linear` layers with `nn.Step` after each, with the weights loaded
# through `load_state_dict` (the names are PyTorch's: layer index, then `weight` or `bias`).

# %%
by_hand = nn.Sequential(nn.Linear(2, 2), nn.Step(), nn.Linear(2, 1), nn.Step())
by_hand.load_state_dict(
    {
        "0.weight": np.array([[1.0, 1.0], [1.0, 1.0]]),
        "0.bias": np.array([-0.5, -1.5]),
        "2.weight": np.array([[1.0, -1.0]]),
        "2.bias": np.array([-0.5]),
    }
)
hidden = by_hand[:2](X4).numpy()  # the first two layers: the hidden units' outputs
output = by_hand(X4).numpy()[:, 0]
print(" x1 x2 | h1 h2 | y  target")
for x, h, out, target in zip(X4, hidden, output, y4):
    print(f"  {x[0]:.0f}  {x[1]:.0f} |  {h[0]:.0f}  {h[1]:.0f} | {out:.0f}  {target}")

# %% [markdown]
# The network gets all four rows right. The figure shows how: on the left, each hidden unit
# draws its own line in the input plane, and the output is 1 in the band between them. On
# the right, the same four points as the hidden layer sees them: $(0, 1)$ and $(1, 0)$ both
# land on $(1, 0)$, and in these new coordinates a single line, the output unit's,
# separates the classes.

# %%
COLOURS = ["tab:blue", "tab:orange"]


def draw_line(ax, w, b, span=4.0, **style):
    """The line w.x + b = 0."""
    direction = np.array([-w[1], w[0]]) / np.linalg.norm(w)
    ends = -b * w / (w @ w) + np.outer([-span, span], direction)
    ax.plot(ends[:, 0], ends[:, 1], **style)


def class_points(ax, points, labels, size=60):
    for label in (0, 1):
        ax.scatter(*points[labels == label].T, s=size, color=COLOURS[label], label=f"class {label}")


grid = np.linspace(-0.5, 1.5, 201)
g1, g2 = np.meshgrid(grid, grid)
grid_points = np.column_stack([g1.ravel(), g2.ravel()]).astype(np.float32)
regions = by_hand(grid_points).numpy().reshape(g1.shape)

fig, (left, right) = plt.subplots(1, 2, figsize=(9, 4.4), layout="constrained")
left.contourf(g1, g2, regions, levels=[-0.5, 0.5, 1.5], colors=COLOURS, alpha=0.2)
draw_line(left, np.array([1.0, 1.0]), -0.5, color="black", ls="--", label="$h_1$ (OR)")
draw_line(left, np.array([1.0, 1.0]), -1.5, color="black", ls=":", label="$h_2$ (AND)")
class_points(left, X4, y4)
left.set(xlim=(-0.5, 1.5), ylim=(-0.5, 1.5), xlabel="$x_1$", ylabel="$x_2$")
left.set_title("Input space: two hidden lines")
left.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), ncols=2, fontsize=8)

jitter = np.array([[0, 0], [0.04, 0.04], [-0.04, -0.04], [0, 0]])  # to see both points at (1, 0)
class_points(right, hidden + jitter, y4)
draw_line(right, np.array([1.0, -1.0]), -0.5, color="black", label="output unit")
right.set(xlim=(-0.5, 1.5), ylim=(-0.5, 1.5), xlabel="$h_1$", ylabel="$h_2$")
right.set_title("Hidden space: one line suffices")
right.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), ncols=2, fontsize=8)
for ax in (left, right):
    ax.set_aspect("equal")
plt.show()

# %% [markdown]
# This is the whole idea of a multilayer perceptron: the hidden layer transforms the inputs
# into a representation in which the problem *is* linearly separable, and the output layer
# is an ordinary linear classifier on top of it.
#
# ## Learning the hidden layer
#
# Choosing weights by hand does not scale beyond toy problems, so we want to learn them. The
# perceptron rule cannot: it needs a target for each unit, and nobody tells the hidden units
# what they should output. Gradient descent can, through backpropagation, but not through
# `Step`: its derivative is zero wherever it exists, so no gradient reaches the first layer.
# We therefore replace the steps by a smooth S-shaped function, $\tanh$, and the output
# step by two logits and the cross-entropy loss.
#
# The data are 200 noisy points around the four corners, and the network is the smallest
# that can work: two inputs, two hidden units, two outputs. It is trained with Adam (see
# [gradient descent](09-gradient-descent.md)) in minibatches of 32.

# %%
X, y = make_xor(200, noise=0.1, seed=0)
X_test, y_test = make_xor(1000, noise=0.1, seed=1)

cr.manual_seed(0)  # initial weights and the order of the minibatches
network = nn.Sequential(nn.Linear(2, 2), nn.Tanh(), nn.Linear(2, 2))
history = fit(
    network,
    nn.CrossEntropyLoss(),
    optim.Adam(network.parameters(), lr=0.05),
    (X, y),
    epochs=100,
    batch_size=32,
    progress=False,
)


def accuracy(model, X, y):
    return np.mean(predict_outputs(model, X).argmax(axis=1) == y)


print(f"final training loss {history.train_loss[-1]:.4f}")
print(f"training accuracy {accuracy(network, X, y):.3f}")
print(f"test accuracy {accuracy(network, X_test, y_test):.3f}")

# %% [markdown]
# Let us look at what it learnt, the same way as for the hand-built network: the input plane
# with the decision regions and the two hidden units' lines $\mathbf{w}_j \cdot \mathbf{x} +
# b_j = 0$, and the points as the hidden layer sees them, $(\tanh z_1, \tanh z_2)$, with the
# output layer's boundary, where the two logits are equal.

# %%
first, last = network[0], network[2]
W1, b1 = first.weight.numpy(), first.bias.numpy()
W2, b2 = last.weight.numpy(), last.bias.numpy()
probability = predict_outputs(nn.Sequential(network, nn.Softmax()), grid_points)[:, 1]
hidden_X = predict_outputs(network[:2], X)

fig, (left, right) = plt.subplots(1, 2, figsize=(9, 4.4), layout="constrained")
left.contourf(
    g1, g2, probability.reshape(g1.shape), levels=np.linspace(0, 1, 11), cmap="coolwarm", alpha=0.4
)
for j, style in enumerate(["--", ":"]):
    draw_line(left, W1[j], b1[j], color="black", ls=style, label=f"hidden unit {j + 1}")
class_points(left, X, y, size=10)
left.set(xlim=(-0.5, 1.5), ylim=(-0.5, 1.5), xlabel="$x_1$", ylabel="$x_2$")
left.set_title("Input space: P(class 1) and hidden lines")
left.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), ncols=2, fontsize=8)

class_points(right, hidden_X, y, size=10)
draw_line(right, W2[1] - W2[0], b2[1] - b2[0], color="black", label="output boundary")
right.set(xlim=(-1.1, 1.1), ylim=(-1.1, 1.1), xlabel="$\\tanh z_1$", ylabel="$\\tanh z_2$")
right.set_title("Hidden space after training")
right.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), ncols=2, fontsize=8)
for ax in (left, right):
    ax.set_aspect("equal")
plt.show()

# %% [markdown]
# Training found a solution of the same kind as ours, though not the same one: two roughly
# parallel lines cut off a band, here with the two class-1 corners in it (the order of the
# hidden units, and which side of each line is positive, is arbitrary). On the right the
# four noisy clusters have been squeezed by $\tanh$ towards the corners of the square
# $[-1, 1]^2$. The two class-1 clusters land together in one corner and the class-0
# clusters in two others, just like $(0, 1)$ and $(1, 0)$ in the hand-built network, and
# one line separates them.
#
# Compare the two learners epoch by epoch. For the perceptron we run its rule on the same
# 200 points and measure its accuracy at the end of every epoch; for the network, `fit`
# recorded the accuracy during each epoch in `history.train_accuracy`.

# %%
perceptron = Perceptron(max_epochs=100, shuffle=True, seed=0)
perceptron_accuracy = [perceptron.score(X, y) for _ in perceptron.fit_epochs(X, y)]

fig, ax = plt.subplots(figsize=(6, 3.6))
epochs = np.arange(1, 101)
ax.plot(epochs, perceptron_accuracy, lw=1, label="perceptron (one line)")
ax.plot(epochs, history.train_accuracy, lw=2, label="network with 2 tanh hidden units")
ax.axhline(0.75, color="gray", ls=":", lw=1)
ax.set(xlabel="epoch", ylabel="training accuracy", ylim=(0.2, 1.02))
ax.set_title("XOR: training accuracy per epoch")
ax.legend(loc="lower right", fontsize=8)
ax.grid(alpha=0.3)
plt.show()

# %% [markdown]
# The perceptron keeps updating for all 100 epochs; each epoch leaves a different line, and
# its accuracy jumps around. No line can do better than three corners out of four (the dotted
# level at 75%), and the perceptron rule does not even hold on to the best line it has seen.
# The network climbs through its own plateaus and ends close to 100%.
#
# ## Two hidden units are enough, but not always found
#
# Two hidden units can represent XOR, but gradient descent from a random start does not
# always find such weights: a unit can end up drawing a line that is useless for the task,
# and with only two, the network then has nothing to spare. We train networks with 2, 4
# and 8 hidden units from ten random starts each and count how many reach 95% test accuracy.

# %%
rows = [f"{'hidden units':>12} {'successes':>10} {'worst test accuracy':>20}"]
for width in [2, 4, 8]:
    scores = []
    for seed in range(10):
        cr.manual_seed(seed)
        model = nn.Sequential(nn.Linear(2, width), nn.Tanh(), nn.Linear(width, 2))
        optimizer = optim.Adam(model.parameters(), lr=0.05)
        fit(
            model,
            nn.CrossEntropyLoss(),
            optimizer,
            (X, y),
            epochs=60,
            batch_size=32,
            progress=False,
        )
        scores.append(accuracy(model, X_test, y_test))
    successes = sum(score >= 0.95 for score in scores)
    rows.append(f"{width:>12} {successes:>7} / 10 {min(scores):>20.3f}")
print("\n".join(rows))

# %% [markdown]
# With the bare minimum of hidden units some starts get stuck at a poor solution, typically
# one that gets three corners right, the best a single line could do. A few spare units make
# failures rare: more hidden units give gradient descent more ways down to a good solution.
# This is one reason why networks used in practice are much wider than the smallest that
# could in principle represent the task.
#
# ## Summary
#
# - XOR is not linearly separable: the four inequalities a single threshold unit would have
#   to satisfy contradict each other.
# - The perceptron rule therefore never converges on it; on the truth table it returns to
#   zero weights after every epoch.
# - A hidden layer maps the inputs to a space where the classes are linearly separable; for
#   XOR, OR and AND units do it by hand.
# - To learn the hidden layer by gradient descent the threshold units are replaced by a
#   smooth activation such as $\tanh$; the trained network finds a solution of the same kind,
#   but the smallest network does not find it from every start.
#
# How the gradient reaches the hidden weights is the topic of
# [backpropagation, delta by delta](04-backpropagation.md).
