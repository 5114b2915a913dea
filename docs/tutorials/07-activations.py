# %% [markdown]
# # Activation functions and vanishing gradients
#
# Every hidden unit applies an activation function $g$ to its weighted input, $a = g(z)$.
# The forward pass needs $g$ to be non-linear, otherwise a deep network collapses into a single
# linear map. The backward pass needs something else: at every layer the deltas are multiplied
# by the slope $g'(z)$, so the derivative decides how much of the error signal reaches the
# early layers.
#
# This tutorial compares four activations (sigmoid, tanh, ReLU and leaky ReLU): their shapes
# and derivatives, what their derivatives do to the gradients of a deep network, how that
# shows in training, and how `chainrule.diagnostics.diagnose` finds vanishing gradients and
# dead ReLU units.

# %%
import matplotlib.pyplot as plt
import numpy as np

import chainrule as cr
from chainrule import nn, optim
from chainrule.data import make_moons
from chainrule.diagnostics import diagnose, layer_gradient_norms
from chainrule.train import GradientNormMonitor, fit

# %% [markdown]
# ## Four activations and their derivatives
#
# $$\sigma(z) = \frac{1}{1 + e^{-z}}, \quad \tanh(z) = \frac{e^z - e^{-z}}{e^z + e^{-z}},$$
#
# $$\operatorname{ReLU}(z) = \max(0, z), \quad \operatorname{LeakyReLU}(z) = \max(\alpha z, z).$$
#
# We do not type in their derivatives: backpropagation computes them. For an elementwise
# function, the gradient of $\sum_i g(z_i)$ with respect to $z$ is the vector of the
# $g'(z_i)$, so `cr.grad` of that sum evaluates $g'$ on a whole grid at once. Leaky ReLU is
# drawn dashed, with $\alpha = 0.1$ so that its slope is visible; `nn.LeakyReLU()` uses $0.01$.

# %%
activations = {
    "sigmoid": cr.sigmoid,
    "tanh": cr.tanh,
    "ReLU": cr.relu,
    "leaky ReLU": nn.LeakyReLU(0.1),
}
colours = {"sigmoid": "tab:purple", "tanh": "tab:blue", "ReLU": "tab:green"}
colours["leaky ReLU"] = "tab:orange"

z = np.linspace(-6, 6, 601)
values, slopes = {}, {}
for name, g in activations.items():
    values[name] = g(cr.tensor(z)).numpy()
    slopes[name] = cr.grad(lambda t, g=g: g(t).sum())(z).numpy()

fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.5), layout="constrained")
for name in activations:
    style = {"color": colours[name], "ls": "--" if name == "leaky ReLU" else "-"}
    left.plot(z, values[name], label=name, **style)
    right.plot(z, slopes[name], label=name, **style)
left.set(xlabel="z", ylabel="g(z)", title="activation", ylim=(-1.5, 3))
right.set(xlabel="z", ylabel="g'(z)", title="derivative (by backpropagation)")
for ax in (left, right):
    ax.axhline(0, color="gray", lw=0.5)
    ax.grid(alpha=0.3)
right.legend(fontsize=8)
plt.show()

print(f"{'':<11} {'max g-prime':>11} {'g-prime at z = 5':>17}")
at5 = np.searchsorted(z, 5.0)
for name in activations:
    print(f"{name:<11} {slopes[name].max():>11.3f} {slopes[name][at5]:>17.4f}")

# %% [markdown]
# Three things matter for the backward pass.
#
# - **Size.** The sigmoid's derivative $\sigma(z)(1 - \sigma(z))$ is at most $1/4$, at $z = 0$.
#   Every sigmoid layer a delta passes through shrinks it by at least a factor of four,
#   before the weights have any say. The derivative of $\tanh$ is $1 - \tanh^2(z)$, which
#   reaches 1 at $z = 0$; ReLU's is exactly 1 for every $z > 0$.
# - **Saturation.** Far from 0, sigmoid and tanh flatten out and their derivatives go to
#   zero (the table shows them at $z = 5$). A unit whose weighted inputs are large has
#   *saturated*: it passes almost no gradient, whatever the error.
# - **Zero regions.** ReLU's derivative is exactly 0 for $z < 0$. A unit that is negative
#   for every input passes no gradient to its own weights; in the first hidden layer, whose
#   inputs are the fixed data, nothing brings it back. Leaky ReLU keeps a small slope
#   $\alpha$ there.
#
# ## Gradients layer by layer in a deep network
#
# Backpropagation through a layer (see [the matrix form](06-matrix-form.md)) is
#
# $$\Delta_{l} = \left( \Delta_{l+1} W_{l+1} \right) \odot g'(Z_{l}),$$
#
# so the deltas of the first layer carry the product of the slopes of all the layers above.
# If each layer scales the signal by roughly the same factor, the gradient changes
# geometrically with depth: it vanishes when the factor is below 1 and explodes when it is
# above 1.
#
# We build the same network, 8 hidden layers of 32 units on the two-moons data, with each
# activation. All four start from the same weights, drawn with He's initialisation (normal
# with variance $2 / \text{fan-in}$, designed for ReLU) and zero biases. Then we measure the
# gradient norm of each linear layer on the whole data set with
# `chainrule.diagnostics.layer_gradient_norms`.

