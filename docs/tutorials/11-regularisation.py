# %% [markdown]
# # Regularisation and stopping rules
#
# A model with many weights and few training samples can fit the training set almost
# perfectly and still predict new data badly: it has learnt the noise along with the
# pattern. *Regularisation* is any change to training that makes such fits less likely.
# This tutorial looks at two families:
#
# - **penalties and constraints on the weights**: L2 (weight decay), L1, the elastic net,
#   which add a term to the loss, and max-norm, which limits each unit's weights after
#   every step;
# - **stopping rules**: early stopping, which ends training when the error on held-out data
#   stops improving, and the tolerances on the gradient norm and on the parameter change,
#   which end it when the optimiser has converged.

# %%
import matplotlib.pyplot as plt
import numpy as np

import chainrule as cr
from chainrule import nn, optim
from chainrule.data import make_moons
from chainrule.optim import lr_scheduler
from chainrule.train import EarlyStopping, evaluate, fit, predict_outputs

# %% [markdown]
# ## Too many weights for too few samples
#
# We start with a linear model, where every effect can be seen weight by weight. There are
# 20 input features, but the target depends on only three of them (features 2, 7 and 13),
# plus noise with standard deviation 1:
#
# $$y = 2 x_2 - 1.5 x_7 + x_{13} + \varepsilon.$$
#
# We have 30 training samples, barely more than the 21 parameters (20 weights and a bias),
# and 500 validation samples that play the role of new data.

# %%
rng = np.random.default_rng(0)
N, D = 30, 20
w_true = np.zeros(D)
w_true[[2, 7, 13]] = [2.0, -1.5, 1.0]
X = rng.standard_normal((N, D))
y = X @ w_true + rng.standard_normal(N)
X_val = rng.standard_normal((500, D))
y_val = X_val @ w_true + rng.standard_normal(500)

inputs, targets = cr.tensor(X), cr.tensor(y[:, None])
mse = nn.MSELoss()


def val_mse(model):
    """Mean squared error of a linear model on the validation samples."""
    w, b = model.weight.numpy()[0], model.bias.numpy()
    return float(np.mean((X_val @ w + b - y_val) ** 2))


# %% [markdown]
# ## Penalties
#
# A penalty adds a term $\Omega(w)$, weighted by a strength $\lambda \ge 0$, to the loss:
#
# $$\tilde L(w) = L(w) + \lambda\, \Omega(w).$$
#
# The three classic choices, as `chainrule.nn` computes them, and their derivatives:
#
# - L2, `nn.l2_penalty`: $\Omega(w) = \sum_i w_i^2$, with
#   $\partial \Omega / \partial w_i = 2 w_i$. The pull towards zero is proportional to the
#   weight: large weights are shrunk hard, small ones hardly at all.
# - L1, `nn.l1_penalty`: $\Omega(w) = \sum_i |w_i|$, with
#   $\partial \Omega / \partial w_i = \operatorname{sign}(w_i)$. The pull has the same size
#   for every weight, however small, so weights that do little for the loss are pushed all
#   the way to zero.
# - Elastic net, `nn.elastic_net_penalty(params, beta)`:
#   $\Omega(w) = \beta \sum_i w_i^2 + \sum_i |w_i|$, a mixture of the two.
#
# Only the weights are penalised, not the bias: a bias shifts the output, it does not make
# the model more flexible. The training loop below is the plain one, with the penalty added
# to the loss before `backward()`. It uses full-batch gradient descent with momentum and a
# learning rate that decays as $\eta_t = \eta_0 / (1 + k t)$ (`InverseTimeLR`, from
# [the learning-rate tutorial](10-learning-rates.md)). The decay matters for L1: its
# gradient does not shrink as a weight approaches zero, so with a constant step the weight
# would hop back and forth across zero instead of settling there.


