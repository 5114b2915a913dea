# %% [markdown]
# # The perceptron
#
# The perceptron is the simplest neuron that learns. It weighs its inputs, adds a bias and
# answers with the sign of the result:
#
# $$z = \mathbf{w} \cdot \mathbf{x} + b, \qquad y = \operatorname{sign}(z).$$
#
# In two dimensions the points with $z = 0$ form a straight line, the *decision boundary*:
# the weight vector $\mathbf{w}$ is perpendicular to it and points into the half-plane where
# the perceptron answers $+1$. Learning means finding a line that puts every training point
# on the side of its class.
#
# This tutorial answers three questions:
#
# 1. What is Rosenblatt's learning rule, and what does it do to the line?
# 2. Why does it stop after finitely many updates when the classes can be separated?
# 3. In what sense is it gradient descent, the method that trains every other network in
#    this series?

# %%
import matplotlib.pyplot as plt
import numpy as np

import chainrule as cr
from chainrule import nn, optim
from chainrule.classic import Perceptron
from chainrule.data import make_separable
from chainrule.train import fit

# %% [markdown]
# ## Two separable classes
#
# `make_separable` draws points in the square $[-1, 1]^2$ on both sides of a random line
# through the origin, leaving an empty band of width `margin` around it, so a separating
# line certainly exists. The labels are 0 and 1; the perceptron works with targets
# $t \in \{-1, +1\}$, so we translate them once.

# %%
cr.manual_seed(0)  # the library's generator; the data set has its own seed
X, y = make_separable(40, margin=0.1, seed=3)
X = X.astype(np.float64)  # the classic classifiers compute in float64; so do we
t = np.where(y == 1, 1.0, -1.0)
print(f"{len(X)} points, {np.sum(t > 0)} with t = +1 and {np.sum(t < 0)} with t = -1")

# %% [markdown]
# ## The learning rule
#
# Rosenblatt's rule starts from $\mathbf{w} = 0$, $b = 0$ and visits the samples one by one.
# A sample is a *mistake* when $t \, z \le 0$: its score has the wrong sign, or is zero.
# Correct samples change nothing; a mistake moves the weights towards it:
#
# $$\mathbf{w} \leftarrow \mathbf{w} + t \, \mathbf{x}, \qquad b \leftarrow b + t.$$
#
# Why does this help? After the update the same sample scores
#
# $$t \left( (\mathbf{w} + t \mathbf{x}) \cdot \mathbf{x} + b + t \right)
# = t \, z + \lVert \mathbf{x} \rVert^2 + 1,$$
#
# because $t^2 = 1$: its score moved by a positive amount towards the correct sign. It may
# not be enough to fix this sample at once, and it may break another one, which is why the
# rule goes over the data again, epoch after epoch, until an epoch passes without a mistake.
# Written out in NumPy it is a handful of lines:


# %%
def perceptron_by_hand(X, t, max_epochs=100):
    """Rosenblatt's rule; returns w, b and the number of updates and epochs."""
    w, b = np.zeros(X.shape[1]), 0.0
    updates = epochs = 0
    while epochs < max_epochs:
        epochs += 1
        mistakes = 0
        for x_n, t_n in zip(X, t):
            if t_n * (w @ x_n + b) <= 0:
                w, b = w + t_n * x_n, b + t_n
                mistakes += 1
        updates += mistakes
        if mistakes == 0:
            break
    return w, b, updates, epochs


w, b, updates, epochs = perceptron_by_hand(X, t)
clf = Perceptron().fit(X, y, record=True)
print(f"by hand:        w = {np.round(w, 3)}, b = {b:g}, {updates} updates in {epochs} epochs")
print(
    f"cr Perceptron:  w = {np.round(clf.coef_[0], 3)}, b = {clf.intercept_[0]:g}, "
    f"{clf.n_updates_} updates in {clf.n_epochs_} epochs, converged: {clf.converged_}"
)
print("training accuracy:", clf.score(X, y))

# %% [markdown]
# The library's `Perceptron` follows the same rule and reaches the same weights. The last
# epoch is the one without a mistake: it only confirms that the line separates the data.
#
# ## Watching the boundary move
#
# With `record=True` the classifier keeps the weights after every update in `history_`,
# together with the sample that caused it. Below are four of those moments: the first
# update, two in between and the last one. The dashed line is the boundary just before the
# update, the solid one just after, the arrow is $\mathbf{w}$, and the circled point is the
# mistake that moved the line.

