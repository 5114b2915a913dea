# %% [markdown]
# # Backpropagation, delta by delta
#
# Training a network needs the derivative of the error with respect to every weight.
# Backpropagation computes all of them in one backward sweep: it sends an error signal
# $\delta$ from the output towards the inputs, and each weight's gradient is the $\delta$ of
# the neuron it feeds times the activation that flows along it.
#
# This tutorial works through the smallest network where this is interesting, by hand and
# with chainrule, and checks that the numbers agree:
#
# 1. compute the forward pass neuron by neuron;
# 2. derive the deltas with the chain rule and compute them with NumPy;
# 3. let `cr.explain` show the backward pass node by node, and `backward()` fill `.grad`;
# 4. take one gradient-descent step with the result.

# %%
import matplotlib.pyplot as plt
import numpy as np
from IPython.display import display

import chainrule as cr

# %% [markdown]
# ## The network
#
# Two inputs, two hidden sigmoid neurons and one sigmoid output neuron, without biases (they
# would add nothing new: a bias is a weight whose input is always 1). Hidden neuron $j$
# computes
#
# $$z_j = w_{j1} x_1 + w_{j2} x_2, \quad a_j = \sigma(z_j),$$
#
# the output neuron computes
#
# $$z_3 = v_1 a_1 + v_2 a_2, \quad y = \sigma(z_3),$$
#
# and for one training example with target $t$ the error is
#
# $$E = \frac{1}{2} (y - t)^2.$$
#
# We use the input $x = (0.5, -1.5)$, target $t = 1$ and the weights below. These are the
# numbers of the lectures' worked example, which `chainrule explain` also prints in a
# terminal.
#
# Every number is a zero-dimensional float64 tensor. The six weights are leaves with
# `requires_grad=True`: chainrule records every operation that uses them, so that the
# derivative of $E$ can be traced back to each of them.


# %%
def number(value, grad=False):
    return cr.tensor(value, dtype=np.float64, requires_grad=grad)


x1, x2, t = number(0.5), number(-1.5), 1.0
start = {"w11": 0.1, "w12": 0.4, "w21": -0.3, "w22": 0.25, "v1": 0.7, "v2": -0.5}
w = {name: number(value, grad=True) for name, value in start.items()}

# %% [markdown]
# ## The forward pass
#
# We keep every intermediate result in a variable with a name, including the products
# $w_{ji} x_i$. The names will label the rows of the backward pass later.

# %%
w11x1, w12x2 = w["w11"] * x1, w["w12"] * x2
z1 = w11x1 + w12x2
a1 = cr.sigmoid(z1)

w21x1, w22x2 = w["w21"] * x1, w["w22"] * x2
z2 = w21x1 + w22x2
a2 = cr.sigmoid(z2)

v1a1, v2a2 = w["v1"] * a1, w["v2"] * a2
z3 = v1a1 + v2a2
y = cr.sigmoid(z3)
residual = y - t
squared = residual**2
E = 0.5 * squared

for name, value in [("z1", z1), ("a1", a1), ("z2", z2), ("a2", a2), ("z3", z3), ("y", y)]:
    print(f"{name} = {value.item():+.6f}")
print(f"E  = {E.item():.6f}")

# %% [markdown]
# The output $y$ is barely above one half, far from the target 1, so the error is large.
# Which weights should change, in which direction, and by how much?
#
# ## The deltas by hand
#
# Define the error signal of a neuron as the derivative of the error with respect to its
# weighted input, $\delta = \partial E / \partial z$. For the output neuron the chain rule gives
#
# $$\delta_3 = \frac{\partial E}{\partial y} \frac{\partial y}{\partial z_3} = (y-t) \sigma'(z_3),$$
#
# where the sigmoid's derivative is conveniently written with its own output:
#
# $$\sigma'(z) = \sigma(z) \left( 1 - \sigma(z) \right).$$
#
# The weight $v_j$ enters $E$ only through $z_3$, and $\partial z_3 / \partial v_j = a_j$, so
#
# $$\frac{\partial E}{\partial v_j} = \delta_3 \, a_j.$$
#
# A hidden neuron influences $E$ only through $z_3$, with $\partial z_3 / \partial a_j = v_j$.
# Its delta is the output delta sent back along the outgoing weight and multiplied by the
# neuron's own slope:
#
# $$\delta_j = \sigma'(z_j) \, v_j \, \delta_3.$$
#
# Finally $w_{ji}$ enters only through $z_j$, and $\partial z_j / \partial w_{ji} = x_i$:
#
# $$\frac{\partial E}{\partial w_{ji}} = \delta_j \, x_i.$$
#
# The same pattern holds for every weight in any layer: *delta of the receiving neuron times
# the activation on the sending side*. Here it is in plain NumPy, from the forward values:


# %%
def dsigmoid(a):
    """The sigmoid's derivative, written with its output a = sigma(z)."""
    return a * (1 - a)


x = np.array([x1.item(), x2.item()])
a = np.array([a1.item(), a2.item()])
v = np.array([start["v1"], start["v2"]])
out = y.item()

