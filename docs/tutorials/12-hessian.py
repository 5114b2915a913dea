# %% [markdown]
# # The Hessian at a critical point
#
# Gradient descent stops where the gradient is zero. But a zero gradient does not mean a
# minimum: the top of a hill and the middle of a mountain pass are flat too. What tells
# them apart is the *curvature*, the second derivatives, collected in the Hessian matrix.
# This tutorial
#
# - computes Hessians with `cr.hessian` and classifies critical points by its eigenvalues;
# - shows that Newton's method, which uses the Hessian, is attracted to saddles as readily
#   as to minima;
# - looks at the smallest possible network, whose loss has a saddle at zero and a whole
#   curve of minima;
# - finds a minimum of a small tanh network and reads its Hessian: symmetries, flat
#   directions, and the largest eigenvalue that limits the learning rate.

# %%
import matplotlib.pyplot as plt
import numpy as np

import chainrule as cr
from chainrule import optim

# %% [markdown]
# ## Second derivatives decide
#
# For a function $f$ of a vector $w$, the Hessian $H$ holds all second partial derivatives,
# $H_{ij} = \partial^2 f / \partial w_i \partial w_j$. It is symmetric, and it describes
# $f$ near a point $w^*$ through the second-order Taylor expansion
#
# $$f(w^* + d) \approx f(w^*) + \nabla f(w^*)^\top d + \frac{1}{2} d^\top H d.$$
#
# At a critical point the middle term vanishes, so what $f$ does nearby depends only on the
# sign of $d^\top H d$. Write $d$ in the basis of $H$'s eigenvectors $v_i$, with
# eigenvalues $\lambda_i$: along $v_i$, a step of length $t$ changes $f$ by
# $\frac{1}{2} \lambda_i t^2$. Hence
#
# - all $\lambda_i > 0$: $f$ rises in every direction, a **minimum**;
# - all $\lambda_i < 0$: $f$ falls in every direction, a **maximum**;
# - some positive, some negative: a **saddle** point, up along some directions and down
#   along others;
# - some $\lambda_i = 0$ and the rest all of one sign: the test says nothing about those
#   directions; they are flat to second order.
#
# `cr.hessian(f)` returns a function that computes $H$ by differentiating the gradient
# again with reverse-mode autodiff; for an input of shape `(n,)` the result has shape
# `(n, n)`. Three quadratics, each with its critical point at the origin:

# %%
quadratics = {
    "x² + xy + y²": lambda w: w[0] ** 2 + w[0] * w[1] + w[1] ** 2,
    "x² + 3xy + y²": lambda w: w[0] ** 2 + 3 * w[0] * w[1] + w[1] ** 2,
    "-x² + xy - y²": lambda w: -(w[0] ** 2) + w[0] * w[1] - w[1] ** 2,
}


def classify(eigenvalues, tol=1e-8):
    if np.all(eigenvalues > tol):
        return "minimum"
    if np.all(eigenvalues < -tol):
        return "maximum"
    if np.any(eigenvalues > tol) and np.any(eigenvalues < -tol):
        return "saddle"
    return "undecided (zero eigenvalue)"


origin = np.zeros(2)
decompositions = {}
for name, f in quadratics.items():
    H = cr.hessian(f)(origin).numpy()
    eigenvalues, eigenvectors = np.linalg.eigh(H)
    decompositions[name] = (eigenvalues, eigenvectors)
    rows = " ".join(f"{row}" for row in H.tolist())
    print(f"{name:<14} H = {rows:<22} eigenvalues {eigenvalues}  -> {classify(eigenvalues)}")

# %% [markdown]
# The middle one is the instructive case: both diagonal entries of $H$ are positive, so
# along each axis the function curves upwards, yet it is a saddle. The large off-diagonal
# entry makes the diagonal direction $x = -y$ go downhill. Definiteness cannot be read off
# the diagonal; the eigenvalues are needed. The contour lines show it:

