# %% [markdown]
# # Backpropagation in matrix form, and shared parameters
#
# [Backpropagation, delta by delta](04-backpropagation.md) followed one example through a
# network written neuron by neuron. Real networks are written layer by layer, and they
# process a whole batch of examples at once. Then every quantity of the backward pass becomes
# a matrix, and each step of backpropagation becomes one matrix product.
#
# This tutorial derives those matrix formulas, implements them in NumPy, and checks them
# against chainrule's `backward()` and against finite differences. The second half is about
# a parameter used in two places at once: its gradients add up.

# %%
import matplotlib.pyplot as plt
import numpy as np

import chainrule as cr
from chainrule import nn, optim
from chainrule.data import make_encoder, make_moons

# %% [markdown]
# ## One layer, a whole batch
#
# Stack the $N$ examples of a batch as the rows of a matrix $X$ of shape $N \times D$. A
# layer of $H$ neurons has one weight vector per neuron, stacked as the rows of $W$
# ($H \times D$), and a bias vector $b$ of length $H$. The weighted inputs of all neurons
# for all examples are
#
# $$Z = X W^\top + \mathbf{1} b^\top,$$
#
# an $N \times H$ matrix whose entry $z_{nj} = \sum_i w_{ji} x_{ni} + b_j$ is neuron $j$'s
# weighted input for example $n$. The term $\mathbf{1} b^\top$ adds $b$ to every row, which
# NumPy's broadcasting does when we write `X @ W.T + b`. This is exactly the convention of
# `nn.Linear`: its weight has shape (out, in).

# %%
X, labels = make_moons(6, noise=0.1, seed=0)
X = X.astype(np.float64)
T = labels.reshape(-1, 1).astype(np.float64)  # targets as a column, N x 1

cr.manual_seed(0)
model = nn.Sequential(
    nn.Linear(2, 3, dtype=np.float64),
    nn.Tanh(),
    nn.Linear(3, 1, dtype=np.float64),
)
W1, b1 = model[0].weight.numpy(), model[0].bias.numpy()
W2, b2 = model[2].weight.numpy(), model[2].bias.numpy()
print("X", X.shape, " W1", W1.shape, " b1", b1.shape, " W2", W2.shape, " b2", b2.shape)

# %% [markdown]
# Our network has $D = 2$ inputs, $H = 3$ tanh units and one linear output, for a batch of
# $N = 6$ points of the two-moons data. With the error summed over the batch,
#
# $$E = \frac{1}{2} \sum_{n} (y_n - t_n)^2,$$
#
# the forward pass is four lines of NumPy. We check it against the model's own output.

# %%
Z1 = X @ W1.T + b1  # N x H
A1 = np.tanh(Z1)  # N x H
Y = A1 @ W2.T + b2  # N x 1
E = 0.5 * np.sum((Y - T) ** 2)

out = model(X)
loss = 0.5 * ((out - T) ** 2).sum()
print(f"E by hand {E:.10f}, E from the model {loss.item():.10f}")

# %% [markdown]
# ## Deltas as matrices
#
# As before, the delta of a neuron is $\partial E / \partial z$, now one for every neuron
# *and every example*. Collect them in a matrix of the same shape as $Z$: row $n$ holds the
# deltas of example $n$. With a linear output and the summed squared error, the output
# deltas are simply the residuals:
#
# $$\Delta_2 = Y - T \quad (N \times 1).$$
#
# Each hidden delta of the neuron-by-neuron version,
# $\delta_j = g'(z_j) \sum_k v_{kj} \delta_k$, sends the deltas of the next layer back
# through its weights and multiplies by the unit's slope. For all units and examples at
# once, that is a matrix product followed by an elementwise product $\odot$:
#
# $$\Delta_1 = \left( \Delta_2 W_2 \right) \odot g'(Z_1) \quad (N \times H),$$
#
# with $g'(z) = 1 - \tanh^2(z)$ here. Note the direction: forward multiplies by $W^\top$,
# backward by $W$.
#
# A weight $w_{ji}$ receives, from each example, the delta at its receiving end times the
# activation at its sending end, and the batch gradient is the sum over the examples. Summed
# over $n$, the products $\delta_{nj} a_{ni}$ form a matrix product:
#
# $$\frac{\partial E}{\partial W_2} = \Delta_2^\top A_1,$$
#
# $$\frac{\partial E}{\partial W_1} = \Delta_1^\top X.$$
#
# A bias has input 1, so its gradient is the column sum of the deltas:
#
# $$\frac{\partial E}{\partial b} = \Delta^\top \mathbf{1}.$$
#
# The shapes check themselves: $\Delta_1^\top X$ is $(H \times N)(N \times D) = H \times D$,
# the shape of $W_1$. If the shapes do not fit, the formula is wrong.