delta3 = (out - t) * dsigmoid(out)
delta_hidden = dsigmoid(a) * v * delta3

by_hand = {
    "v1": delta3 * a[0],
    "v2": delta3 * a[1],
    "w11": delta_hidden[0] * x[0],
    "w12": delta_hidden[0] * x[1],
    "w21": delta_hidden[1] * x[0],
    "w22": delta_hidden[1] * x[1],
}
print(f"delta3 = {delta3:+.6f}")
print(f"delta1 = {delta_hidden[0]:+.6f}, delta2 = {delta_hidden[1]:+.6f}")
for name, value in by_hand.items():
    print(f"dE/d{name:<3} = {value:+.6f}")

# %% [markdown]
# Read the signs. $\delta_3 < 0$: increasing $z_3$ would lower the error, as it should, since
# $y$ is too small. Both $\partial E / \partial v_j$ are negative, so gradient descent
# ($v_j \leftarrow v_j - \eta \, \partial E / \partial v_j$) will increase both output weights.
# The hidden deltas have opposite signs because $v_1 > 0$ and $v_2 < 0$: the first hidden
# neuron should become more active, the second less.
#
# Notice also how small the hidden deltas are compared with $\delta_3$. Each passage through a
# sigmoid multiplies the signal by $\sigma'(z) \le 1/4$, and here also by $|v_j| < 1$.
# Repeated over many layers this shrinking is the vanishing gradient problem of
# [the activations tutorial](07-activations.md).

# %% [markdown]
# ## The backward pass, node by node
#
# `cr.explain(E, names=...)` walks the recorded graph exactly as `backward()` does, in reverse
# order, but writes no `.grad`. For every node it shows the operation, its forward value, the
# $\delta$ it received (the derivative of $E$ with respect to that node), the local derivative
# of the node with respect to each input, and what it passes on: $\delta$ times the local
# derivative. Read it from the top.

# %%
names = {
    **w, "x1": x1, "x2": x2,
    "z1": z1, "a1": a1, "z2": z2, "a2": a2, "z3": z3, "y": y,
    "y-t": residual, "(y-t)^2": squared, "E": E,
    "w11*x1": w11x1, "w12*x2": w12x2, "w21*x1": w21x1, "w22*x2": w22x2,
    "v1*a1": v1a1, "v2*a2": v2a2,
}  # fmt: skip
explanation = cr.explain(E, names=names)
display(explanation)

# %% [markdown]
# The first rows go from $E$ down to $z_3$: the $\delta$ that reaches $y$ is $y - t$, and the
# sigmoid node multiplies it by its local derivative $\sigma'(z_3)$, giving $\delta_3$. An
# addition passes its $\delta$ unchanged to both summands (local derivative 1), and a product
# $v_1 a_1$ passes $\delta \cdot a_1$ to $v_1$ and $\delta \cdot v_1$ to $a_1$. That is the
# whole rule book: every row is one application of the chain rule with a local derivative that
# only needs the node's own inputs.
#
# The rows whose nodes we named $z_j$ carry the neuron deltas, and the leaves at the bottom
# receive the weight gradients. Each step is also available as data, so we can compare it with
# the NumPy computation:

# %%
print(f"{'':>6} {'by hand':>12} {'cr.explain':>12}")
for label, hand in [("z3", delta3), ("z1", delta_hidden[0]), ("z2", delta_hidden[1])]:
    print(f"{label:>6} {hand:+12.6f} {explanation[label].delta.item():+12.6f}")

# %% [markdown]
# ## `backward()` gives the same gradients
#
# `E.backward()` runs the same sweep and accumulates each leaf's $\delta$ into its `.grad`.
# The three columns below agree to every printed digit; the last one shows how far apart the
# hand computation and `backward()` are in float64.

# %%
E.backward()
print(f"{'weight':>6} {'by hand':>12} {'explain':>12} {'backward':>12} {'difference':>11}")
for name, hand in by_hand.items():
    explained = explanation[name].delta.item()
    automatic = w[name].grad.item()
    print(
        f"{name:>6} {hand:+12.6f} {explained:+12.6f} {automatic:+12.6f} "
        f"{abs(hand - automatic):11.1e}"
    )

# %% [markdown]
# ## The whole picture
#
# The diagram puts the numbers on the network: the forward values $z$ and $a$ in each neuron,
# its $\delta$ in green next to it, and on each connection its weight and the gradient of $E$
# with respect to it. Every edge's gradient is the $\delta$ at its right end times the
# activation at its left end.

