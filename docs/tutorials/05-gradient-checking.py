# %% [markdown]
# # Gradient checking
#
# A wrong gradient rarely announces itself. The loss may still go down for a while, just more
# slowly than it should, and you are left wondering whether the learning rate, the data or
# the code is to blame. The remedy is old and simple: compare the gradient with the
# definition of the derivative, computed numerically by nudging each input a little.
#
# This tutorial shows
#
# - how finite differences approximate a derivative, and why the central difference beats
#   the forward one;
# - how to choose the step $h$, and why the check must run in float64;
# - `cr.numerical_grad` and `cr.gradcheck` on functions, including a real bug they catch and
#   a false alarm at a kink;
# - `cr.gradcheck_model`, which checks every parameter of a network and names the one that
#   is wrong.

# %%
import matplotlib.pyplot as plt
import numpy as np

import chainrule as cr
from chainrule import nn
from chainrule.data import make_blobs

# %% [markdown]
# ## Two finite differences
#
# The derivative is the limit of a difference quotient. Stopping before the limit, at a small
# step $h$, gives the **forward difference**
#
# $$f'(x) \approx \frac{f(x + h) - f(x)}{h},$$
#
# and, evaluating on both sides of $x$, the **central difference**
#
# $$f'(x) \approx \frac{f(x + h/2) - f(x - h/2)}{h}.$$
#
# A Taylor expansion tells how wrong they are. For the forward difference the first neglected
# term is $\frac{h}{2} f''(x)$, so its error shrinks in proportion to $h$. In the central
# difference the $f''$ terms of both sides cancel, and what is left is
# $\frac{h^2}{24} f'''(x)$: the error shrinks with $h^2$.
#
# `cr.numerical_grad(fun, x, method=..., eps=...)` computes either one for every element of
# `x`, in float64. Its `eps` is a *relative* step: element $x_i$ is moved by
# $h = \varepsilon \max(|x_i|, 1)$. We try it on $f(x) = x \tanh(x)$ at $x = 0.7$, whose exact
# derivative is $\tanh(x) + x \left( 1 - \tanh^2(x) \right)$.


# %%
def f(x):
    return (x * cr.tanh(x)).sum()


x0 = np.array([0.7])
exact = np.tanh(0.7) + 0.7 * (1 - np.tanh(0.7) ** 2)

print(f"exact      {exact:.12f}")
for method in ["forward", "central"]:
    estimate = cr.numerical_grad(f, x0, method=method, eps=1e-3)[0][0]
    print(f"{method:<10} {estimate:.12f}   error {abs(estimate - exact):.1e}")

# %% [markdown]
# With the same step $h = 10^{-3}$ the central difference is several orders of magnitude
# closer. It needs two evaluations of $f$ per element, where the forward difference needs one
# plus an $f(x)$ shared by all elements: at most twice the work, for far more accuracy.
#
# ## How small should $h$ be?
#
# Making $h$ smaller reduces the truncation error, but a computer stores numbers with about
# 16 significant digits in float64 (machine epsilon
# $\varepsilon_{64} \approx 2.2 \cdot 10^{-16}$) and only about 7 in float32
# ($\varepsilon_{32} \approx 1.2 \cdot 10^{-7}$).
# $f(x + h)$ and $f(x)$ agree in more and more leading digits as $h$ shrinks, and their
# difference keeps only the few digits in which they differ. This rounding error grows like
# $\varepsilon / h$.
#
# The left panel sweeps $h$ over twelve orders of magnitude with `cr.numerical_grad`. The
# right panel repeats the central difference by hand in float32 with NumPy, because
# chainrule's checks always work in float64 (float32 inputs are converted, with a warning).

# %%
steps = np.logspace(-1, -13, 61)
errors = {"forward": [], "central": []}
for h in steps:
    for method in errors:
        estimate = cr.numerical_grad(f, x0, method=method, eps=h)[0][0]
        errors[method].append(abs(estimate - exact) / abs(exact))