# %%
grid = np.linspace(-1.5, 1.5, 121)
gx, gy = np.meshgrid(grid, grid)
fig, axes = plt.subplots(1, 3, figsize=(10, 3.4), layout="constrained")
for ax, (name, f) in zip(axes, quadratics.items()):
    values = f(np.stack([gx, gy]))
    ax.contourf(gx, gy, values, levels=20, cmap="viridis")
    ax.contour(gx, gy, values, levels=[0], colors="white", linewidths=1)
    eigenvalues, eigenvectors = decompositions[name]
    for value, vector in zip(eigenvalues, eigenvectors.T):
        colour = "tab:red" if value < 0 else "white"
        ax.annotate("", xy=vector, xytext=(0, 0), arrowprops={"color": colour, "width": 1.5})
        ax.text(*(1.15 * vector), f"λ={value:g}", color=colour, ha="center", fontsize=9)
    ax.set(title=f"{name}: {classify(eigenvalues)}", xlabel="x", aspect="equal")
axes[0].set_ylabel("y")
plt.show()

# %% [markdown]
# Brighter is higher. The arrows are the eigenvectors, red where the eigenvalue is
# negative. Around the minimum the contours are ellipses, whose long axis lies along the
# eigenvector with the *small* eigenvalue (the function rises slowly that way). Around the
# maximum they are ellipses too, but the function falls away from the centre. Around the
# saddle the contours are hyperbolas, and the white zero level set crosses at the origin:
# in the two wide sectors its lines cut off, the function is positive (along the white
# arrow); in the two narrow sectors, negative (along the red arrow).
#
# ## Newton's method does not know up from down
#
# A function can have critical points of every kind. Take
#
# $$f(x, y) = (x^2 - 1)^2 + (y^2 - 1)^2,$$
#
# with $\partial f / \partial x = 4x^3 - 4x$, zero at $x \in \{-1, 0, 1\}$, and the same for
# $y$: nine critical points. We classify each one with `cr.hessian` (by hand:
# $H = \operatorname{diag}(12x^2 - 4,\ 12y^2 - 4)$).


# %%
def egg_crate(w):
    return (w[0] ** 2 - 1) ** 2 + (w[1] ** 2 - 1) ** 2


hessian_of = cr.hessian(egg_crate)
gradient_of = cr.grad(egg_crate)
critical = [np.array([x, y]) for x in (-1.0, 0.0, 1.0) for y in (-1.0, 0.0, 1.0)]
kinds = {}
for point in critical:
    eigenvalues = np.linalg.eigvalsh(hessian_of(point).numpy())
    kinds[tuple(point)] = classify(eigenvalues)
    print(f"{str(tuple(point)):<12} eigenvalues {eigenvalues}  {kinds[tuple(point)]}")

# %% [markdown]
# Four minima at $(\pm 1, \pm 1)$, one maximum at the origin, four saddles in between.
#
# Gradient descent moves downhill, so it ends in a minimum unless it starts on a critical
# point or on one of the lines $x = 0$, $y = 0$ that lead into the saddles: a set of
# starting points of measure zero. Newton's method uses the Hessian to jump to where the quadratic
# model has its critical point, $w \leftarrow w - H^{-1} \nabla f(w)$. Near a minimum that
# is a superb step. But the quadratic model's critical point may be a maximum or a saddle,
# and Newton's method goes there just as happily. From three starting points:


# %%
def newton_step(w):
    return w - np.linalg.solve(hessian_of(w).numpy(), gradient_of(w).numpy())


def descent_step(w, lr=0.05):
    return w - lr * gradient_of(w).numpy()


def path(start, step, n):
    points = [np.array(start)]
    for _ in range(n):
        points.append(step(points[-1]))
    return np.array(points)


