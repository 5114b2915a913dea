# %% [markdown]
# # Universal approximation, and the decision tree as a network
#
# Why should a network with sigmoid units be able to learn almost any input-output
# relation? The *universal approximation theorem* gives one answer: a network with a single
# hidden layer of sigmoid units and a linear output can approximate any continuous
# function on a closed, bounded interval (or box) as closely as we like, provided it has enough
# hidden units. This tutorial
#
# - proves the one-dimensional case by construction: steep sigmoids are steps, and a sum
#   of steps is a staircase that follows the function;
# - builds such a network by setting its weights by hand, and measures how the error
#   shrinks with the number of units;
# - compares it with a network of the same kind trained by gradient descent, which needs
#   far fewer units;
# - turns a decision tree into an equivalent network with two hidden layers
#   (`chainrule.classic.tree_to_network`), the same idea in two dimensions, and fine-tunes
#   it by backpropagation.

# %%
import matplotlib.pyplot as plt
import numpy as np
from sklearn.tree import DecisionTreeClassifier, export_text

import chainrule as cr
from chainrule import nn, optim
from chainrule.classic import tree_to_network
from chainrule.data import make_moons
from chainrule.train import evaluate, fit, predict_outputs

# %% [markdown]
# ## A steep sigmoid is a step
#
# A hidden unit computes $\sigma(w x + b)$. Written as $\sigma(k (x - a))$, with $k = w$ and
# $a = -b / w$, it is an S-shaped curve centred at $a$ whose steepness is $k$. As $k$ grows
# it becomes a step from 0 to 1 at $x = a$. Two such units, subtracted, make a *bump*: a
# function that, for $p < q$ and large $k$, is close to 1 between $p$ and $q$ and to 0
# outside,
#
# $$\sigma(k (x - p)) - \sigma(k (x - q)).$$

# %%
x = np.linspace(-2, 2, 801)
fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.4), layout="constrained")
for k in [1, 3, 10, 100]:
    left.plot(x, 1 / (1 + np.exp(-k * x)), label=f"k = {k}")
left.set(xlabel="x", ylabel="σ(kx)", title="Steepness k turns a sigmoid into a step")
left.legend(fontsize=8)
for k in [3, 10, 100]:
    bump = 1 / (1 + np.exp(-k * (x + 0.5))) - 1 / (1 + np.exp(-k * (x - 0.5)))
    right.plot(x, bump, label=f"k = {k}")
right.set(xlabel="x", title="σ(k(x + 0.5)) - σ(k(x - 0.5)): a bump")
right.legend(fontsize=8)
plt.show()

# %% [markdown]
# With steps and bumps we can build anything piecewise constant, and a piecewise constant
# function can follow any continuous function as closely as we want, if its pieces are
# short enough.
#
# ## Building the staircase by hand
#
# Our target is $f(x) = \sin(3x) + 0.3 x^2$ on $[-2, 2]$. Cut the interval into $n$ equal
# pieces with edges $e_0 < e_1 < \dots < e_n$, and on piece $i$ take the value of $f$ at its
# centre $c_i$. The staircase starts at $f(c_1)$ and, at each inner edge $e_i$, steps by
# $\Delta_i = f(c_{i+1}) - f(c_i)$:
#
# $$\hat f(x) = f(c_1) + \sum_{i=1}^{n-1} \Delta_i\, \sigma\left(k (x - e_i)\right).$$
#
# This *is* a network with one hidden layer of $n - 1$ sigmoid units: unit $i$ has input
# weight $k$ and bias $-k e_i$, its output weight is the height $\Delta_i$ of step $i$,
# and the output bias is $f(c_1)$. We build it as an `nn.Sequential` and write the
# weights into its layers. The steepness is $k = 10 / w$ for pieces of width $w = 4/n$, so
# that each sigmoid rises from 0.1 to 0.9 within less than half a piece: more pieces need
# steeper units.


# %%
def target(x):
    return np.sin(3 * x) + 0.3 * x**2


low, high = -2.0, 2.0


def staircase_network(n):
    """One hidden layer of n - 1 sigmoid units whose output is the n-piece staircase."""
    edges = np.linspace(low, high, n + 1)
    heights = target((edges[:-1] + edges[1:]) / 2)
    k = 10 * n / (high - low)
    network = nn.Sequential(
        nn.Linear(1, n - 1, dtype=np.float64), nn.Sigmoid(), nn.Linear(n - 1, 1, dtype=np.float64)
    )
    network[0].weight.data = np.full((n - 1, 1), k)
    network[0].bias.data = -k * edges[1:-1]
    network[2].weight.data = np.diff(heights)[None, :]
    network[2].bias.data = heights[:1]
    return network


