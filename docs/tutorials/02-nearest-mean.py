# %% [markdown]
# # Nearest mean versus the perceptron
#
# The simplest classifier that learns anything from data needs no training loop at all:
# summarise each class by the mean of its samples, and give a new point the class of the
# nearest mean. For two classes this rule draws a straight line, just like a
# [perceptron](01-perceptron.md). Both are linear classifiers, so which line is better?
#
# This tutorial shows that the two rules can disagree badly. On two long, thin, parallel
# classes a line separates the data perfectly, the perceptron finds one, and the nearest-mean
# line cuts straight through both classes. We work out why, and what the nearest-mean rule
# would need to know to get it right.

# %%
import matplotlib.pyplot as plt
import numpy as np

import chainrule as cr
from chainrule.classic import NearestMeanClassifier, Perceptron
from chainrule.data import make_elongated

# %% [markdown]
# ## The nearest-mean rule is a line
#
# With class means $\boldsymbol{\mu}_0$ and $\boldsymbol{\mu}_1$, the rule predicts class 1
# when $\lVert \mathbf{x} - \boldsymbol{\mu}_1 \rVert^2 < \lVert \mathbf{x} -
# \boldsymbol{\mu}_0 \rVert^2$. Expanding both squares, the $\lVert \mathbf{x} \rVert^2$ terms
# cancel and what is left is linear in $\mathbf{x}$:
#
# $$\lVert \mathbf{x} - \boldsymbol{\mu}_0 \rVert^2 - \lVert \mathbf{x} - \boldsymbol{\mu}_1
# \rVert^2 = 2 (\boldsymbol{\mu}_1 - \boldsymbol{\mu}_0) \cdot \mathbf{x} + \lVert
# \boldsymbol{\mu}_0 \rVert^2 - \lVert \boldsymbol{\mu}_1 \rVert^2 = \mathbf{w} \cdot
# \mathbf{x} + b.$$
#
# So the boundary is the line with normal $\mathbf{w} = 2 (\boldsymbol{\mu}_1 -
# \boldsymbol{\mu}_0)$ through the midpoint of the two means: the *perpendicular bisector* of
# the segment between them. `NearestMeanClassifier.as_linear()` returns this $(\mathbf{w}, b)$.
#
# ## Two elongated classes
#
# `make_elongated` draws two thin horizontal bands: class 0 just above the $x_1$ axis,
# class 1 just below, and the bands shifted against each other along their length. The line
# $x_2 = 0$ separates them. We draw a training set and a large test set from the same
# distribution.

# %%
cr.manual_seed(0)
X, y = make_elongated(200, length=5.0, seed=0)
X_test, y_test = make_elongated(2000, length=5.0, seed=1)

nearest = NearestMeanClassifier().fit(X, y)
perceptron = Perceptron(max_epochs=1000).fit(X, y)

w_nm, b_nm = nearest.as_linear()
as_line = np.where(X @ w_nm + b_nm > 0, 1, 0)
print("class means:\n", np.round(nearest.means_, 2))
print("as_linear() gives the same predictions:", np.array_equal(as_line, nearest.predict(X)))
print(f"{'':<14} {'train accuracy':>15} {'test accuracy':>14}")
for name, model in [("nearest mean", nearest), ("perceptron", perceptron)]:
    print(f"{name:<14} {model.score(X, y):>15.3f} {model.score(X_test, y_test):>14.3f}")
print(f"perceptron: converged {perceptron.converged_} after {perceptron.n_epochs_} epochs")

# %% [markdown]
# The perceptron separates the training set, as it must on separable data. The nearest-mean
# rule gets about a third of the points wrong, on the training set and the test set alike:
# this is not overfitting or bad luck, it is the rule itself. The picture shows why.

# %%
COLOURS = ["tab:blue", "tab:orange"]
XLIM, YLIM = (-5.5, 5.5), (-1.6, 1.6)


def draw_line(ax, w, b, **style):
    """The line w.x + b = 0, long enough to cross the whole view."""
    direction = np.array([-w[1], w[0]]) / np.linalg.norm(w)
    foot = -b * w / (w @ w)
    ends = foot + np.outer([-20, 20], direction)
    ax.plot(ends[:, 0], ends[:, 1], **style)


def draw_data(ax, wrong=None):
    for label in (0, 1):
        ax.scatter(*X[y == label].T, s=8, color=COLOURS[label], label=f"class {label}")
    if wrong is not None:
        ax.scatter(*X[wrong].T, s=20, marker="x", color="black", lw=0.8, label="wrong")
    ax.set(xlim=XLIM, ylim=YLIM, aspect="equal", ylabel="$x_2$")