# %%
def train_linear(penalty=None, lam=0.0, steps=500):
    """Full-batch gradient descent on MSE + lam * penalty(weights)."""
    cr.manual_seed(0)
    model = nn.Linear(D, 1, dtype=np.float64)
    optimizer = optim.SGD(model.parameters(), lr=0.03, momentum=0.9)
    schedule = lr_scheduler.InverseTimeLR(optimizer, k=0.01)
    for _ in range(steps):
        optimizer.zero_grad()
        loss = mse(model(inputs), targets)
        if penalty is not None:
            loss = loss + lam * penalty([model.weight])
        loss.backward()
        optimizer.step()
        schedule.step()
    return model


def elastic_net(params):
    return nn.elastic_net_penalty(params, beta=1.0)


penalties = {"L2": nn.l2_penalty, "L1": nn.l1_penalty, "elastic net": elastic_net}
strengths = 10 ** np.arange(-3, 0.6, 0.25)
plain = train_linear()
paths = {name: [train_linear(p, lam) for lam in strengths] for name, p in penalties.items()}

# %% [markdown]
# For each penalty we trained 15 models, with $\lambda$ from 0.001 to about 3, a factor
# $10^{1/4}$ apart. The next figure draws each of the 20 weights as a curve over
# $\lambda$: the *regularisation path*. The three weights that matter are coloured, the
# 17 that should be zero are grey.

# %%
fig, axes = plt.subplots(1, 2, figsize=(10, 3.6), sharey=True, layout="constrained")
colours = {2: "tab:blue", 7: "tab:orange", 13: "tab:green"}
for ax, name in zip(axes, ["L2", "L1"]):
    weights = np.array([model.weight.numpy()[0] for model in paths[name]])
    for i in range(D):
        ax.plot(
            strengths, weights[:, i], color=colours.get(i, "gray"), lw=1.5 if i in colours else 0.8
        )
    for i, colour in colours.items():
        ax.axhline(w_true[i], color=colour, ls=":", lw=1)
    ax.set_xscale("log")
    ax.set(xlabel="penalty strength λ (log scale)", title=f"{name} penalty")
axes[0].set_ylabel("weight")
handles = [plt.Line2D([], [], color=c, label=f"$w_{{{i}}}$") for i, c in colours.items()]
handles += [plt.Line2D([], [], color="gray", lw=0.8, label="17 others")]
handles += [plt.Line2D([], [], color="black", ls=":", lw=1, label="true values")]
fig.legend(handles=handles, loc="outside right center", fontsize=8)
plt.show()

# %% [markdown]
# The two paths look very different. With L2 (left), the weights shrink gradually as
# $\lambda$ grows, the three real ones as well as the noise ones (not each one steadily:
# with correlated inputs a weight can first grow, as $w_{13}$ does, while the others
# shrink); none is set to zero, they only approach it as $\lambda$ becomes large. With L1
# (right), the grey weights are driven to zero one after another and stay there, while the
# three real weights survive much longer ($w_{13}$ even grows at first, taking over from
# noise weights that are set to zero). L1 *selects features*; L2 only makes the weights
# smaller as a whole. The dotted lines are the true weights: no penalty gets them exactly,
# because a penalty trades a little bias for much less noise in the estimate.
#
# Which $\lambda$ is best? That is a question for data the model was not trained on: we
# compare the validation errors.

# %%
fig, ax = plt.subplots(figsize=(6, 3.6))
for name, models in paths.items():
    ax.semilogx(strengths, [val_mse(m) for m in models], "o-", ms=3, label=name)
ax.axhline(val_mse(plain), color="black", ls="--", lw=1, label="no penalty")
ax.axhline(1.0, color="gray", ls=":", lw=1, label="noise variance")
ax.set(xlabel="penalty strength λ (log scale)", ylabel="validation MSE", ylim=(0, 9.5))
ax.set_title("Validation error against penalty strength")
ax.legend(fontsize=8)
plt.show()

best = {"none": ("", plain)}
for name, models in paths.items():
    i = int(np.argmin([val_mse(m) for m in models]))
    best[name] = (f"{strengths[i]:.3f}", models[i])