def max_error(network):
    """The largest |network(x) - f(x)| on a fine grid over the interval."""
    grid = np.linspace(low, high, 2001)[:, None]
    prediction = predict_outputs(network, grid.astype(network[0].weight.dtype))[:, 0]
    return float(np.abs(prediction - target(grid[:, 0])).max())


print(staircase_network(5))
for n in [5, 10, 20, 40, 80, 160]:
    print(
        f"{n:>4} pieces, {n - 1:>4} hidden units: max error {max_error(staircase_network(n)):.3f}"
    )

# %% [markdown]
# Once the pieces are short enough, each doubling of their number halves the worst error:
# the error is proportional to $1/n$, and it can be made as small as we like. That is the
# theorem, for one input. (The proof for several inputs is longer, but it rests on the
# same idea of combining simple units into localised pieces.)
#
# ## Trained networks use units better
#
# The theorem only says that *some* weights exist. The staircase is a wasteful way to use
# sigmoids: it treats each one as a step, so the error can only fall like $1/n$. Gradient
# descent is free to use each sigmoid's smooth slope too. We train networks with 3, 5 and
# 10 sigmoid hidden units (`nn.mlp(1, [H], 1, activation="sigmoid")`) on 200 points of the
# same function, with Adam and full batches.

# %%
X = np.linspace(low, high, 200, dtype=np.float32)[:, None]
Y = target(X)
trained = {}
for units in [3, 5, 10]:
    cr.manual_seed(0)
    network = nn.mlp(1, [units], 1, activation="sigmoid")
    fit(
        network,
        nn.MSELoss(),
        optim.Adam(network.parameters(), lr=0.05),
        (X, Y),
        epochs=2000,
        batch_size=len(X),
        progress=False,
        accuracy=False,
    )
    trained[units] = network
for units, network in trained.items():
    print(f"trained, {units:>2} hidden units: max error {max_error(network):.3f}")

# %%
pieces = np.array([5, 10, 20, 40, 80, 160])
fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.6), layout="constrained")
grid = np.linspace(low, high, 801)
left.plot(grid, target(grid), color="black", lw=2.5, label="f(x)")
for n, colour in [(5, "tab:orange"), (20, "tab:blue")]:
    prediction = predict_outputs(staircase_network(n), grid[:, None])[:, 0]
    left.plot(grid, prediction, color=colour, lw=1.2, label=f"staircase, {n - 1} units")
prediction = predict_outputs(trained[5], grid[:, None].astype(np.float32))[:, 0]
left.plot(grid, prediction, color="tab:green", ls="--", lw=1.5, label="trained, 5 units")
left.set(xlabel="x", ylabel="output", title="f(x) = sin(3x) + 0.3x²")
left.legend(fontsize=8)

right.loglog(pieces - 1, [max_error(staircase_network(n)) for n in pieces], "o-", label="staircase")
right.loglog(list(trained), [max_error(m) for m in trained.values()], "s-", label="trained")
right.set(xlabel="hidden units (log scale)", ylabel="max |error| (log scale)")
right.set_title("Error against network size")
right.legend(fontsize=8)
plt.show()

# %% [markdown]
# On the left, the staircase with 4 units is a crude sketch; with 19 it follows the
# function, but in visible steps. The trained network with only 5 units lies almost on
# top of the black curve. On the right, the staircase's error falls along a straight line
# of slope $-1$ on the log-log scale, the $1/n$ law. The trained networks, with a handful of
# units, reach errors that the staircase needs some 80 units for. (With 3 units the
# trained network is still poor: too few S-curves for a function with this many turns.)
#
# How does the trained network do it? Its output is the sum of its units' contributions
# $v_j \sigma(a_j x + b_j)$ plus the output bias. Drawing them separately shows how
# training has placed them:

# %%
hidden, output = trained[5][0], trained[5][2]
a, b = hidden.weight.numpy()[:, 0], hidden.bias.numpy()
v, c = output.weight.numpy()[0], output.bias.numpy()[0]
fig, ax = plt.subplots(figsize=(7.5, 3.8), layout="constrained")
for j in np.argsort(-b / a):
    ax.plot(
        grid,
        v[j] / (1 + np.exp(-(a[j] * grid + b[j]))),
        lw=1,
        label=f"unit at x={-b[j] / a[j]:.2f}",
    )