fig, (top, bottom) = plt.subplots(2, 1, figsize=(9, 4.6), sharex=True, layout="constrained")
draw_line(top, w_nm, b_nm, color="black", lw=2, label="nearest-mean boundary")
top.plot(*nearest.means_.T, ls=":", color="black")
top.scatter(*nearest.means_.T, marker="*", s=250, c=COLOURS, edgecolors="black", zorder=3)
draw_data(top, wrong=nearest.predict(X) != y)
top.set_title("Nearest mean: the perpendicular bisector of the means (stars)")
top.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8)

draw_line(bottom, perceptron.coef_[0], perceptron.intercept_[0], color="black", lw=2)
draw_data(bottom, wrong=perceptron.predict(X) != y)
bottom.set_title("Perceptron: a line that moved only when it made a mistake")
bottom.set_xlabel("$x_1$")
plt.show()

# %% [markdown]
# Both panels use the same scale on both axes, so right angles look right. The means (stars)
# lie far apart along $x_1$, because the bands are shifted along their length, and only a
# little apart along $x_2$, because the gap between the bands is narrow. Their difference
# $\boldsymbol{\mu}_1 - \boldsymbol{\mu}_0$ therefore points mostly along $x_1$, and the
# bisector perpendicular to it is tilted far from the horizontal gap: it splits each band
# into a correct part and a wrong part (crosses).
#
# The nearest-mean rule only ever sees two points, the means. It cannot tell long, thin
# bands from round clouds with the same centres, and for round clouds its line would be the
# right one. The perceptron looks at individual points, and only at those it gets wrong, so
# the shape of the classes decides where its line ends up.
#
# ## The longer the bands, the worse
#
# The shift between the bands grows with their length, while the gap stays the same. We
# vary the length and measure the test error of both rules.

# %%
lengths = np.geomspace(0.3, 20, 12)
errors = {"nearest mean": [], "perceptron": []}
for length in lengths:
    Xl, yl = make_elongated(200, length=length, seed=0)
    Xl_test, yl_test = make_elongated(2000, length=length, seed=1)
    for name, model in [("nearest mean", NearestMeanClassifier()), ("perceptron", Perceptron())]:
        model.fit(Xl, yl)
        errors[name].append(1 - model.score(Xl_test, yl_test))

fig, ax = plt.subplots(figsize=(6, 3.6))
for name, values in errors.items():
    ax.plot(lengths, values, marker="o", label=name)
ax.set(
    xscale="log",
    xlabel="length parameter (bands span 1.6 × length; centre lines 1 apart)",
    ylabel="test error",
)
ax.set_title("Test error as the classes get more elongated")
ax.legend()
ax.grid(alpha=0.3)
plt.show()

# %% [markdown]
# For short bands the two classes are compact blobs on either side of the gap, and the
# means are a good summary: both rules make (almost) no errors. Once the shift along $x_1$
# (0.4 × length) becomes comparable with the distance between the bands' centre lines (1), it
# dominates $\boldsymbol{\mu}_1 - \boldsymbol{\mu}_0$,
# the nearest-mean line tips over, and its error climbs towards a plateau. The perceptron
# stays close to zero throughout. Its few test errors come from stopping at the *first*
# line that separates the training points, which may pass close to some of them; new points
# near the ends of the bands can then fall on the wrong side.
#
# ## The perceptron that never stops updating
#
# The two rules are closer relatives than they look. Suppose the perceptron updated on
# *every* sample, right or wrong, in one pass from zero. Its weight vector would be
#
# $$\mathbf{w} = \sum_n t_n \mathbf{x}_n = N_1 \boldsymbol{\mu}_1 - N_0 \boldsymbol{\mu}_0,$$
#
# and with classes of equal size, $N_0 = N_1$, this points exactly along
# $\boldsymbol{\mu}_1 - \boldsymbol{\mu}_0$, the nearest-mean normal.

# %%
t = np.where(y == 1, 1.0, -1.0)
w_every = (t[:, None] * X).sum(axis=0)
print("class sizes:", np.bincount(y).tolist())
print("sum of t x, as a unit vector:      ", np.round(w_every / np.linalg.norm(w_every), 4))
print("nearest-mean w, as a unit vector:  ", np.round(w_nm / np.linalg.norm(w_nm), 4))