starts = [(0.3, 0.2), (0.25, 0.8), (-0.8, 1.3)]
grid = np.linspace(-1.7, 1.7, 141)
gx, gy = np.meshgrid(grid, grid)
fig, ax = plt.subplots(figsize=(5.5, 4.8))
ax.contourf(gx, gy, egg_crate(np.stack([gx, gy])), levels=30, cmap="viridis")
markers = {"minimum": ("o", "white"), "maximum": ("^", "tab:red"), "saddle": ("X", "orange")}
for kind, (marker, colour) in markers.items():
    points = np.array([p for p, k in kinds.items() if k == kind])
    ax.scatter(*points.T, marker=marker, color=colour, s=70, edgecolors="black", label=kind)
for start in starts:
    newton, descent = path(start, newton_step, 8), path(start, descent_step, 60)
    ax.plot(*newton.T, "--o", color="black", ms=3, lw=1)
    ax.plot(*descent.T, "-", color="white", lw=1.5)
    ax.plot(*start, "s", color="black", ms=6)
    where = kinds.get(tuple(np.round(newton[-1], 6) + 0.0), "?")
    print(f"start {start}: Newton ends at {np.round(newton[-1], 6) + 0.0} ({where}),", end=" ")
    print(f"gradient descent at {np.round(descent[-1], 3)}")
ax.plot([], [], "--o", color="black", ms=3, lw=1, label="Newton")
ax.plot([], [], "-", color="white", lw=1.5, label="gradient descent")
ax.set(xlabel="x", ylabel="y", aspect="equal", title="(x²-1)² + (y²-1)²: start = black square")
ax.legend(fontsize=8, loc="lower left", facecolor="lightgray")
plt.show()

# %% [markdown]
# From the first start Newton's method climbs to the maximum, from the second it settles
# on a saddle, and only from the third, already in a minimum's bowl, does it reach a
# minimum, in a handful of steps. Gradient descent (white) reaches a minimum from all
# three. This is one reason why the pure Newton step is not used to train networks, whose
# losses have very many saddles; a zero gradient alone proves nothing, and the Hessian is
# what can tell the difference.
#
# ## The smallest network with a saddle
#
# The simplest network with a hidden layer has one input, one hidden unit and one output,
# without biases or activation: $\hat y = w_2 w_1 x$. Train it on the single pair
# $x = 1$, $y = 1$ with the squared error:
#
# $$L(w_1, w_2) = (w_1 w_2 - 1)^2.$$
#
# Every point of the hyperbola $w_1 w_2 = 1$ is a minimum with $L = 0$. The origin is a
# critical point too: there $\partial L / \partial w_1 = 2 (w_1 w_2 - 1) w_2 = 0$, and the
# same for $w_2$. What kind of point is each?


# %%
def tiny_network_loss(w):
    return (w[0] * w[1] - 1) ** 2


tiny_hessian = cr.hessian(tiny_network_loss)
for point in [np.array([0.0, 0.0]), np.array([2.0, 0.5]), np.array([-0.5, -2.0])]:
    H = tiny_hessian(point).numpy()
    eigenvalues, eigenvectors = np.linalg.eigh(H)
    print(f"w = {point}: eigenvalues {np.round(eigenvalues, 6) + 0.0}, ", end="")
    print(f"eigenvectors (columns) {np.round(eigenvectors, 3).tolist()}")

# %% [markdown]
# At the origin the eigenvalues are $-2$ and $+2$: a saddle. Its downhill eigenvector is
# $(1, 1)/\sqrt{2}$ (up to sign): moving both weights in the same direction makes their
# product positive, towards the target. At the two points on the hyperbola the
# eigenvalues are $0$ and a positive number. The zero eigenvalue belongs to the direction
# *along* the hyperbola, where the loss does not change at all: the minimum is not an
# isolated point but a curve, because $(w_1 c, w_2 / c)$ computes the same function for any
# $c \ne 0$. Such flat directions, caused by symmetries of the network, are typical of
# neural networks.
#
# What does the saddle do to training? Started exactly at the origin, gradient descent
# never moves: the gradient is zero. Started near it, it first has to escape. The escape is
# exponential, the distance from the origin along the downhill direction multiplies by a
# constant factor each step, so a start ten times closer costs a fixed number of extra
# steps.

