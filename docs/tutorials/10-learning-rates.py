# %% [markdown]
# # Learning rates and divergence
#
# The learning rate $\eta$ in $w \leftarrow w - \eta \nabla L(w)$ is the setting that most
# often decides whether training works. Too small, and training crawls; too large, and the
# loss grows instead of shrinking, often until it is `inf` or `nan`. Where exactly is the
# border? For a quadratic loss there is a precise answer, $\eta < 2 / \lambda_{\max}$, with
# $\lambda_{\max}$ the largest eigenvalue of the Hessian. This tutorial
#
# - derives that limit for one weight and checks it on a linear regression, predicting the
#   rate at which training breaks down before running it;
# - shows what `fit` does when it breaks down (`TrainingDiverged`);
# - shows why a network has no such formula, and how a learning-rate sweep finds a good rate;
# - uses learning-rate schedules to let stochastic gradient descent settle.

# %%
import textwrap

import matplotlib.pyplot as plt
import numpy as np

import chainrule as cr
from chainrule import nn, optim
from chainrule.data import make_moons
from chainrule.optim import lr_scheduler
from chainrule.train import TrainingDiverged, fit

# %% [markdown]
# ## One weight
#
# Take the simplest loss there is, $f(w) = \frac{\lambda}{2} w^2$ with curvature
# $\lambda > 0$. Its gradient is $\lambda w$, so a step of gradient descent is
#
# $$w_{t+1} = w_t - \eta \lambda w_t = (1 - \eta \lambda)\, w_t,$$
#
# and after $t$ steps $w_t = (1 - \eta \lambda)^t w_0$. Everything depends on the factor
# $1 - \eta\lambda$:
#
# - $0 < \eta\lambda < 1$: the factor is between 0 and 1; $w$ shrinks towards 0 from one side.
# - $\eta\lambda = 1$: the factor is 0; one step lands exactly on the minimum.
# - $1 < \eta\lambda < 2$: the factor is between $-1$ and 0; $w$ jumps across the minimum
#   every step, but the jumps shrink.
# - $\eta\lambda > 2$: the factor is below $-1$; every jump is longer than the last.
#
# So gradient descent converges exactly when $\eta < 2 / \lambda$. We let `optim.SGD` take
# the steps for four values of $\eta\lambda$, with $\lambda = 4$.

# %%
curvature = 4.0
products = [0.3, 1.0, 1.7, 2.1]  # eta * lambda
trajectories = {}
for product in products:
    w = cr.tensor([1.0], dtype=np.float64, requires_grad=True)
    optimizer = optim.SGD([w], lr=product / curvature)
    values = [w.item()]
    for _ in range(15):
        optimizer.zero_grad()
        (0.5 * curvature * w**2).sum().backward()
        optimizer.step()
        values.append(w.item())
    trajectories[product] = values

fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.5), layout="constrained")
for product, values in trajectories.items():
    left.plot(values, "o-", ms=3, label=f"ηλ = {product}")
left.set(xlabel="step t", ylabel="$w_t$", title="gradient descent on f = λw²/2", ylim=(-4, 4))
left.axhline(0, color="gray", lw=0.5)
left.legend(fontsize=8, ncols=2)

grid = np.linspace(0, 2.5, 251)
right.plot(grid, np.abs(1 - grid), color="black")
right.axhline(1, color="tab:red", ls="--", lw=1, label="|factor| = 1")
for product in products:
    right.plot(product, abs(1 - product), "o")
right.set(xlabel="ηλ", ylabel="|1 - ηλ|", title="how much |w| changes per step")
right.legend(fontsize=8)
plt.show()