# %% [markdown]
# So the nearest-mean direction is what a perceptron would learn if it treated every sample
# as a mistake. It is the restriction to mistakes that lets the perceptron ignore the many
# points that are already on the right side (here: the bulk of both bands) and attend to the
# few near the boundary. This is the same idea as the hinge loss being zero for correct
# samples, and it returns in every loss that stops pushing once a point is classified well.
#
# ## What the means miss: the shape of the classes
#
# The nearest-mean rule measures distance the same way in every direction. Here a step
# across the bands (along $x_2$) means much more than a step along them, because the bands
# are thin. Measuring distance in units of the spread within the classes fixes this: take the
# pooled within-class covariance $\mathbf{S}$, map every point to $\mathbf{S}^{-1/2}
# \mathbf{x}$ (a *whitening*: after it each class has the same spread in every direction),
# and apply the nearest-mean rule there. Back in the original coordinates its normal is
# $2 \mathbf{S}^{-1} (\boldsymbol{\mu}_1 - \boldsymbol{\mu}_0)$, Fisher's linear
# discriminant.
#
# Scaling each feature to unit variance is a weaker version of the same idea. It works only
# when the classes happen to be aligned with the axes, so we also try both on a copy of the
# data rotated by 30 degrees.


# %%
def whitening(X, y):
    """S^(-1/2) for the pooled within-class covariance S of the data."""
    centred = np.concatenate([X[y == k] - X[y == k].mean(axis=0) for k in (0, 1)])
    values, vectors = np.linalg.eigh(centred.T @ centred / len(X))
    return vectors @ np.diag(values**-0.5) @ vectors.T


def accuracies(X, y, X_test, y_test):
    """Test accuracy of nearest mean on raw, standardised and whitened features."""
    mean, std = X.mean(axis=0), X.std(axis=0)
    W = whitening(X, y)
    versions = {
        "raw": (X, X_test),
        "standardised": ((X - mean) / std, (X_test - mean) / std),
        "whitened": (X @ W, X_test @ W),
    }
    result = {}
    for name, (train, test) in versions.items():
        result[name] = NearestMeanClassifier().fit(train, y).score(test, y_test)
    result["perceptron"] = Perceptron(max_epochs=1000).fit(X, y).score(X_test, y_test)
    return result


angle = np.pi / 6
rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
data_sets = {
    "as drawn": (X, X_test),
    "rotated 30 deg": (X @ rotation.T, X_test @ rotation.T),
}
rows = [f"{'test accuracy':<16} {'raw':>6} {'standardised':>13} {'whitened':>9} {'perceptron':>11}"]
for name, (train, test) in data_sets.items():
    acc = accuracies(train, y, test, y_test)
    rows.append(
        f"{name:<16} {acc['raw']:>6.3f} {acc['standardised']:>13.3f} "
        f"{acc['whitened']:>9.3f} {acc['perceptron']:>11.3f}"
    )
print("\n".join(rows))

# %% [markdown]
# Standardising rescues the nearest-mean rule on the bands as drawn, where the long
# direction is a coordinate axis, and fails once they are rotated. Whitening with the
# within-class covariance works in both cases, because it finds the long direction itself.
# The perceptron never needed either: it does not measure distances to anything, it only
# asks on which side of its line each point lies.
#
# Here is the whitened nearest-mean line drawn in the original coordinates, next to the
# plain one.

# %%
W = whitening(X, y)
white = NearestMeanClassifier().fit(X @ W, y)
w_white, b_white = white.as_linear()
fig, ax = plt.subplots(figsize=(9, 2.6), layout="constrained")
draw_line(ax, w_nm, b_nm, color="gray", ls="--", lw=1.5, label="nearest mean")
draw_line(ax, W @ w_white, b_white, color="black", lw=2, label="nearest mean after whitening")
draw_data(ax)
ax.set(xlabel="$x_1$", title="Distances measured in units of the class spread")
ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8)
plt.show()

# %% [markdown]
# The whitened rule still only uses the means, plus one covariance matrix, and its line
# runs along the gap. It is the optimal rule whenever the classes are Gaussian clouds of the
# same shape and equally likely. The perceptron makes no such assumption; the price is that
# it needs the data to be separable to stop, which [the XOR problem](03-xor-mlp.md) shows is
# not always so.
#
# ## Summary
#
# - For two classes the nearest-mean rule is linear: its boundary is the perpendicular
#   bisector of the means, $\mathbf{w} = 2 (\boldsymbol{\mu}_1 - \boldsymbol{\mu}_0)$.
# - It ignores the shape of the classes, so on long, parallel classes its line cuts across
#   them, and the more elongated they are, the worse; the perceptron separates them.
# - Its direction is what a perceptron would learn if it updated on every sample; updating
#   only on mistakes is what lets the perceptron follow the data near the boundary.
# - Measuring distance in units of the within-class spread (whitening, Fisher's
#   discriminant) repairs the rule.