noise = np.setdiff1d(np.arange(D), [2, 7, 13])
print(f"{'penalty':<12} {'best λ':>7} {'val MSE':>8} {'|w| < 0.01':>11} {'max noise |w|':>14}")
for name, (lam, model) in best.items():
    w = model.weight.numpy()[0]
    zeros, largest = np.sum(np.abs(w) < 0.01), np.abs(w[noise]).max()
    print(f"{name:<12} {lam:>7} {val_mse(model):>8.3f} {zeros:>11d} {largest:>14.3f}")

# %% [markdown]
# Every curve is a valley. At the left, $\lambda$ is so small that the model is the
# unpenalised one, with its large validation error: it has fitted the noise of 30 samples
# with 20 free weights. At the right, the penalty dominates the loss and squeezes the real
# weights too, and the error climbs past where it started. In between lies the best
# strength. Here L1 does clearly better than L2, because the truth is *sparse* (three of
# 20 features matter), which is exactly what L1 assumes; the elastic net sits in between.
# The table shows the best model of each kind: the L1 model has set most noise weights to
# (nearly) zero. "Nearly", because gradient descent on $|w|$ only gets within a step or so
# of zero; methods written for L1 (soft-thresholding) reach exact zeros.
#
# Choosing $\lambda$ on validation data, as here, is the usual way. The validation error of
# the chosen model is then slightly optimistic, since $\lambda$ was picked to make it small;
# a final, separate test set gives an honest number.
#
# ## L2 is weight decay
#
# One step of gradient descent on $L + \lambda \sum_i w_i^2$ is
#
# $$w \leftarrow w - \eta \left( \nabla L + 2 \lambda w \right),$$
#
# which is the same as
#
# $$w \leftarrow (1 - 2 \eta \lambda)\, w - \eta \nabla L:$$
#
# every step first shrinks the weights by a constant factor, then follows the loss's
# gradient. This is why the L2 penalty is also called *weight decay*, and why every
# optimiser in `chainrule.optim` takes a `weight_decay` argument that adds
# `weight_decay * w` to the gradient. With `weight_decay` $= 2 \lambda$ it is the L2 penalty.
# The optimiser applies it to every parameter it holds; to leave the bias alone, we give the
# decay to the weight only, in a parameter group of its own. We check the claim on ten steps.

# %%
lam = 0.05
cr.manual_seed(0)
with_penalty = nn.Linear(D, 1, dtype=np.float64)
cr.manual_seed(0)
with_decay = nn.Linear(D, 1, dtype=np.float64)
opt_penalty = optim.SGD(with_penalty.parameters(), lr=0.05)
opt_decay = optim.SGD(
    [
        {"params": [with_decay.weight], "weight_decay": 2 * lam},
        {"params": [with_decay.bias]},
    ],
    lr=0.05,
)
for _ in range(10):
    opt_penalty.zero_grad()
    (mse(with_penalty(inputs), targets) + lam * nn.l2_penalty([with_penalty.weight])).backward()
    opt_penalty.step()
    opt_decay.zero_grad()
    mse(with_decay(inputs), targets).backward()
    opt_decay.step()
difference = np.abs(with_penalty.weight.numpy() - with_decay.weight.numpy()).max()
print(f"largest weight difference after 10 steps: {difference:.1e}")

# %% [markdown]
# The two models agree: the difference is zero, or at the level of rounding error.
#
# Adam's `weight_decay` is added to the gradient in the same way, so it too is exactly the
# L2 penalty. But Adam then divides each gradient by a running scale of its own, so the
# decay no longer shrinks all weights by the same factor. `AdamW` applies the decay to the
# weights directly, outside that scaling: a true weight decay, and no longer quite an L2
# penalty. For plain gradient descent the two ideas coincide.
#
# ## A network that memorises
#
# Now a network. The two moons, but only 40 noisy training points, 200 validation points
# to watch training, and 1000 test points for the final verdict. The network, with two
# hidden layers of 64 tanh units, has over 4,000 parameters: 100 times more than there are
# training points. We train it with Adam, full batch, for 400 epochs, three ways: without
# regularisation, with weight decay, and with a max-norm constraint (next section).