# %%
fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.8), layout="constrained")
grid = np.linspace(-2, 2, 161)
gx, gy = np.meshgrid(grid, grid)
left.contourf(gx, gy, np.log10((gx * gy - 1) ** 2 + 1e-3), levels=20, cmap="viridis")
branch = np.linspace(0.5, 2, 50)
for sign in (1, -1):
    left.plot(sign * branch, sign / branch, color="white", ls="--", lw=1)
left.plot(0, 0, "X", color="orange", ms=10, mec="black")
rng = np.random.default_rng(1)
curves = {}
for k, scale in enumerate([1e-1, 1e-3, 1e-6]):
    start = scale * rng.standard_normal(2)
    w = cr.tensor(start, requires_grad=True, dtype=np.float64)
    optimizer = optim.SGD([w], lr=0.05)
    path, losses = [start], []
    for _ in range(200):
        optimizer.zero_grad()
        loss = tiny_network_loss(w)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
        path.append(w.numpy().copy())
    curves[scale] = losses
    left.plot(*np.array(path).T, color=f"C{k + 1}", lw=1.5)
left.set(xlabel="$w_1$", ylabel="$w_2$", aspect="equal", title="log10 of the loss (w₁w₂ - 1)²")
for k, (scale, losses) in enumerate(curves.items()):
    right.semilogy(losses, color=f"C{k + 1}", label=f"start at distance ~{scale:g}")
right.set(xlabel="step", ylabel="loss (log scale)", title="Escaping the saddle", ylim=(1e-20, 10))
right.legend(fontsize=8)
plt.show()

# %% [markdown]
# On the left, the dashed hyperbola is the valley of minima and the orange cross the
# saddle. The three paths leave the origin along the diagonal, the direction of the
# negative eigenvalue, and end on the hyperbola. On the right, the loss stays on a
# *plateau* at $L = 1$, the saddle's value, for longer the closer to the origin the run
# started; then it drops quickly. Long plateaus followed by sudden progress in a learning
# curve are often the sign of a saddle. This is also why networks are not initialised with
# all weights zero: in a network the all-zero point is typically a critical point (as
# here), and one that gradient descent cannot leave.
#
# ## A tanh network: saddle at zero, minimum after training
#
# Now a network with a nonlinearity: one input, two tanh hidden units and a linear
# output, seven parameters in all,
#
# $$\hat y = v_1 \tanh(a_1 x + b_1) + v_2 \tanh(a_2 x + b_2) + c,$$
#
# trained with the mean squared error on 16 noisy samples of a two-step staircase. To take
# Hessians we write the loss as a function of one vector $\theta$ holding all seven
# parameters.

# %%
rng = np.random.default_rng(0)
x = np.linspace(-3, 3, 16)
y = (np.tanh(2 * (x + 1)) + np.tanh(2 * (x - 1))) / 2 + 0.05 * rng.standard_normal(16)
inputs, targets = cr.tensor(x[:, None]), cr.tensor(y)


def network_loss(theta):
    a, b, v, c = theta[0:2], theta[2:4], theta[4:6], theta[6]
    prediction = cr.tanh(inputs * a + b) @ v + c
    return ((prediction - targets) ** 2).mean()


loss_gradient = cr.grad(network_loss)
loss_hessian = cr.hessian(network_loss)

# %% [markdown]
# Before trusting a Hessian in new code it is worth checking it against finite
# differences, as [the gradient-checking tutorial](05-gradient-checking.md) does for
# gradients. Column $j$ of $H$ is the gradient of $\partial L / \partial \theta_j$, so
# `cr.numerical_grad` of each gradient component gives the Hessian numerically.

# %%
theta_random = rng.normal(size=7)
analytic = loss_hessian(theta_random).numpy()
numeric = np.array(
    [cr.numerical_grad(lambda t, j=j: loss_gradient(t)[j], theta_random)[0] for j in range(7)]
)
print(f"largest difference from finite differences: {np.abs(analytic - numeric).max():.1e}")
print(f"largest asymmetry |H - H^T|: {np.abs(analytic - analytic.T).max():.1e}")