# %%
CLASS_COLOURS = ["tab:blue", "tab:orange"]


def draw_line(ax, w, b, **style):
    """The line w.x + b = 0, drawn across the [-1.1, 1.1] square."""
    direction = np.array([-w[1], w[0]]) / np.linalg.norm(w)
    foot = -b * w / (w @ w)  # the point of the line nearest the origin
    ends = foot + np.outer([-4, 4], direction)
    ax.plot(ends[:, 0], ends[:, 1], **style)


def draw_points(ax):
    for label in (0, 1):
        ax.scatter(*X[y == label].T, s=14, color=CLASS_COLOURS[label], label=f"class {label}")
    ax.set(xlim=(-1.1, 1.1), ylim=(-1.1, 1.1), aspect="equal", xlabel="$x_1$")


history = clf.history_
picks = [0, len(history) // 8, len(history) // 3, len(history) - 1]
fig, axes = plt.subplots(1, 4, figsize=(12, 3.4), sharey=True)
for ax, k in zip(axes, picks):
    update = history[k]
    w_k, b_k = update.coef[0], update.intercept[0]
    if k > 0:
        before = history[k - 1]
        draw_line(ax, before.coef[0], before.intercept[0], color="gray", ls="--", lw=1)
    draw_line(ax, w_k, b_k, color="black", lw=2)
    draw_points(ax)
    ax.scatter(*X[update.sample], s=150, facecolors="none", edgecolors="red", lw=1.5)
    arrow = 0.6 * w_k / np.linalg.norm(w_k)
    ax.annotate("", xy=arrow, xytext=(0, 0), arrowprops={"arrowstyle": "->", "lw": 1.5})
    ax.set_title(f"after update {k + 1} (epoch {update.epoch})", fontsize=10)
axes[0].set_ylabel("$x_2$")
axes[0].legend(loc="lower left", fontsize=8)
fig.suptitle("The perceptron's boundary after some of its updates")
fig.tight_layout()
plt.show()

# %% [markdown]
# The first update comes from the very first sample: at the zero start every score is $0$,
# which counts as a mistake, so $\mathbf{w}$ becomes $t \, \mathbf{x}$ of that sample and $b$
# becomes $t$. The line is perpendicular to that sample's direction, and since $|b| = 1$ is
# large next to $\lVert \mathbf{w} \rVert$ it lies near the edge of the square: almost
# everything is called one class. Each later update turns $\mathbf{w}$ towards a
# misclassified point of class 1, or away from one of class 0, and shifts the line by $\pm 1$
# in $b$. Which samples did the work?

# %%
per_epoch = np.bincount([u.epoch for u in history])[1:]
print("updates in each epoch:", per_epoch.tolist())
print("samples that caused them:", [u.sample for u in history])

# %% [markdown]
# After the first epoch the line is roughly in place, and from then on the same few samples
# make almost all the mistakes, in the same order every epoch. They pull the line back and
# forth between them, each round leaving it turned a little further, until an epoch passes
# in which all of them land on their own side. The number of updates is therefore set by
# the hard points, not by the size of the data set.
#
# ## Why it stops: the convergence theorem
#
# Novikoff's theorem makes this precise. Put the bias into the weight vector,
# $\tilde{\mathbf{w}} = (\mathbf{w}, b)$ and $\tilde{\mathbf{x}} = (\mathbf{x}, 1)$. Suppose some
# unit vector $\mathbf{u}$ separates the data with margin $\gamma > 0$, that is
# $t_n \, \mathbf{u} \cdot \tilde{\mathbf{x}}_n \ge \gamma$ for every $n$, and that
# $\lVert \tilde{\mathbf{x}}_n \rVert \le R$. Then the perceptron makes at most
#
# $$k \le \left( \frac{R}{\gamma} \right)^2$$
#
# updates. The proof tracks two quantities over $k$ updates: $\mathbf{u} \cdot
# \tilde{\mathbf{w}}$ grows by at least $\gamma$ per update, while
# $\lVert \tilde{\mathbf{w}} \rVert^2$ grows by at most $R^2$ (an update happens only when
# $t \, \tilde{\mathbf{w}} \cdot \tilde{\mathbf{x}} \le 0$). So
# $k \gamma \le \mathbf{u} \cdot \tilde{\mathbf{w}} \le \lVert \tilde{\mathbf{w}} \rVert
# \le \sqrt{k} R$, which gives the bound.
#
# For `make_separable`, the generating line through the origin is such a $\mathbf{u}$, with
# $\gamma$ at least half the `margin`. The table runs the perceptron on 30 data sets of 100
# points for each margin and compares the updates it needed with the bound.

# %%
rows = [f"{'margin':>7} {'mean updates':>13} {'most updates':>13} {'most epochs':>12} {'bound':>9}"]
for margin in [0.5, 0.2, 0.05, 0.01]:
    counts, epoch_counts, radius = [], [], 0.0
    for seed in range(30):
        Xs, ys = make_separable(100, margin=margin, seed=seed)
        model = Perceptron(max_epochs=1000).fit(Xs, ys)
        counts.append(model.n_updates_)
        epoch_counts.append(model.n_epochs_)
        radius = max(radius, np.sqrt(np.max(np.sum(Xs.astype(float) ** 2, axis=1)) + 1))
    bound = (radius / (margin / 2)) ** 2
    rows.append(
        f"{margin:>7} {np.mean(counts):>13.1f} {max(counts):>13} "
        f"{max(epoch_counts):>12} {bound:>9.0f}"
    )
print("\n".join(rows))

# %% [markdown]
# Two things show. The bound holds, and is far from tight: it covers the worst data set
# with this $R$ and $\gamma$, visited in the worst order, and ours are neither. And the number of
# updates grows as the margin shrinks: when the classes almost touch, the line has to be
# placed precisely, and each mistake only nudges it. The theorem needs $\gamma > 0$: when no
# line separates the classes the rule never stops, as
# [XOR and the multilayer perceptron](03-xor-mlp.md) shows.
#
# ## The rule is gradient descent on the perceptron criterion
#
# The perceptron rule looks like its own invention, but it is the same procedure that
# trains every network in this series: stochastic gradient descent on a loss. The loss is
# the *perceptron criterion*, one term per sample,
#
# $$E_n(\mathbf{w}, b) = \max\left(0, -t_n \, z_n\right), \qquad z_n = \mathbf{w} \cdot
# \mathbf{x}_n + b.$$
#
# A correct sample costs nothing; a wrong one costs its score $\lvert z_n \rvert$, which
# grows with its distance from the line. $E_n$ is piecewise linear, so away from the kink at
# $t_n z_n = 0$ its gradient is easy:
#
# $$\frac{\partial E_n}{\partial \mathbf{w}} = -t_n \mathbf{x}_n, \quad
# \frac{\partial E_n}{\partial b} = -t_n \quad \text{if } t_n z_n < 0,$$
#
# and zero if $t_n z_n > 0$. At the kink itself any value in between is a *subgradient*;
# choosing the mistake's value there, one step of gradient descent with learning rate
# $\eta = 1$ on the sample's term is
#
# $$\mathbf{w} \leftarrow \mathbf{w} - \eta \frac{\partial E_n}{\partial \mathbf{w}} =
# \mathbf{w} + t_n \mathbf{x}_n, \qquad b \leftarrow b + t_n,$$
#
# on mistakes, and no change otherwise: Rosenblatt's rule, word for word.
#
# `nn.HingeLoss()` is this criterion (its default margin is 0), and its backward pass makes
# the same choice at the kink. Let autodiff compute the gradient at the zero start, where
# every sample sits on the kink, for the first sample:

# %%
layer = nn.Linear(2, 1, dtype=np.float64)
nn.init.zeros_(layer.weight)
nn.init.zeros_(layer.bias)
criterion = nn.HingeLoss(reduction="sum")

loss = criterion(layer(X[:1]), t[:1, None])
loss.backward()
print("t x of the sample:  ", np.round(t[0] * X[0], 4), " t =", t[0])
print("autodiff dE/dw:     ", np.round(layer.weight.grad.numpy()[0], 4))
print("autodiff dE/db:     ", layer.bias.grad.numpy())

# %% [markdown]
# The gradient is $-t \, \mathbf{x}$ and $-t$, so stepping against it adds $t \, \mathbf{x}$
# and $t$. Now the whole training run: the same `Linear` layer, `optim.SGD` with
# `lr=1.0`, one sample per step, the samples in their order. `fit` is the generic training
# loop used for every network in this series. `shuffle=False` visits the samples in the
# order the perceptron does; `accuracy=False` skips bookkeeping we do not need here.

# %%
layer.zero_grad()
history_sgd = fit(
    layer,
    criterion,
    optim.SGD(layer.parameters(), lr=1.0),
    (X, t[:, None]),
    epochs=clf.n_epochs_,
    batch_size=1,
    shuffle=False,
    progress=False,
    accuracy=False,
)
print("SGD on the hinge loss: w =", np.round(layer.weight.numpy()[0], 6), "b =", layer.bias.item())
print("perceptron rule:       w =", np.round(clf.coef_[0], 6), "b =", clf.intercept_[0])
same_w = np.allclose(layer.weight.numpy(), clf.coef_)
same_b = np.allclose(layer.bias.numpy(), clf.intercept_)
print("the same weights:", same_w and same_b)

# %% [markdown]
# Gradient descent on the hinge loss lands on exactly the perceptron's weights. Since the
# criterion is a sum over samples, we can also watch its total over the training set after
# each update, next to the number of training points still on the wrong side.

# %%
scores = np.array([X @ u.coef[0] + u.intercept[0] for u in history])  # (updates, samples)
total = np.maximum(0, -t * scores).sum(axis=1)
wrong = (t * scores <= 0).sum(axis=1)
steps = np.arange(1, len(history) + 1)

fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.6))
margin_axis = np.linspace(-2, 2, 401)
left.plot(margin_axis, np.maximum(0, -margin_axis), lw=2, label="perceptron criterion")
left.plot(margin_axis, np.maximum(0, 1 - margin_axis), ls="--", label="hinge with margin 1")
left.plot(margin_axis, (margin_axis <= 0).astype(float), ls=":", label="mistake count (0/1)")
left.set(xlabel="$t \\, z$", ylabel="loss of one sample", title="Per-sample losses")
left.legend(fontsize=8)
right.plot(steps, total, marker="o", ms=3, label="total criterion $E$")
right.plot(steps, wrong, marker="s", ms=3, label="points on the wrong side")
right.set(xlabel="update", title="The training set after each update")
right.legend(fontsize=8)
fig.tight_layout()
plt.show()