# %%
X_train, y_train = make_moons(40, noise=0.3, seed=1)
X_valid, y_valid = make_moons(200, noise=0.3, seed=2)
X_test, y_test = make_moons(1000, noise=0.3, seed=3)
X_train, X_valid, X_test = (a.astype(np.float32) for a in (X_train, X_valid, X_test))
loss_fn = nn.CrossEntropyLoss()


def train_network(weight_decay=0.0, callbacks=(), **options):
    cr.manual_seed(0)
    model = nn.mlp(2, [64, 64], 2, activation="tanh")
    optimizer = optim.Adam(model.parameters(), lr=0.01, weight_decay=weight_decay)
    history = fit(
        model,
        loss_fn,
        optimizer,
        (X_train, y_train),
        val_data=(X_valid, y_valid),
        epochs=400,
        batch_size=len(X_train),
        callbacks=callbacks,
        progress=False,
        **options,
    )
    return model, history


networks = {
    "no regularisation": train_network(),
    "weight decay 0.01": train_network(weight_decay=0.01),
    "max-norm 1": train_network(max_norm=1.0),
}

fig, ax = plt.subplots(figsize=(6, 3.8))
for (name, (_, history)), colour in zip(networks.items(), ["black", "tab:blue", "tab:green"]):
    ax.semilogy(history.train_loss, color=colour, ls="--", lw=1)
    ax.semilogy(history.val_loss, color=colour, label=name)
ax.set(xlabel="epoch", ylabel="cross-entropy (log scale)", ylim=(1e-3, 3))
ax.set_title("Training (dashed) and validation (solid) loss")
ax.legend(fontsize=8)
plt.show()

# %% [markdown]
# The unregularised network (black) shows the classic picture of overfitting. Its training
# loss falls towards zero, while its validation loss falls for a few dozen epochs and then
# *rises* again, far above its best value: the network becomes ever more certain of its
# answers, including the wrong ones near the other class. With weight decay (blue) the
# training loss stops at a higher value, the cost of keeping the weights small, and the
# validation loss stays low. Max-norm (green) lies in between: its validation loss creeps
# up only slightly.
#
# ## Max-norm: a constraint instead of a penalty
#
# Max-norm regularisation does not change the loss. After every step it checks each unit's
# vector of incoming weights $\mathbf{w}_j$ (a row of a `Linear` layer's weight matrix) and,
# if it is longer than $c$, scales it back:
#
# $$\mathbf{w}_j \leftarrow \frac{c}{\lVert \mathbf{w}_j \rVert}\, \mathbf{w}_j$$
#
# whenever $\lVert \mathbf{w}_j \rVert > c$.
#
# `fit(..., max_norm=c)` does this (it is the `MaxNorm` callback; `nn.max_norm_(model, c)`
# does it once, by hand). A unit with bounded weights has a bounded slope, so the network
# cannot build the very steep, very confident boundaries that overfitting needs. Unlike a
# penalty, it leaves weights below the bound entirely alone. The green curve above shows
# its effect on the loss; here are the longest rows, layer by layer.

# %%
for name, (model, _) in networks.items():
    layers = [m for m in model if isinstance(m, nn.Linear)]
    longest = [np.linalg.norm(m.weight.numpy(), axis=1).max() for m in layers]
    print(f"{name:<18} longest incoming weight vector per layer:", np.round(longest, 2))

# %% [markdown]
# Without regularisation, units in every layer have grown weight vectors several times
# longer than 1; with max-norm, every layer's longest row sits exactly at the bound: the
# constraint is active in every layer. Weight decay has made most rows shorter too, but
# smoothly and by different amounts.
#
# What this means for the classifier is easiest to see in the plane:

# %%
grid_x, grid_y = np.meshgrid(np.linspace(-2, 3, 200), np.linspace(-1.5, 2, 200))
grid = np.c_[grid_x.ravel(), grid_y.ravel()].astype(np.float32)