def central32(x, h):
    """The central difference of x tanh(x) with every number in float32."""
    x, h = np.float32(x), np.float32(h)
    upper, lower = x + h / 2, x - h / 2
    return (upper * np.tanh(upper) - lower * np.tanh(lower)) / h


errors32 = [abs(central32(0.7, h) - exact) / abs(exact) for h in steps]

fig, (left, right) = plt.subplots(1, 2, figsize=(9.5, 4), sharey=True)
left.loglog(steps, errors["forward"], ".-", label="forward difference")
left.loglog(steps, errors["central"], ".-", label="central difference")
left.loglog(steps, 0.5 * steps, ":", color="gray", label="slope 1 ($h$)")
left.loglog(steps, 0.05 * steps**2, "--", color="gray", label="slope 2 ($h^2$)")
left.axvline(np.finfo(np.float64).eps ** (1 / 3), color="tab:green", lw=1)
left.text(9e-6, 3e-16, " default $h$", color="tab:green", fontsize=9)
left.set_title("float64 (cr.numerical_grad)")
right.loglog(steps, errors["central"], ".-", color="tab:orange", label="central, float64")
right.loglog(steps, errors32, ".-", color="tab:red", label="central, float32")
right.set_title("float32 versus float64")
for ax in (left, right):
    ax.set_xlabel("step $h$")
    ax.set_ylim(1e-16, 10)
    ax.invert_xaxis()
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower left")
left.set_ylabel("relative error of $f'(0.7)$")
plt.tight_layout()
plt.show()

# %% [markdown]
# Read the plot from left to right, as $h$ shrinks. Each curve first falls along its
# truncation line (slope 1 for forward, slope 2 for central), then turns around when rounding
# takes over and rises again, noisily, like $\varepsilon / h$. The best step balances the two
# errors:
#
# - forward: $h \approx \sqrt{\varepsilon}$, about $10^{-8}$ in float64, with an error of
#   about $10^{-8}$;
# - central: $h \approx \varepsilon^{1/3}$, about $6 \cdot 10^{-6}$ in float64, with an
#   error of about $10^{-11}$ or less.
#
# That is why chainrule's default relative step is $\varepsilon_{64}^{1/3}$ (the green line)
# and its default method is the central difference. In float32 (right) even the best step
# leaves an error of roughly $10^{-5}$, and below $h \approx 10^{-7}$ the two evaluation
# points round to the same number, so the estimate is 0 and the error is 100%. A gradient
# check in float32 could not tell a small bug from rounding noise; this is why
# `cr.gradcheck` and friends always work in float64.
#
# ## Checking a gradient with `cr.gradcheck`
#
# `cr.gradcheck(fun, *inputs)` computes the gradient of a scalar function with `backward()`,
# the same gradient with `cr.numerical_grad`, and compares them element by element. An
# element passes when
#
# $$|a - n| \le \text{atol} + \text{rtol} \cdot |n|,$$
#
# where $a$ is the analytic and $n$ the numerical value, with $\text{atol} = 10^{-6}$ and
# $\text{rtol} = 10^{-4}$ by default. The report is true or
# false, and prints as a table with the worst element of each input. Here is one layer of
# tanh units with a weighted sum on top, checked with respect to both the weights and the
# input:

# %%
rng = np.random.default_rng(0)
W = rng.standard_normal((3, 2))
x = np.array([0.5, -1.0])
u = np.array([1.0, -2.0, 0.5])


def layer(W, x):
    return (u * cr.tanh(W @ x)).sum()


report = cr.gradcheck(layer, W, x)
print(report)

# %% [markdown]
# Both inputs pass with errors around $10^{-11}$, the size the plot predicts for the central
# difference at the default step. Automatic differentiation gets this right by construction;
# what a check catches is *your* code around it.
#
# ## A bug that `gradcheck` catches
#
# Suppose we want the unit vector $x / \lVert x \rVert$ and, to save work, compute the norm
# as a plain Python number with `float(...)`. The value is correct, but `float` leaves the
# recorded graph: `backward()` treats the norm as a constant and misses the part of the
# gradient that flows through it.