# %% [markdown]
# They agree to about the accuracy of central differences. Now two special points.
#
# **All weights zero** (with the output bias $c$ at the mean target). Every hidden unit
# outputs $\tanh(0) = 0$, so the gradient with respect to the output weights is zero; the
# output weights are zero, so no gradient reaches the hidden layer; and $c$ is already
# optimal. A critical point. Its Hessian:

# %%
theta_zero = np.zeros(7)
theta_zero[6] = y.mean()
print(f"gradient norm at zero: {np.linalg.norm(loss_gradient(theta_zero).numpy()):.1e}")
eigenvalues_zero, vectors_zero = np.linalg.eigh(loss_hessian(theta_zero).numpy())
print(
    "eigenvalues:",
    " ".join(f"{value:.3g}" for value in np.round(eigenvalues_zero, 6) + 0.0),
    end=" ",
)
print("->", classify(eigenvalues_zero))

# %% [markdown]
# A saddle, with two negative eigenvalues, two zeros and three positive. Apart from the
# output bias's 2, the eigenvalues come in equal pairs, because the two hidden units are
# interchangeable at this point.
#
# **A minimum.** We train from small random weights with Adam, then finish with a few
# Newton steps: we saw that Newton's method is dangerous far away, but close to a minimum,
# where $H$ is positive definite, it converges extremely fast.


# %%
def train(seed):
    cr.manual_seed(seed)
    theta = (0.5 * cr.randn(7, dtype=np.float64)).requires_grad_()
    optimizer = optim.Adam([theta], lr=0.03)
    for _ in range(1000):
        optimizer.zero_grad()
        network_loss(theta).backward()
        optimizer.step()
    theta = theta.detach().numpy()
    for _ in range(8):
        theta = theta - np.linalg.solve(loss_hessian(theta).numpy(), loss_gradient(theta).numpy())
    return theta


minima = [train(seed) for seed in (0, 1)]
for seed, theta in enumerate(minima):
    loss = network_loss(theta).item()
    gradient = np.linalg.norm(loss_gradient(theta).numpy())
    eigenvalues = np.linalg.eigvalsh(loss_hessian(theta).numpy())
    print(f"seed {seed}: loss {loss:.6f}, gradient norm {gradient:.0e}")
    print("    a =", np.round(theta[0:2], 2), " b =", np.round(theta[2:4], 2), end="")
    print("  v =", np.round(theta[4:6], 2), " c =", np.round(theta[6], 2))
    print("    Hessian eigenvalues:", " ".join(f"{value:.3g}" for value in eigenvalues))
eigenvalues_min, vectors_min = np.linalg.eigh(loss_hessian(minima[0]).numpy())

# %% [markdown]
# Both runs reach a gradient of zero to rounding error, with the same loss. Their weights
# look different, but compare them: seed 1's hidden units are seed 0's in the other order
# (and one of them with all its signs flipped, which changes nothing because tanh is odd:
# $v \tanh(a x + b) = (-v) \tanh(-a x - b)$). They are the same function, so they have the
# same loss and the same Hessian eigenvalues. A network with $n$ hidden units has at least
# $n!\, 2^n$ such copies of every minimum. On any path from one copy to another the loss
# must rise somewhere, and the lowest such passes are saddles.
#
# All seven eigenvalues are positive, so this is a genuine, isolated minimum. But they span
# a range of several thousand from the smallest to the largest: along the top eigenvector
# the loss rises steeply, along the bottom one it is almost flat. The Taylor expansion
# predicts the loss along each eigenvector,
#
# $$L(\theta^* + t v_i) \approx L(\theta^*) + \frac{1}{2} \lambda_i t^2,$$
#
# and we compare this with the real loss, at the saddle and at the minimum.