fig, axes = plt.subplots(1, 3, figsize=(10, 3.4), sharey=True, layout="constrained")
for ax, (name, (model, _)) in zip(axes, networks.items()):
    logits = predict_outputs(model, grid)
    p = np.exp(logits[:, 1] - np.logaddexp(logits[:, 0], logits[:, 1])).reshape(grid_x.shape)
    ax.contourf(grid_x, grid_y, p, levels=np.linspace(0, 1, 11), cmap="coolwarm", alpha=0.6)
    ax.contour(grid_x, grid_y, p, levels=[0.5], colors="black", linewidths=1.2)
    ax.scatter(*X_train.T, c=y_train, cmap="coolwarm", edgecolors="black", s=20)
    ax.set(title=name, xlabel="$x_1$")
axes[0].set_ylabel("$x_2$")
plt.show()

# %% [markdown]
# The colour is the predicted probability of the red class. The unregularised network has
# drawn a boundary that bends to take in individual points, with hard, saturated colours
# right up to it: it is sure of itself everywhere. Weight decay and max-norm give smoother
# boundaries and soft colours where the classes meet, the honest answer where the training
# data is ambiguous.
#
# ## Early stopping
#
# The black validation curve suggests the simplest regulariser of all: stop training near
# the bottom of the validation loss. The `EarlyStopping` callback watches the validation
# loss after every epoch. When it has not improved for `patience` epochs, it stops the run
# and, with `restore_best=True` (the default), puts back the weights of the best epoch.
# `history.stopped_by` tells why a run ended.

# %%
stopper = EarlyStopping(patience=30)
networks["early stopping"] = train_network(callbacks=[stopper])
history = networks["early stopping"][1]
best_epoch = int(np.argmin(history.val_loss)) + 1
print(f"stopped by {history.stopped_by!r} after {history.epochs} epochs; best epoch {best_epoch}")

full = networks["no regularisation"][1]
fig, ax = plt.subplots(figsize=(6, 3.6))
epochs = np.arange(1, full.epochs + 1)
ax.plot(epochs, full.val_loss, color="black", lw=1, label="no stopping")
ax.plot(epochs[: history.epochs], history.val_loss, color="tab:red", lw=2, label="early stopping")
ax.axvline(best_epoch, color="tab:red", ls=":", label="best epoch (weights restored)")
ax.axvline(history.epochs, color="tab:red", ls="--", label="stopped (patience 30)")
ax.set(xlabel="epoch", ylabel="validation cross-entropy", ylim=(0, 1.6))
ax.set_title("Early stopping on the validation loss")
ax.legend(fontsize=8)
plt.show()

# %% [markdown]
# The run is the unregularised one, epoch for epoch (same seed), until it stops: 30 epochs
# after the best one, having waited that long for an improvement that did not come. The
# weights it returns are those of the best epoch. Patience is needed because a validation
# curve is noisy; stopping at the first uptick would often stop too soon.
#
# Early stopping needs no extra term and costs nothing but a validation set; it
# regularises because gradient descent fits the broad pattern first and the details of
# single points later, so the weights have not yet had the time to grow large.
#
# Now the verdict, on the 1000 test points none of the models has seen. Remember that the
# validation set was used to choose when to stop, so it may not be used to judge.

# %%
print(f"{'':<18} {'test loss':>9} {'test accuracy':>14}")
for name, (model, _) in networks.items():
    test_loss, test_accuracy = evaluate(model, loss_fn, (X_test, y_test))
    print(f"{name:<18} {test_loss:>9.3f} {test_accuracy:>14.1%}")

# %% [markdown]
# Every regulariser cuts the test loss to a fraction of the unregularised network's. The
# accuracies differ much less than the losses: overfitting here moves the boundary a
# little, but above all makes the network confidently wrong on the points it misclassifies,
# which cross-entropy punishes hard.
#
# ## Stopping when training has converged
#
# Early stopping ends training when it stops *helping*. Two other rules end it when it has
# *converged*, i.e. when the weights hardly change any more:
#
# - `fit(..., grad_tol=tol)` stops when the norm of the epoch's gradient
#   $\lVert \nabla L(w) \rVert$ (the mean over the epoch's batches) is at most `tol`; at a
#   minimum the gradient is zero.
# - `fit(..., param_tol=tol)` stops when an epoch moved the parameters by at most `tol`:
#   $\lVert w(t+1) - w(t) \rVert \le$ `tol`.
#
# Both record their measurement each epoch, in `history.grad_norm` and
# `history.param_change`. We try them on the linear regression from the beginning, trained
# by `fit` with full-batch gradient descent (one step per epoch), where the minimum exists
# and is reached.