# %%
Delta2 = Y - T  # N x 1
Delta1 = (Delta2 @ W2) * (1 - A1**2)  # N x H

by_hand = {
    "0.weight": Delta1.T @ X,
    "0.bias": Delta1.sum(axis=0),
    "2.weight": Delta2.T @ A1,
    "2.bias": Delta2.sum(axis=0),
}

loss.backward()
print(f"{'parameter':<10} {'shape':<8} {'max |hand - backward|':>22}")
for name, p in model.named_parameters():
    difference = np.abs(by_hand[name] - p.grad.numpy()).max()
    print(f"{name:<10} {str(p.shape):<8} {difference:>22.1e}")

# %% [markdown]
# The hand-written matrix formulas and chainrule's `backward()` agree: any difference is at
# the level of float64 rounding, if not exactly zero. This is no coincidence, since
# `nn.Linear`'s backward step computes the very same products.
#
# ## A picture of one product
#
# The figure shows the last formula for the first layer with the actual numbers: the
# transposed delta matrix (one column per example) times the input matrix (one row per
# example) gives the gradient of $W_1$. Entry $(j, i)$ of the result is the dot product of
# unit $j$'s deltas with input feature $i$, over the six examples.

# %%
fig, axes = plt.subplots(
    1, 3, figsize=(9, 3.2), gridspec_kw={"width_ratios": [6, 2, 2]}, layout="constrained"
)
panels = [
    (Delta1.T, r"$\Delta_1^\top$ (H x N)", "example n", "hidden unit j"),
    (X, r"$X$ (N x D)", "input i", "example n"),
    (Delta1.T @ X, r"$\partial E / \partial W_1$ (H x D)", "input i", "hidden unit j"),
]
for ax, (matrix, title, xlabel, ylabel) in zip(axes, panels):
    limit = np.abs(matrix).max()
    ax.imshow(matrix, cmap="coolwarm", vmin=-limit, vmax=limit, aspect="auto")
    for (row, column), value in np.ndenumerate(matrix):
        ax.text(column, row, f"{value:.2f}", ha="center", va="center", fontsize=8)
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    ax.set_xticks(range(matrix.shape[1]))
    ax.set_yticks(range(matrix.shape[0]))
fig.suptitle("The gradient of the first layer's weights is one matrix product")
plt.show()

# %% [markdown]
# The same sum written as a loop over the examples makes the meaning explicit: the batch
# gradient is the sum of the per-example gradients, each an outer product of that example's
# delta vector and input vector.

# %%
per_example = sum(np.outer(Delta1[n], X[n]) for n in range(len(X)))
print("sum of outer products equals Delta1.T @ X:", np.allclose(per_example, Delta1.T @ X))

# %% [markdown]
# If the loss were the *mean* over the batch, as `nn.MSELoss` computes it, every delta and
# every gradient would simply be divided by $N$ (and `nn.MSELoss` drops the factor
# $\frac{1}{2}$, which doubles them).
#
# ## Checking the hand-written version numerically
#
# `backward()` agreeing with our formulas is reassuring, but both could share a
# misconception. The definition of the derivative settles it. `cr.numerical_grad` perturbs
# each entry of $W_1$ in float64 and measures the change of $E$ (see
# [gradient checking](05-gradient-checking.md)):


# %%
def error_of(W1_):
    hidden = cr.tanh(X @ W1_.T + b1)
    return 0.5 * (((hidden @ W2.T + b2) - T) ** 2).sum()


numerical = cr.numerical_grad(error_of, W1)[0]
relative = np.abs(numerical - by_hand["0.weight"]).max() / np.abs(numerical).max()
print(f"largest difference, relative to the largest gradient entry: {relative:.1e}")