# %%
X, y = make_moons(200, noise=0.2, seed=0)
DEPTH, WIDTH = 8, 32
kinds = {"sigmoid": "sigmoid", "tanh": "tanh", "ReLU": "relu", "leaky ReLU": "leaky_relu"}


def deep_network(kind):
    cr.manual_seed(0)
    model = nn.mlp(2, [WIDTH] * DEPTH, 2, activation=kind)
    for layer in model:
        if isinstance(layer, nn.Linear):
            nn.init.he_normal_(layer.weight)
            nn.init.zeros_(layer.bias)
    return model


loss_fn = nn.CrossEntropyLoss()
norms = {}
for name, kind in kinds.items():
    per_layer = layer_gradient_norms(deep_network(kind), loss_fn, X, y)
    norms[name] = np.array(list(per_layer.values()))

fig, ax = plt.subplots(figsize=(6, 4))
layers = np.arange(1, DEPTH + 2)
for name in kinds:
    ax.semilogy(layers, norms[name], "o-", color=colours[name], label=name)
ax.set_xticks(layers, ["1\n(input)"] + [str(k) for k in layers[1:-1]] + [f"{layers[-1]}\n(output)"])
ax.set(xlabel="linear layer", ylabel="gradient norm (log scale)")
ax.set_title("Gradient norm per layer at initialisation")
ax.grid(alpha=0.3, which="both")
ax.legend(fontsize=8)
plt.show()

ratios = {name: norms[name][0] / norms[name][-1] for name in kinds}
print("first layer's gradient norm / output layer's:")
for name, ratio in ratios.items():
    print(f"  {name:<11} {ratio:.1e}")

# %% [markdown]
# The sigmoid network's curve falls steadily from the output layer towards the input: each
# layer loses a roughly constant factor, and the first layer's gradient is orders of
# magnitude smaller than the output layer's. For tanh, ReLU and leaky ReLU the norms stay
# within about one order of magnitude of each other across all nine layers.
#
# The sigmoid's slope is the culprit. Here the weighted inputs stay within about $\pm 1$,
# where $\sigma'(z) \approx 0.2$, close to its maximum of $1/4$; with He weights each layer
# multiplies the deltas by roughly $\sqrt{2} \cdot 0.22 \approx 0.3$, and eight such layers
# make the factor of about $10^{-5}$ in the table. Saturation would make it worse, but it is
# not needed. Tanh has slope 1 at 0, which is why it behaves so much better with the same
# weights.
#
# ## `diagnose` names the problem
#
# `diagnose(model, loss_fn, X, y)` computes the same per-layer norms and calls a layer
# *vanishing* when its gradient is below $10^{-3}$ of the largest layer's (the threshold is
# the `vanish=` argument), and *exploding* when it is not finite or far above the median. It
# also looks for dead ReLU units, below. Layers are named by their position in the
# `nn.Sequential`: the linear layers are 0, 2, 4, ... and the activations between them 1, 3,
# 5, ...

# %%
print(diagnose(deep_network("sigmoid"), loss_fn, X, y))

# %% [markdown]
# ## Does it matter for training?
#
# A small gradient is not wrong, just slow: the early layers hardly move, and the late layers
# have to work with nearly random features. We train the four networks for 30 epochs with
# plain SGD (adaptive optimisers such as Adam rescale each parameter's step and would hide
# the effect), and record each layer's gradient norm during training with
# `GradientNormMonitor`.

# %%
histories, trained = {}, {}
for name, kind in kinds.items():
    model = deep_network(kind)
    histories[name] = fit(
        model,
        loss_fn,
        optim.SGD(model.parameters(), lr=0.05),
        (X, y),
        epochs=30,
        batch_size=32,
        callbacks=[GradientNormMonitor()],
        progress=False,
    )
    trained[name] = model

fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.5), layout="constrained")
for name, history in histories.items():
    epochs = np.arange(1, len(history.train_loss) + 1)
    left.plot(epochs, history.train_loss, color=colours[name], label=name)
    right.semilogy(epochs, history.grad_norms["0"], color=colours[name], label=name)
left.axhline(np.log(2), color="gray", ls=":", label="chance (log 2)")
left.set(xlabel="epoch", ylabel="training loss (cross-entropy)", title="Training loss")
right.set(xlabel="epoch", ylabel="gradient norm (log scale)", title="First layer's gradient")
for ax in (left, right):
    ax.grid(alpha=0.3, which="both")