ax.plot(grid, target(grid), color="black", lw=2.5, label="f(x)")
ax.axhline(c, color="gray", ls=":", lw=1, label="output bias")
ax.set(xlabel="x", ylabel="contribution", title="The five units of the trained network")
fig.legend(fontsize=8, loc="outside right center")
plt.show()
print("steepness |a_j| of the units:", np.round(np.sort(np.abs(a)), 2))

# %% [markdown]
# Each coloured curve is one unit's contribution, labelled by the centre $-b_j/a_j$ of its
# S-curve. Unlike the staircase's identical, very steep units, these have moderate
# steepness and large output weights of both signs; the wiggles of $f$ come from the
# overlapping slopes of neighbouring S-curves cancelling and reinforcing each other. The
# theorem guarantees that a solution exists; training finds a far more economical one.
#
# Three limits of the theorem are worth keeping in mind. It does not say how many units a
# function needs (for some functions of many inputs, the number grows exponentially). It
# does not say that gradient descent will find the weights. And it says nothing about
# data we have not seen: fitting a function at training points is not the same as
# learning it (see [regularisation](11-regularisation.md)).
#
# ## A decision tree is a network
#
# The staircase cut one axis into intervals. A decision tree cuts the plane into boxes: each
# inner node asks "is $x_f \le \theta$?" and each leaf predicts a class. Such a tree is
# exactly a network with two hidden layers of *step* units,
# $\operatorname{step}(z) = 1$ if $z > 0$ and $0$ otherwise (`nn.Step`):
#
# - layer 1 has one unit per split, $h_j = \operatorname{step}(x_{f_j} - \theta_j)$: 1 when
#   the sample goes right at node $j$, 0 when it goes left;
# - layer 2 has one unit per leaf, an AND of the conditions on the leaf's path: with weight
#   $+1$ for every node where the path goes right, $-1$ where it goes left, and bias
#   $\frac{1}{2} - R$ for a path with $R$ right turns, its input is $\frac{1}{2}$ when every
#   condition holds and at most $-\frac{1}{2}$ otherwise;
# - the output layer maps each leaf to its class frequencies, so exactly one leaf is active
#   and the outputs are the tree's class probabilities.
#
# `tree_to_network` builds this network from a fitted scikit-learn
# `DecisionTreeClassifier`. We fit a tree of depth 3 on 300 points of the two moons.

# %%
X_train, y_train = make_moons(300, noise=0.25, seed=0)
X_test, y_test = make_moons(1000, noise=0.25, seed=1)
tree = DecisionTreeClassifier(max_depth=3, random_state=0).fit(X_train, y_train)
print(export_text(tree, feature_names=["x1", "x2"], decimals=3))
step_network = tree_to_network(tree)
print(step_network)

# %% [markdown]
# Five splits and six leaves give five units in the first hidden layer and six in the
# second. The first layer's weights only pick a feature, and its biases are minus the
# thresholds; compare them with the tree above:

# %%
np.set_printoptions(precision=3, suppress=True)
print("layer 1 weights (one row per split):\n", step_network[0].weight.numpy())
print("layer 1 biases = -thresholds:", step_network[0].bias.numpy())
print("layer 2 weights (one row per leaf):\n", step_network[2].weight.numpy())
print("layer 2 biases:", step_network[2].bias.numpy())

# %% [markdown]
# Take the first row of layer 2, the leftmost leaf ($x_2 \le 0.196$ and $x_1 \le -0.521$,
# both left turns): its input is $\frac{1}{2} - h_1 - h_2$, positive only if both split
# units are 0. The units are numbered in the tree's node order, so follow the rows and
# columns against the printed tree to check the others.
#
# The network computes the tree's function exactly. We compare predictions and
# probabilities on the test points (in float64, the network's dtype, so that the
# comparisons with the thresholds are exact):


# %%
def probabilities(network, X):
    return predict_outputs(network, X.astype(np.float64))


same_class = np.mean(probabilities(step_network, X_test).argmax(axis=1) == tree.predict(X_test))
largest_gap = np.abs(probabilities(step_network, X_test) - tree.predict_proba(X_test)).max()
print(f"same class as the tree on {same_class:.1%} of the test points")
print(f"largest difference in probabilities: {largest_gap:.1e}")
print(f"tree's test accuracy: {tree.score(X_test, y_test):.1%}")