# %% [markdown]
# On the left, the blue run creeps towards 0, the orange one gets there in a single step,
# the green one zigzags inwards, and the red one, with $\eta\lambda = 2.1$, zigzags outwards
# and leaves the plot. Blue and green shrink by the same factor $0.7$ per step, one from one
# side and one alternating. On the right, the size of the factor is a V with its tip at
# $\eta\lambda = 1$; it crosses 1, the border between shrinking and growing, at
# $\eta\lambda = 2$. Note that $\eta\lambda$ just above 2 diverges *slowly*: $|w|$ grows by
# only 10% per step, and it can take many steps to notice.
#
# ## Many weights: the largest eigenvalue decides
#
# Near a minimum, any smooth loss looks like a quadratic
# $L(w) \approx L(w^*) + \frac{1}{2} (w - w^*)^\top H (w - w^*)$, with $H$ the Hessian, the
# matrix of second derivatives. In the coordinates of $H$'s eigenvectors the quadratic
# separates into one-weight problems like the one above, one per eigenvalue $\lambda_i$. Each
# converges only if $\eta < 2 / \lambda_i$, so the whole of gradient descent converges only if
#
# $$\eta < \frac{2}{\lambda_{\max}}.$$
#
# The smallest eigenvalue, meanwhile, sets the speed: along its eigenvector each step
# shrinks the error only by the factor $1 - \eta \lambda_{\min}$, which is close to 1 when
# $\lambda_{\min}$ is much smaller than $\lambda_{\max}$. The ratio
# $\kappa = \lambda_{\max} / \lambda_{\min}$, the *condition number*, measures how hard the
# problem is.
#
# For linear regression with the mean squared error the loss is exactly quadratic, so the
# limit is exact, not an approximation. Our data: 200 samples of two features of different
# scales, one centred at 0 with spread 1 and one centred at 2 with spread 3, and a noisy
# linear target. We compute the Hessian of the loss with respect to the three parameters
# (two weights and the bias) with `cr.hessian`, and compare it with the formula
# $H = \frac{2}{N} A^\top A$, where $A$ is the inputs with a column of ones appended.

# %%
rng = np.random.default_rng(0)
N = 200
X = np.c_[rng.normal(0, 1, N), rng.normal(2, 3, N)]
y = X @ np.array([1.5, -0.5]) + 0.7 + 0.3 * rng.standard_normal(N)
A = np.c_[X, np.ones(N)]


def regression_loss(theta):
    """Mean squared error of the line with weights theta[:2] and bias theta[2]."""
    return ((cr.tensor(A) @ theta - cr.tensor(y)) ** 2).mean()


H = cr.hessian(regression_loss)(np.zeros(3)).numpy()
print("Hessian by cr.hessian:\n", np.round(H, 3))
print("largest difference from 2/N A^T A:", f"{np.abs(H - 2 / N * A.T @ A).max():.1e}")

eigenvalues = np.linalg.eigvalsh(H)
lr_limit = 2 / eigenvalues.max()
print("eigenvalues:", np.round(eigenvalues, 3))
print(f"condition number {eigenvalues.max() / eigenvalues.min():.1f}")
print(f"predicted limit 2/lambda_max = {lr_limit:.4f}")

# %% [markdown]
# The largest eigenvalue belongs mostly to the second weight, whose input has the largest
# values. It alone sets the limit on the learning rate.
#
# ## Just below and just above the limit
#
# The prediction says that full-batch gradient descent with $\eta = 0.9 \cdot 2/\lambda_{\max}$
# converges and with $\eta = 1.1 \cdot 2/\lambda_{\max}$ diverges. We train an `nn.Linear(2, 1)`
# with `fit`, one full-batch step per epoch (`batch_size=N`), to see.
#
# `fit` watches the loss of every batch. When it becomes `nan` or `inf`, or grows past 1000
# times its first value (`divergence_factor=1000`; a first loss below 1 counts as 1), it
# stops and raises `TrainingDiverged`. Its message says what happened and suggests a smaller
# learning rate; the exception carries the `history` of the epochs completed and the `loss`
# that stopped the run, so a diverged run can still be plotted.