left.legend(fontsize=8)
plt.show()

for name, history in histories.items():
    loss, accuracy = history.train_loss[-1], history.train_accuracy[-1]
    print(f"{name:<11} final loss {loss:.3f}, accuracy {accuracy:.0%}")

# %% [markdown]
# The sigmoid network stays at the chance level, $\log 2$: its first layer receives a gradient
# orders of magnitude smaller than the others' during the whole run, and with the same
# learning rate it barely changes. The other three networks learn the two moons. The
# sigmoid's handicap grows with depth: every sigmoid layer added between the input and the
# output divides the first layer's gradient by another factor, as the per-layer plot shows.
#
# ## Dead ReLU units
#
# ReLU does not vanish in the sigmoid's way, but it has its own failure: a unit whose weighted
# input is negative for every training example outputs 0 everywhere and has derivative 0
# everywhere, so its own incoming weights and bias receive no gradient: it can only recover if
# earlier layers happen to change its inputs (never, in the first hidden layer). Such a
# unit is *dead*. `diagnose` runs the data through a `Sequential` layer by layer and reports,
# for each `nn.ReLU` layer, the units that were zero on every sample. We ask it about the
# trained ReLU network.

# %%
relu_net = trained["ReLU"]
report = diagnose(relu_net, loss_fn, X, y)
for entry in report.dead_units:
    print(f"ReLU layer {entry.layer}: {len(entry.dead)} of {entry.units} units dead")

# %% [markdown]
# Some units of the trained network are dead (a few per layer here), a waste of capacity
# rather than a catastrophe in this small example. We can confirm that they receive no
# gradient: the rows of the preceding linear layer's weight gradient that belong to dead
# units are exactly zero.

# %%
first = next(entry for entry in report.dead_units if entry.dead)
linear = relu_net[int(first.layer) - 1]  # the Linear layer just before that ReLU
relu_net.zero_grad()
loss_fn(relu_net(X), y).backward()
row_norms = np.linalg.norm(linear.weight.grad.numpy(), axis=1)
alive = np.setdiff1d(np.arange(first.units), first.dead)
print(f"dead units {first.dead}: largest weight-gradient row norm {row_norms[first.dead].max()}")
print(f"live units: smallest weight-gradient row norm {row_norms[alive].min():.2e}")

# %% [markdown]
# Leaky ReLU's small negative slope is the standard remedy: a unit that is negative
# everywhere still passes $\alpha$ times its delta back, so its weights keep receiving a
# (small) gradient and the unit can recover. Starting from the same weights, we look for
# units of the trained leaky-ReLU network that are negative on every sample, and at their
# gradients.

# %%
leaky_net = trained["leaky ReLU"]
leaky_net.zero_grad()
loss_fn(leaky_net(X), y).backward()
hidden = [i for i, layer in enumerate(leaky_net) if isinstance(layer, nn.Linear)][:-1]
with cr.no_grad():
    signal = cr.tensor(X)
    for position, layer in enumerate(leaky_net):
        signal = layer(signal)  # after a Linear layer: the weighted inputs Z
        if position in hidden:
            negative = np.flatnonzero((signal.numpy() < 0).all(axis=0))
            if negative.size:
                rows = np.linalg.norm(layer.weight.grad.numpy()[negative], axis=1)
                print(
                    f"layer {position}: {negative.size} of {WIDTH} negative on every sample, "
                    f"weight-gradient row norms {rows.min():.1e} to {rows.max():.1e}"
                )

# %% [markdown]
# In a ReLU network these units would be dead. Here their gradients are small, since
# $\alpha = 0.01$ scales the signal they pass back, but not zero: gradient descent can
# still move them back into their active range.
#
# ## What to take away
#
# - Backpropagation multiplies the deltas by $g'(z)$ at every layer, so the activation's
#   derivative sets how gradients scale with depth.
# - The sigmoid's derivative is at most $1/4$, so in deep networks its gradients vanish
#   towards the input (its outputs not being centred adds zig-zag steps besides). Tanh is
#   better; ReLU and leaky ReLU with He initialisation keep the gradient norms of all layers
#   comparable.
# - ReLU units can die (zero on every sample, zero gradient for their own weights); leaky
#   ReLU keeps a small slope that lets them recover.
# - `chainrule.diagnostics.diagnose` reports vanishing or exploding layers and dead ReLU
#   units for a batch; `GradientNormMonitor` records the per-layer norms during `fit`.
#
# Sigmoids remain useful where their range $(0, 1)$ is the point, as the output unit of a
# binary classifier; for many classes the softmax generalises it, see
# [softmax and cross-entropy](08-softmax-cross-entropy.md).