# %% [markdown]
# A relative difference many orders of magnitude below 1, at the level of finite-difference
# noise, confirms the formula.
#
# ## Shared parameters: the gradients add up
#
# Sometimes the same parameter is used in more than one place: the same weights applied at
# every time step of a recurrent network, the same filter at every position of a
# convolution, or an autoencoder whose decoder uses the transpose of the encoder's weights
# ("tied weights"). What is the gradient of such a parameter?
#
# Give each use its own name, $\theta_a$ and $\theta_b$, and set both equal to $\theta$. The
# multivariable chain rule says
#
# $$\partial E / \partial \theta = \partial E / \partial \theta_a + \partial E / \partial \theta_b$$
#
# because $\partial \theta_a / \partial \theta = \partial \theta_b / \partial \theta = 1$.
#
# Each use sends its own gradient, and the parameter receives their sum. chainrule does this
# automatically: `backward()` adds up the gradients flowing into every use of a tensor.
#
# Here is a tied autoencoder. The encoder computes $A = \sigma(X W^\top + c)$ and the decoder
# reconstructs $\hat{X} = A W + d$ with the *same* $W$ ($H \times D$). We compute the
# gradient of $W$ three ways: with `backward()` on the tied model, as the sum of the two
# matrix-form contributions, and with two separate copies of $W$ whose gradients we add.


# %%
class TiedAutoencoder(nn.Module):
    """Encoder and decoder share one weight matrix: the decoder uses its transpose."""

    def __init__(self, features, hidden, dtype=None):
        super().__init__()
        self.weight = nn.Parameter(0.5 * cr.randn(hidden, features, dtype=dtype))
        self.hidden_bias = nn.Parameter(cr.zeros(hidden, dtype=dtype))
        self.output_bias = nn.Parameter(cr.zeros(features, dtype=dtype))

    def encode(self, x):
        return cr.sigmoid(x @ self.weight.T + self.hidden_bias)

    def forward(self, x):
        return self.encode(x) @ self.weight + self.output_bias


cr.manual_seed(1)
Xa = np.random.default_rng(1).standard_normal((5, 4))
tied = TiedAutoencoder(4, 2, dtype=np.float64)
reconstruction = tied(Xa)
(0.5 * ((reconstruction - Xa) ** 2).sum()).backward()

# The two contributions in matrix form.
Wt, c, d = tied.weight.numpy(), tied.hidden_bias.numpy(), tied.output_bias.numpy()
A = 1 / (1 + np.exp(-(Xa @ Wt.T + c)))
Delta_out = A @ Wt + d - Xa  # N x D, deltas of the linear outputs
Delta_hid = (Delta_out @ Wt.T) * A * (1 - A)  # N x H
from_decoder = A.T @ Delta_out  # H x D
from_encoder = Delta_hid.T @ Xa  # H x D


# Two separate copies of W with the same values.
def untied_error(W_enc, W_dec):
    hidden = cr.sigmoid(Xa @ W_enc.T + c)
    return 0.5 * ((hidden @ W_dec + d - Xa) ** 2).sum()


g_enc, g_dec = cr.grad(untied_error, argnums=(0, 1))(Wt, Wt)

gradient = tied.weight.grad.numpy()
parts = from_encoder + from_decoder
copies = g_enc.numpy() + g_dec.numpy()
print("backward() = encoder part + decoder part:", np.allclose(gradient, parts))
print("backward() = sum over the two copies:    ", np.allclose(gradient, copies))
print(f"norm of the encoder part {np.linalg.norm(from_encoder):.3f}")
print(f"norm of the decoder part {np.linalg.norm(from_decoder):.3f}")

# %% [markdown]
# All three agree. Neither part is small next to the other, so forgetting either use would
# give a plainly wrong gradient.
#
# The same addition has a consequence that surprises many: calling `backward()` a second time
# *adds* the new gradient to `.grad` instead of replacing it. To the library a second backward
# pass is just another use. This is why every training loop calls `optimizer.zero_grad()`
# (or `model.zero_grad()`) before each backward pass.