# %%
inputs = X.astype(np.float32)
targets = y[:, None].astype(np.float32)
runs = {}
for factor in [0.9, 1.1]:
    cr.manual_seed(0)
    model = nn.Linear(2, 1)
    optimizer = optim.SGD(model.parameters(), lr=factor * lr_limit)
    try:
        history = fit(
            model,
            nn.MSELoss(),
            optimizer,
            (inputs, targets),
            epochs=100,
            batch_size=N,
            shuffle=False,
            progress=False,
            accuracy=False,
        )
        runs[factor] = history.train_loss
    except TrainingDiverged as error:
        print(textwrap.fill(f"{factor} x limit: TrainingDiverged: {error}", 90))
        runs[factor] = error.history.train_loss + [error.loss]
print(f"0.9 x limit: loss after {len(runs[0.9])} epochs {runs[0.9][-1]:.4f}")

fig, ax = plt.subplots(figsize=(6, 3.8))
for factor, colour in [(0.9, "tab:green"), (1.1, "tab:red")]:
    ax.semilogy(runs[factor], color=colour, label=f"η = {factor} · 2/λmax")
ax.plot(len(runs[1.1]) - 1, runs[1.1][-1], "kx", ms=10, mew=2, label="TrainingDiverged")
ax.set(xlabel="epoch (one full-batch step each)", ylabel="MSE (log scale)")
ax.set_title("Linear regression on either side of the predicted limit")
ax.grid(alpha=0.3, which="both")
ax.legend(fontsize=8)
plt.show()

# %% [markdown]
# The prediction holds. The run below the limit settles at the least-squares loss. The run
# above it is worth a closer look: for its first dozen steps its loss *falls*, almost as
# fast as the good run's. The two directions with small eigenvalues converge as usual; only
# the component along the top eigenvector grows, by the factor $|1 - 1.1 \cdot 2| = 1.2$
# per step. It starts small, so for a while the loss hides it, then it takes over and grows
# geometrically (a straight line on the log scale) until the guard stops the run. A loss
# that first falls and then climbs is a typical sign of a learning rate slightly too large.
#
# ## Conditioning: why scaling the inputs helps
#
# The limit came from the feature with large values, while the slow directions were set by
# the small eigenvalues. Standardising the inputs (subtracting each feature's mean and
# dividing by its standard deviation) changes the Hessian. Here the two features are nearly
# uncorrelated, so afterwards $H$ is close to twice the identity: all three eigenvalues near
# 2.

# %%
standardised = (X - X.mean(axis=0)) / X.std(axis=0)
A_std = np.c_[standardised, np.ones(N)]
eigenvalues_std = np.linalg.eigvalsh(2 / N * A_std.T @ A_std)
print(f"{'':<13} {'eigenvalues':<22} {'condition':>9} {'2/lambda_max':>12}")
for name, values in [("raw", eigenvalues), ("standardised", eigenvalues_std)]:
    text = " ".join(f"{v:6.3f}" for v in values)
    print(f"{name:<13} {text:<22} {values.max() / values.min():>9.1f} {2 / values.max():>12.3f}")

# %% [markdown]
# With standardised inputs the learning rate can be over ten times larger, and because all
# directions now have about the same curvature, no direction is left behind: with
# $\eta = 1 / \lambda$ gradient descent would nearly solve the problem in one step. This is
# one reason to standardise inputs before training any network.
#
# ## Networks: no formula, so sweep
#
# For a network the loss is not quadratic, and its Hessian changes from one point to the
# next (the [Hessian tutorial](12-hessian.md) computes it for a small network). There is no
# $\lambda_{\max}$ to read off in advance. The practical substitute is a sweep: train briefly
# with a range of learning rates, spaced by constant factors, and compare the losses.
#
# We train a network with two hidden layers of 16 tanh units on the two moons for 20 epochs
# with minibatches of 32, for 13 learning rates from $10^{-3}$ to $30$, from the same
# initial weights each time.

# %%
X_moons, y_moons = make_moons(200, noise=0.2, seed=0)
X_moons = X_moons.astype(np.float32)