# %% [markdown]
# ## Smoothing the tree, and training it
#
# A step has zero derivative, so no gradient passes through the step network: it cannot
# be trained. `tree_to_network(tree, activation="sigmoid", steepness=k)` replaces each step
# by the sigmoid $\sigma(k z)$, the first section's approximation of a step. For large $k$
# the network stays close to the tree; for small $k$ it is a smoothed version of it.

# %%
print(f"{'steepness k':>11} {'same class as tree':>19} {'test accuracy':>14}")
for k in [1, 3, 10, 30, 100]:
    smooth = tree_to_network(tree, activation="sigmoid", steepness=k)
    predicted = probabilities(smooth, X_test).argmax(axis=1)
    agreement = np.mean(predicted == tree.predict(X_test))
    print(f"{k:>11} {agreement:>19.1%} {np.mean(predicted == y_test):>14.1%}")

# %% [markdown]
# With $k = 1$ the sigmoids are so gentle that the boxes blur into each other and many
# points change class; from $k$ around 30 the smooth network agrees with the tree on
# every test point. In between lies a useful compromise: steep enough to start out as
# the tree, soft enough for gradients to flow. We take $k = 5$ and train the network with
# cross-entropy, treating its outputs as logits, for 300 full-batch steps of Adam. The
# tree's structure becomes the network's initialisation, and backpropagation is free to
# move the thresholds, tilt the boundaries and reweigh the leaves.

# %%
tuned = tree_to_network(tree, activation="sigmoid", steepness=5)
loss_fn = nn.CrossEntropyLoss()
before = evaluate(tuned, loss_fn, (X_test.astype(np.float64), y_test))[1]
history = fit(
    tuned,
    loss_fn,
    optim.Adam(tuned.parameters(), lr=0.02),
    (X_train.astype(np.float64), y_train),
    epochs=300,
    batch_size=len(X_train),
    progress=False,
)
after = evaluate(tuned, loss_fn, (X_test.astype(np.float64), y_test))[1]
print(f"test accuracy: tree {tree.score(X_test, y_test):.1%}, sigmoid network (k = 5)", end=" ")
print(f"before training {before:.1%}, after {after:.1%}")

# %%
gx, gy = np.meshgrid(np.linspace(-1.8, 2.8, 250), np.linspace(-1.3, 1.8, 250))
points = np.c_[gx.ravel(), gy.ravel()]
panels = [
    ("decision tree (depth 3)", tree.predict(points.astype(np.float32))),
    ("network from the tree, step units", probabilities(step_network, points).argmax(axis=1)),
    ("sigmoid network after training", probabilities(tuned, points).argmax(axis=1)),
]
fig, axes = plt.subplots(1, 3, figsize=(10, 3.4), sharey=True, layout="constrained")
for ax, (title, regions) in zip(axes, panels):
    regions = regions.reshape(gx.shape)
    ax.contourf(gx, gy, regions, levels=[-0.5, 0.5, 1.5], cmap="coolwarm", alpha=0.5)
    ax.contour(gx, gy, regions, levels=[0.5], colors="black", linewidths=1)
    ax.scatter(*X_train.T, c=y_train, cmap="coolwarm", s=6, edgecolors="none")
    ax.set(title=title, xlabel="$x_1$")
axes[0].set_ylabel("$x_2$")
plt.show()

# %% [markdown]
# The tree and its step network draw the same axis-parallel boxes, as the agreement above
# promised. After training, the sigmoid network has turned the boxes into one smooth
# boundary that follows the gap between the moons, and its test accuracy is higher than
# the tree's (printed above). The tree gave the network a sensible starting point with a
# meaningful architecture: one unit per split and one per leaf.
#
# ## Summary
#
# - A steep sigmoid is a step, two of them make a bump, and sums of steps form staircases
#   that approximate any continuous function of one variable: one hidden layer suffices,
#   given enough units. The hand-built staircase's error falls like $1/n$.
# - The theorem promises existence, not economy, trainability or generalisation; trained
#   networks use their units' slopes and need far fewer of them.
# - A decision tree is a network with two hidden layers of step units (splits, then leaves
#   as ANDs of splits); `tree_to_network` builds it, exactly. With sigmoids in place of
#   steps it becomes differentiable and can be fine-tuned by backpropagation.