# %%
steps = np.linspace(-1, 1, 81)
fig, axes = plt.subplots(1, 2, figsize=(9, 3.6), layout="constrained")
for ax, (title, theta, values, vectors) in zip(
    axes,
    [
        ("at the saddle (all weights zero)", theta_zero, eigenvalues_zero, vectors_zero),
        ("at the minimum found by training", minima[0], eigenvalues_min, vectors_min),
    ],
):
    base = network_loss(theta).item()
    for k, (i, label) in enumerate([(0, "smallest λ"), (-1, "largest λ")]):
        along = [network_loss(theta + t * vectors[:, i]).item() - base for t in steps]
        ax.plot(steps, along, color=f"C{k}", label=f"{label} = {values[i]:.3g}")
        ax.plot(steps, 0.5 * values[i] * steps**2, color=f"C{k}", ls=":")
    ax.axhline(0, color="gray", lw=0.5)
    ax.set(xlabel="step t along the eigenvector", title=title, ylim=(-0.8, 1.0))
    ax.legend(fontsize=8)
axes[0].set_ylabel("L(θ + t v) - L(θ)")
plt.show()

# %% [markdown]
# Solid lines are the loss, dotted lines the quadratic prediction $\frac{1}{2} \lambda t^2$.
# At the saddle (left) the loss falls along the eigenvector of the negative eigenvalue,
# following the downward parabola for small steps before the nonlinearity takes over, and
# rises along the top one. At the minimum (right) it rises along both, steeply along the
# top eigenvector and so slowly along the bottom one that its curve hugs zero. The
# quadratic model is accurate near the point and drifts away further out, as a Taylor
# expansion does.
#
# ## The largest eigenvalue and the learning rate
#
# Near a minimum, gradient descent with learning rate $\eta$ is stable only if
# $\eta < 2 / \lambda_{\max}$ ([learning rates and divergence](10-learning-rates.md)), and
# it converges slowly along directions with small $\lambda$. For a large network $H$ has
# millions of rows and is never formed. But $\lambda_{\max}$ can still be found: `cr.hvp`
# computes a Hessian-vector product $H v$ with two backward passes, without the matrix, and
# repeating $v \leftarrow H v / \lVert H v \rVert$ (power iteration) turns $v$ into the top
# eigenvector.

# %%
v = np.ones(7) / np.sqrt(7)
for _ in range(200):
    hv = cr.hvp(network_loss, minima[0], v).numpy()
    estimate = v @ hv
    v = hv / np.linalg.norm(hv)
print(f"power iteration with cr.hvp: lambda_max ~ {estimate:.5f}")
print(f"eigenvalues of the full Hessian: lambda_max = {eigenvalues_min[-1]:.5f}")
print(f"largest stable learning rate near this minimum: 2 / lambda_max = {2 / estimate:.3f}")
print(f"condition number lambda_max / lambda_min: {eigenvalues_min[-1] / eigenvalues_min[0]:.0f}")

# %% [markdown]
# The power iteration finds $\lambda_{\max}$ from matrix-free products alone. Near this
# minimum gradient descent must keep its learning rate below the printed bound, and then
# the flattest direction shrinks by only a factor $1 - \eta \lambda_{\min}$ per step, very
# close to 1 for a condition number in the thousands. This is why we finished the
# training with Newton steps, and why optimisers such as Adam, which rescale each
# parameter's step, help on such badly conditioned losses.
#
# ## Summary
#
# - At a critical point, the Hessian's eigenvalues classify it: all positive, a minimum;
#   all negative, a maximum; mixed signs, a saddle; zeros leave some directions undecided.
#   The diagonal of $H$ alone cannot tell.
# - `cr.hessian(f)(x)` gives the matrix, `cr.hvp(f, x, v)` a product with it without
#   forming it; check new Hessians against finite differences of the gradient.
# - Newton's method jumps to critical points of any kind; gradient descent goes downhill
#   but stalls on plateaus near saddles.
# - Network losses have saddles (for instance at all-zero weights), minima that come in
#   symmetric copies, and flat directions; the largest eigenvalue at a minimum sets the
#   largest stable learning rate.