rates = np.geomspace(1e-3, 30, 13)
final_losses, diverged = [], []
for lr in rates:
    cr.manual_seed(0)
    model = nn.mlp(2, [16, 16], 2, activation="tanh")
    try:
        history = fit(
            model,
            nn.CrossEntropyLoss(),
            optim.SGD(model.parameters(), lr=float(lr)),
            (X_moons, y_moons),
            epochs=20,
            batch_size=32,
            progress=False,
        )
        final_losses.append(history.train_loss[-1])
    except TrainingDiverged:
        final_losses.append(np.nan)
        diverged.append(lr)

fig, ax = plt.subplots(figsize=(6, 3.8))
ax.loglog(rates, final_losses, "o-")
for lr in diverged:
    ax.axvline(lr, color="tab:red", ls=":", lw=1)
ax.axhline(np.log(2), color="gray", ls="--", lw=1, label="log 2: guessing")
ax.set(xlabel="learning rate (log scale)", ylabel="loss after 20 epochs (log scale)")
ax.set_title("Learning-rate sweep, MLP 2-16-16-2 on two moons")
ax.grid(alpha=0.3, which="both")
ax.legend(fontsize=8)
plt.show()

best = int(np.nanargmin(final_losses))
print(f"lowest loss {final_losses[best]:.3f} at learning rate {rates[best]:.3g}")
print("runs stopped by TrainingDiverged:", len(diverged))

# %% [markdown]
# The curve is a valley. On the left, the rates are so small that after 20 epochs the loss
# has hardly moved from $\log 2 \approx 0.69$, the loss of a network that gives both classes
# probability one half. Towards the middle the loss falls, and it is lowest over a range of
# rates, not at one point. On the right the loss climbs again, far above where it started.
#
# None of these runs stopped with `TrainingDiverged` (the count above). With tanh units and
# cross-entropy, whose gradient $p - t$ is bounded (see
# [softmax and cross-entropy](08-softmax-cross-entropy.md)), each step can change the
# weights only by a bounded amount. A too-large rate throws the weights about and leaves the
# loss poor, but it cannot make it explode geometrically as in the linear regression. The
# guard catches explosions, not every bad rate; the sweep catches both. A good habit is to
# pick a rate somewhat below the bottom of the valley, where training is fast but not yet on
# the edge.
#
# ## Schedules: a large rate first, a small one later
#
# In [the previous tutorial](09-gradient-descent.md), stochastic gradient descent got near
# the minimum quickly but then kept jumping around it: with a constant rate, each step's
# noise never dies down. The remedy is to shrink the learning rate as training goes on. A
# *schedule* sets $\eta_t$ at each epoch $t$ from the initial rate $\eta_0$:
#
# - `StepLR`: $\eta_t = \eta_0 \gamma^{\lfloor t / s \rfloor}$, a drop by the factor $\gamma$
#   every $s$ epochs;
# - `ExponentialLR`: $\eta_t = \eta_0 \gamma^t$, a smooth version of the same;
# - `CosineAnnealingLR`: $\eta_t = \frac{\eta_0}{2} \left( 1 + \cos(\pi t / T) \right)$,
#   from $\eta_0$ down to 0 at epoch $T$ along half a cosine;
# - `InverseTimeLR`: $\eta_t = \eta_0 / (1 + k t)$. It decays so slowly that the steps
#   still add up to infinity (the weights can travel any distance), and fast enough that
#   the squares of the steps have a finite sum (the noise dies out): the classical
#   conditions under which stochastic gradient descent converges.
#
# A schedule wraps the optimiser, and `fit(..., scheduler=...)` advances it once per epoch;
# `history.lr` records the rate of every epoch. We return to the linear regression, with
# standardised inputs, and train with one sample per step, $\eta_0 = 0.1$, for 20 epochs.
# To see how close each run gets, we pass the training data as `val_data` as well: the
# validation loss is then the loss on all the data at the end of each epoch, which we plot
# minus the least-squares minimum.