# %%
positions = {"x1": (0, 1), "x2": (0, -1), "h1": (3, 1), "h2": (3, -1), "out": (6, 0)}
edges = {"w11": ("x1", "h1"), "w12": ("x2", "h1"), "w21": ("x1", "h2"), "w22": ("x2", "h2")}
edges.update({"v1": ("h1", "out"), "v2": ("h2", "out")})
# Where along each edge its label sits (the crossing edges get theirs near the inputs).
label_at = {"w11": 0.5, "w12": 0.3, "w21": 0.3, "w22": 0.5, "v1": 0.5, "v2": 0.5}
inside = {
    "x1": f"$x_1$\n{x[0]:g}",
    "x2": f"$x_2$\n{x[1]:g}",
    "h1": f"z = {z1.item():.3f}\na = {a[0]:.3f}",
    "h2": f"z = {z2.item():.3f}\na = {a[1]:.3f}",
    "out": f"z = {z3.item():.3f}\ny = {out:.3f}",
}
delta_of = {"h1": (delta_hidden[0], 1), "h2": (delta_hidden[1], -1), "out": (delta3, -1)}

fig, ax = plt.subplots(figsize=(9, 4.5))
for weight, (tail, head) in edges.items():
    (xa, ya), (xb, yb) = positions[tail], positions[head]
    gradient = w[weight].grad.item()
    ax.plot([xa, xb], [ya, yb], color="tab:red" if gradient < 0 else "tab:blue", lw=2, zorder=1)
    s = label_at[weight]
    ax.text(
        xa + s * (xb - xa),
        ya + s * (yb - ya),
        f"{weight} = {start[weight]:g}\ngrad {gradient:+.4f}",
        ha="center",
        va="center",
        fontsize=8,
        bbox={"facecolor": "white", "edgecolor": "lightgray", "alpha": 0.95},
        zorder=3,
    )
for node, (px, py) in positions.items():
    ax.add_patch(plt.Circle((px, py), 0.42, facecolor="lightyellow", edgecolor="black", zorder=2))
    ax.text(px, py, inside[node], ha="center", va="center", fontsize=8, zorder=4)
    if node in delta_of:
        delta, side = delta_of[node]
        ax.text(
            px,
            py + side * 0.5,
            f"δ = {delta:+.4f}",
            ha="center",
            va="bottom" if side > 0 else "top",
            fontsize=9,
            color="darkgreen",
        )
ax.text(6, 0.5, f"t = {t:g}\nE = {E.item():.4f}", ha="center", va="bottom", fontsize=9)
ax.set_xlim(-0.6, 6.8)
ax.set_ylim(-1.9, 1.9)
ax.set_aspect("equal")
ax.axis("off")
ax.set_title("Forward values, deltas (green) and gradients (red edge: < 0, blue: > 0)")
plt.show()

# %% [markdown]
# ## One step of gradient descent
#
# The gradient says how to change each weight to lower $E$ fastest. Gradient descent moves
# every weight a small step against its gradient:
#
# $$w \leftarrow w - \eta \, \frac{\partial E}{\partial w}.$$
#
# To first order, such a step changes the error by $-\eta$ times the sum of the squared
# gradients, so it must lower $E$ when $\eta$ is small enough. We take the step for a few
# learning rates $\eta$, under `cr.no_grad()` so that the update is not recorded, and compare
# the predicted change with the actual one.


# %%
def error(weights):
    """The forward pass again, as one function of the weights."""
    h1 = cr.sigmoid(weights["w11"] * x1 + weights["w12"] * x2)
    h2 = cr.sigmoid(weights["w21"] * x1 + weights["w22"] * x2)
    output = cr.sigmoid(weights["v1"] * h1 + weights["v2"] * h2)
    return 0.5 * (output - t) ** 2


squared_norm = sum(p.grad.item() ** 2 for p in w.values())
print(f"E before the step: {E.item():.6f}")
print(f"{'eta':>5} {'predicted change':>17} {'actual change':>14}")
with cr.no_grad():
    for lr in [0.1, 1.0, 10.0]:
        stepped = {name: p - lr * p.grad for name, p in w.items()}
        change = error(stepped).item() - E.item()
        print(f"{lr:>5g} {-lr * squared_norm:>17.6f} {change:>14.6f}")

# %% [markdown]
# Every step lowers the error. For a small step the first-order prediction is nearly exact;
# the larger the step, the more the curvature of $E$ matters and the less the prediction
# holds. How large a learning rate may be is the subject of
# [learning rates](10-learning-rates.md). Repeating forward pass, backward pass and step is
# all that training a network does.
#
# ## A note on signs
#
# Some lecture notes define the error signal with the opposite sign,
# $\delta = -\partial E / \partial z$, so that the update reads
# $w \leftarrow w + \eta \, \delta \, x$. Nothing else changes: the deltas in such notes are
# the numbers above, negated. `cr.explain` always shows $\partial E / \partial(\text{node})$.
#
# ## What to take away
#
# - A neuron's delta is the delta of the neurons it feeds, sent back along the connecting
#   weights and multiplied by its own slope $\sigma'(z)$.
# - A weight's gradient is the delta at its receiving end times the activation at its sending
#   end.
# - `cr.explain` shows every step of the sweep; `backward()` performs it and fills `.grad`.
#
# How to check any gradient against finite differences is the subject of
# [gradient checking](05-gradient-checking.md); doing this for whole layers at once with
# matrices is [the matrix form](06-matrix-form.md).