# %% [markdown]
# On the left, the per-sample losses as functions of $t \, z$. Counting mistakes (dotted)
# is what we really care about, but it is flat almost everywhere: its gradient is zero and
# tells the weights nothing. The perceptron criterion (solid) is a convex stand-in: zero
# where the count is zero, and sloped so that its gradient points towards correct answers.
# Adding a margin, $\max(0, 1 - t z)$ (`nn.HingeLoss(margin=1.0)`), keeps pushing until each
# point is a safe distance from the line: that is the loss of the support vector machine.
#
# On the right, $E = \sum_n E_n$ and the count of wrong points both reach zero at the last
# update, but not monotonically: they zigzag as the few hard points take turns. Each step
# follows the gradient of *one* sample's term, and fixing that sample can move the line
# across others. That is the usual behaviour of stochastic gradient descent: a step that
# lowers one term may raise the total.
#
# Two more observations from the criterion's point of view:
#
# - $\mathbf{w} = 0$, $b = 0$ gives $E = 0$, the smallest possible value, and yet predicts
#   nothing. Only the rule's choice to treat $t \, z = 0$ as a mistake moves it away from
#   that useless minimum. The criterion has no preference for a good line, only for one
#   that leaves no point on the wrong side.
# - The learning rate does not matter here. From the zero start every update adds
#   $\eta \, t \, \mathbf{x}$, so the weights are $\eta$ times those with $\eta = 1$ and the
#   line is the same:

# %%
slow = Perceptron(lr=0.01).fit(X, y)
print("lr = 0.01: w =", np.round(slow.coef_[0], 5), " updates:", slow.n_updates_)
print("same predictions as lr = 1:", np.array_equal(slow.predict(X), clf.predict(X)))

# %% [markdown]
# ## Summary
#
# - A perceptron is a line $\mathbf{w} \cdot \mathbf{x} + b = 0$; its rule adds
#   $t \, \mathbf{x}$ to $\mathbf{w}$ and $t$ to $b$ for each misclassified sample.
# - On separable data it stops after at most $(R / \gamma)^2$ updates, usually far fewer;
#   the smaller the margin, the more updates.
# - The rule is stochastic (sub)gradient descent with learning rate 1 on the perceptron
#   criterion $\max(0, -t z)$, which `nn.HingeLoss` implements, so `optim.SGD` and `fit`
#   reproduce it exactly.
#
# Next, [nearest mean versus the perceptron](02-nearest-mean.md) compares this rule with
# the simplest classifier that needs no training at all.