# %%
X32, y32 = X.astype(np.float32), y[:, None].astype(np.float32)


def train_regression(weight_decay=0.0, **rules):
    cr.manual_seed(0)
    model = nn.Linear(D, 1)
    optimizer = optim.SGD(model.parameters(), lr=0.1, weight_decay=weight_decay)
    return fit(
        model,
        mse,
        optimizer,
        (X32, y32),
        epochs=3000,
        batch_size=N,
        progress=False,
        accuracy=False,
        **rules,
    )


# param_tol=0 only records the parameter change; it stops nothing before grad_tol does.
both = train_regression(grad_tol=1e-3, param_tol=0.0)
print(f"grad_tol=1e-3: stopped by {both.stopped_by!r} after {both.epochs} epochs")

fig, ax = plt.subplots(figsize=(6, 3.6))
ax.semilogy(both.grad_norm, label="gradient norm ‖∇L‖")
ax.semilogy(np.array(both.param_change) / 0.1, ls="--", label="parameter change / η")
ax.axhline(1e-3, color="gray", ls=":", label="grad_tol = 1e-3")
ax.set(xlabel="epoch (one full-batch step)", ylabel="norm (log scale)")
ax.set_title("Two measures of convergence, linear regression")
ax.legend(fontsize=8)
plt.show()

# %% [markdown]
# After a fast start, the gradient norm falls in a straight line on the log scale until it
# reaches the tolerance and `fit` stops: near a minimum, gradient descent on a quadratic
# shrinks the error by a constant factor per step, set by the smallest curvature. The
# dashed curve lies exactly on it, because one step of plain gradient descent moves the
# parameters by $\eta \nabla L$: here the two rules are the same rule, with
# `param_tol` $= \eta \cdot$ `grad_tol`. Momentum, Adam or a learning-rate schedule break
# that link; then `param_tol` is the one that tells you the weights have actually stopped.
#
# One trap: `grad_tol` measures the gradient that `backward()` computed, the gradient of the
# loss. An optimiser's `weight_decay` is added later, inside `step()`, so at the minimum of
# the *regularised* problem the measured gradient is not zero: it balances the decay term,
# $\nabla L = -2 \lambda w$ (with `weight_decay` $= 2\lambda$). A run with weight decay
# therefore never meets a tight `grad_tol`, while `param_tol` works.

# %%
for rule in [{"grad_tol": 1e-3}, {"param_tol": 1e-4}]:
    history = train_regression(weight_decay=0.1, **rule)
    print(f"weight_decay=0.1, {rule}: stopped by {history.stopped_by!r}", end=" ")
    print(f"after {history.epochs} epochs")
    if history.grad_norm:
        print(f"    last gradient norm of the loss: {history.grad_norm[-1]:.3f}")

# %% [markdown]
# ## Summary
#
# - A penalty $\lambda \Omega(w)$ added to the loss pulls the weights towards zero. L2
#   ($\sum w^2$, gradient $2w$) shrinks them as a whole (exactly proportionally only for
#   uncorrelated, standardised inputs) and is the same as weight decay; L1 ($\sum |w|$,
#   gradient $\operatorname{sign}(w)$) drives unneeded weights to zero and selects features;
#   the elastic net mixes the two. Choose $\lambda$ on
#   validation data.
# - Max-norm bounds each unit's incoming weight vector by projection after every step
#   (`fit(max_norm=c)`); it leaves smaller weights alone.
# - An overfitting network shows a validation loss that turns upwards while the training
#   loss keeps falling. `EarlyStopping` stops there and restores the best weights.
# - `grad_tol` and `param_tol` stop training once it has converged; with weight decay in the
#   optimiser, use `param_tol`, since the gradient of the loss alone does not vanish.
# - Judge the final models on data used neither for training nor for any choice.