# %%
inputs_std = standardised.astype(np.float32)
least_squares = np.linalg.lstsq(A_std, y, rcond=None)[0]
minimum = np.mean((A_std @ least_squares - y) ** 2)

schedules = {
    "constant": None,
    "StepLR(step_size=5, gamma=0.3)": lambda o: lr_scheduler.StepLR(o, step_size=5, gamma=0.3),
    "ExponentialLR(gamma=0.8)": lambda o: lr_scheduler.ExponentialLR(o, gamma=0.8),
    "CosineAnnealingLR(T_max=20)": lambda o: lr_scheduler.CosineAnnealingLR(o, T_max=20),
    "InverseTimeLR(k=0.5)": lambda o: lr_scheduler.InverseTimeLR(o, k=0.5),
}
schedule_runs = {}
for name, make_schedule in schedules.items():
    cr.manual_seed(0)
    model = nn.Linear(2, 1)
    optimizer = optim.SGD(model.parameters(), lr=0.1)
    schedule_runs[name] = fit(
        model,
        nn.MSELoss(),
        optimizer,
        (inputs_std, targets),
        val_data=(inputs_std, targets),
        epochs=20,
        batch_size=1,
        scheduler=make_schedule(optimizer) if make_schedule else None,
        progress=False,
        accuracy=False,
    )

fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.6), layout="constrained")
for name, history in schedule_runs.items():
    epochs = np.arange(1, history.epochs + 1)
    style = {"color": "black", "lw": 2} if name == "constant" else {}
    left.semilogy(epochs, history.lr, label=name.split("(")[0], **style)
    right.semilogy(epochs, np.array(history.val_loss) - minimum, **style)
left.set(xlabel="epoch", ylabel="learning rate (log scale)", title="the schedules")
left.set_xticks([1, 5, 10, 15, 20])
right.set_xticks([1, 5, 10, 15, 20])
left.legend(fontsize=7)
right.set(xlabel="epoch", ylabel="loss - minimum (log scale)")
right.set_title("SGD, one sample per step")
for ax in (left, right):
    ax.grid(alpha=0.3, which="both")
plt.show()

print(f"{'':<31} {'last lr':>8} {'loss - minimum':>15}")
for name, history in schedule_runs.items():
    print(f"{name:<31} {history.lr[-1]:>8.4f} {history.val_loss[-1] - minimum:>15.1e}")

# %% [markdown]
# With a constant rate (black) the loss stops improving after the first few epochs and
# jumps around at the level that the noise of single-sample steps allows. The schedules
# share its first epoch, whose rate is the same $\eta_0$, and then, as their rates fall,
# their losses fall below the constant run's, by orders of magnitude at the end (the table).
# All runs see the samples in the same order (the same seed), which is why their ups and
# downs line up.
#
# Which schedule matters less than the principle: large steps early, while the weights are
# far from any minimum and the gradient's direction is reliable, and small steps late, when
# what is left of the gradient is mostly noise. The faster decays won this short run; in a
# long run, a rate that decays too fast freezes the weights before they arrive, which is
# what `InverseTimeLR`'s slow decay guards against.
#
# ## Summary
#
# - On a quadratic with curvatures $\lambda_i$, gradient descent converges exactly when
#   $\eta < 2 / \lambda_{\max}$; the smallest curvature sets the speed, and their ratio
#   $\kappa$ how hard the problem is. Standardising the inputs makes $\kappa$ small.
# - A learning rate slightly too large can look fine for a while, then the unstable
#   direction takes over. `fit` stops a run whose loss becomes `nan`/`inf` or explodes with
#   `TrainingDiverged`, whose `history` and `loss` let you plot what happened.
# - For networks, find the rate with a short sweep over rates spaced by constant factors:
#   too-small rates barely move, too-large ones end badly, with or without an explosion.
# - Schedules (`StepLR`, `ExponentialLR`, `CosineAnnealingLR`, `InverseTimeLR`) let
#   stochastic gradient descent start fast and still settle close to the minimum.