# %%
first = tied.weight.grad.numpy().copy()
(0.5 * ((tied(Xa) - Xa) ** 2).sum()).backward()
twice = np.allclose(tied.weight.grad.numpy(), 2 * first)
print("after a second backward(), .grad is twice the first:", twice)
tied.zero_grad()
print("after zero_grad():", tied.weight.grad)

# %% [markdown]
# ## Training with tied weights
#
# Sharing is not only a curiosity of the gradient: it halves the weights of an autoencoder.
# The classic test is the 8-3-8 encoder problem: eight one-hot patterns must pass through
# three hidden units and come out again, so the network must invent a 3-bit code. We train a
# tied and an untied autoencoder on it (cross-entropy on the eight outputs, Adam, full batch)
# with the plain loop that every trainer runs: zero the gradients, forward, backward, step.


# %%
class UntiedAutoencoder(nn.Module):
    def __init__(self, features, hidden):
        super().__init__()
        self.encoder = nn.Linear(features, hidden)
        self.decoder = nn.Linear(hidden, features)

    def encode(self, x):
        return cr.sigmoid(self.encoder(x))

    def forward(self, x):
        return self.decoder(self.encode(x))


patterns, _ = make_encoder(8)
which = np.arange(8)  # pattern k must be reconstructed as class k
loss_fn = nn.CrossEntropyLoss()
curves = {}
for name, build in [("tied", TiedAutoencoder), ("untied", UntiedAutoencoder)]:
    cr.manual_seed(0)
    network = build(8, 3)
    optimizer = optim.Adam(network.parameters(), lr=0.1)
    curves[name] = []
    for _ in range(300):
        optimizer.zero_grad()
        loss = loss_fn(network(patterns), which)
        loss.backward()
        optimizer.step()
        curves[name].append(loss.item())
    size = sum(p.numpy().size for p in network.parameters())
    with cr.no_grad():
        correct = int((network(patterns).numpy().argmax(axis=1) == which).sum())
    print(f"{name:<6} {size} parameters, final loss {curves[name][-1]:.4f}, {correct}/8 correct")
    if name == "tied":
        with cr.no_grad():
            codes = network.encode(patterns).numpy()

# %%
fig, (left, right) = plt.subplots(
    1, 2, figsize=(9, 3.6), gridspec_kw={"width_ratios": [3, 2]}, layout="constrained"
)
for name, curve in curves.items():
    left.semilogy(curve, label=name)
left.set(xlabel="step", ylabel="cross-entropy (log scale)", title="Training the 8-3-8 encoder")
left.legend()
left.grid(alpha=0.3)
right.imshow(codes, cmap="Greys", vmin=0, vmax=1)
for (row, column), value in np.ndenumerate(codes):
    colour = "white" if value > 0.5 else "black"
    right.text(column, row, f"{value:.2f}", ha="center", va="center", fontsize=8, color=colour)
right.set(xlabel="hidden unit", ylabel="input pattern", title="Hidden code, tied weights")
right.set_xticks(range(3))
right.set_yticks(range(8))
plt.show()

# %% [markdown]
# Both networks learn to reproduce all eight patterns. The untied one, with more parameters,
# drives the loss lower in the same number of steps; the tied one gets there with a single
# weight matrix that serves as encoder and decoder. On the right, the tied network's hidden
# activations for the eight inputs: most are close to 0 or 1, so the network has found a
# nearly binary code of three bits for eight patterns. Where a value sits in between, the
# output layer still tells the patterns apart, as the eight correct answers above show.
#
# ## What to take away
#
# - For a batch, a layer computes $Z = X W^\top + \mathbf{1} b^\top$; its deltas form a
#   matrix $\Delta$ of the same shape as $Z$, one row per example.
# - Backward through a layer: $\Delta_{\text{prev}} = (\Delta W) \odot g'(Z_{\text{prev}})$,
#   $\partial E / \partial W = \Delta^\top A_{\text{prev}}$ and
#   $\partial E / \partial b = \Delta^\top \mathbf{1}$. The batch gradient is the sum of the
#   per-example gradients.
# - A parameter used several times receives the sum of the gradients of its uses; for the
#   same reason `.grad` accumulates across `backward()` calls until it is zeroed.
#
# The slope $g'(Z)$ in the backward step decides how much of the signal survives each layer;
# [activation functions](07-activations.md) are about what happens when it is small.