# %%
def projection_buggy(x):
    norm = float(cr.sqrt((x * x).sum()))  # a constant for backward()
    return (u * (x / norm)).sum()


def projection_fixed(x):
    norm = cr.sqrt((x * x).sum())  # a tensor: its gradient is recorded
    return (u * (x / norm)).sum()


x3 = np.array([0.5, -1.0, 2.0])
print(cr.gradcheck(projection_buggy, x3))
print()
print(cr.gradcheck(projection_fixed, x3))

# %% [markdown]
# The buggy version fails with an error of the same size as the gradient itself; the fixed
# one passes. The forward values of the two functions are identical, which is exactly why
# such a bug survives until something compares gradients.
#
# ## A false alarm at a kink
#
# A failed check does not always mean a bug. ReLU has no derivative at 0, and chainrule
# (like other libraries) uses the slope of one side there. If an input lies closer to the
# kink than half the step, the central difference straddles it and returns an average of
# the two slopes:

# %%
near_kink = np.array([1e-7, 0.5, -0.3])
print(cr.gradcheck(lambda x: cr.relu(x).sum(), near_kink))

# %% [markdown]
# The element at $10^{-7}$ fails: the analytic derivative is 1, the numerical one about a half.
# Neither is wrong; the function is simply not differentiable within $h$ of that point. When a
# check fails, look at the worst element's input first: if it sits at a kink of ReLU, `abs`,
# `max` or a hinge loss, move the test point away from it. Random inputs of a network land
# exactly on a kink with probability zero, but close to one often enough to matter for
# large layers.
#
# ## Checking a whole network with `cr.gradcheck_model`
#
# For a model, the inputs to vary are its parameters. `cr.gradcheck_model(model, loss_fn,
# x, y)` copies every parameter to float64 for the duration of the check, computes
# `loss_fn(model(x), y)`, and compares `backward()` with central differences for each
# parameter tensor. A small network on a dozen points is checked in a moment:

# %%
cr.manual_seed(0)
X, y = make_blobs(12, centers=3, seed=0)
model = nn.mlp(2, [5], 3, activation="tanh")
print(cr.gradcheck_model(model, nn.CrossEntropyLoss(), X, y))

# %% [markdown]
# Every parameter passes. The model's own parameters were float32; the check ran on float64
# copies and put the originals back afterwards.
#
# Now the same mistake as above inside a layer: a module that scales each sample's hidden
# vector to unit length, with the norm detached from the graph by `.detach()`.


# %%
class UnitLength(nn.Module):
    """Scale each row to length 1 (with a bug: the norm is detached)."""

    def forward(self, h):
        norm = cr.sqrt((h * h).sum(axis=1, keepdims=True))
        return h / norm.detach()


cr.manual_seed(0)
buggy = nn.Sequential(nn.Linear(2, 5), nn.Tanh(), UnitLength(), nn.Linear(5, 3))
report = cr.gradcheck_model(buggy, nn.CrossEntropyLoss(), X, y)
print(report)
print()
print("parameters that fail:", [p.name for p in report.parameters if not p.passed])

# %% [markdown]
# The report localises the bug. The last layer's parameters pass: the gradient flowing into
# them does not go through the broken normalisation. Everything *before* `UnitLength` fails,
# so the faulty backward step lies between layer 0 and layer 3. In a large network the
# same reading, first failing parameter from the output backwards, narrows the search to
# one module.
#
# ## Practical advice
#
# - Check in float64, with the central difference and the default step. The checks do this
#   for you.
# - Check on a tiny network and a handful of samples: each parameter element costs two
#   forward passes. For big layers, `gradcheck_model(..., max_elements=20)` checks a random
#   subset of each parameter.
# - Turn off randomness (dropout) during the check; `gradcheck_model` puts the model in
#   evaluation mode for you.
# - A failure at a single element near a kink is a false alarm; a failure of a whole layer is
#   a bug.
#
# The gradients being checked here are the ones [backpropagation](04-backpropagation.md)
# computes; [the matrix form](06-matrix-form.md) writes them for a whole layer at once, and
# uses `cr.numerical_grad` to check a hand-written implementation.
