# %% [markdown]
# # Softmax and cross-entropy
#
# A classifier for $K$ classes ends in a linear layer with $K$ outputs, one score per class.
# These scores $z_1, \dots, z_K$, the *logits*, can be any real numbers. Two questions follow:
# how do we turn them into probabilities, and which loss tells the network how wrong those
# probabilities are? The usual answers are the softmax function and the cross-entropy loss.
#
# This tutorial shows
#
# - what softmax does to a vector of logits, and how to compute it without overflow;
# - the cross-entropy loss, and why its gradient with respect to the logits is simply
#   $\operatorname{softmax}(z) - t$, the predicted probabilities minus the one-hot target;
# - why squared error on top of softmax learns badly from confident mistakes;
# - a softmax classifier trained on the 8x8 handwritten digits, with its gradients checked
#   against the formula.

# %%
import matplotlib.pyplot as plt
import numpy as np

import chainrule as cr
from chainrule import nn, optim
from chainrule.data import load_digits, one_hot, train_val_split
from chainrule.train import fit

# %% [markdown]
# ## Softmax turns scores into probabilities
#
# $$\operatorname{softmax}(z)_k = \frac{e^{z_k}}{\sum_{j=1}^{K} e^{z_j}}$$
#
# Every output is positive, the outputs add up to 1, and a larger logit always gets a larger
# probability. The name says what it is: a smooth version of "the maximum gets everything".
# Two more properties are worth seeing in numbers:
#
# - adding the same constant $c$ to every logit changes nothing, because
#   $e^{z_k + c} = e^c e^{z_k}$ and the factor $e^c$ cancels between numerator and
#   denominator;
# - multiplying the logits by a factor larger than 1 sharpens the distribution towards the
#   largest logit, and a factor below 1 flattens it towards uniform.

# %%
z = np.array([2.0, 1.0, 0.1])
print("logits z       ", z)
print("softmax(z)     ", np.round(cr.softmax(z).numpy(), 4))
print("softmax(z + 50)", np.round(cr.softmax(z + 50).numpy(), 4))
print("softmax(3 z)   ", np.round(cr.softmax(3 * z).numpy(), 4))
print("softmax(z / 3) ", np.round(cr.softmax(z / 3).numpy(), 4))

# %% [markdown]
# ## Computing it without overflow
#
# Written straight from the formula, softmax breaks as soon as a logit is large. In float64,
# $e^{710}$ is already larger than the largest representable number, so it becomes `inf`,
# and `inf / inf` is `nan`. (NumPy would warn about the overflow; we silence the warning to
# look at the result.) In float32 the limit is near $e^{89}$, and trained networks do produce
# logits of that size.
#
# The shift invariance above is the cure: subtract the largest logit first. Then the largest
# exponent is $e^0 = 1$, nothing overflows, and the denominator is at least 1.


# %%
def naive_softmax(z):
    e = np.exp(z)
    return e / e.sum()


def shifted_softmax(z):
    e = np.exp(z - z.max())
    return e / e.sum()


big = np.array([1000.0, 1001.0, 1002.0])
with np.errstate(over="ignore", invalid="ignore"):
    print("naive     ", naive_softmax(big))
print("shifted   ", np.round(shifted_softmax(big), 4))
print("cr.softmax", np.round(cr.softmax(big).numpy(), 4))

# %% [markdown]
# `cr.softmax` shifts internally, so it is safe for any logits. The answer equals
# `softmax([0, 1, 2])`, as the shift invariance promised.
#
# The loss needs the *logarithm* of a probability, and that has its own trap. A very
# unlikely class gets a probability that underflows to exactly 0 (in float32, $e^{-200}$ is
# below the smallest positive number), and $\log 0 = -\infty$. Taking the logarithm of the
# formula first avoids forming the tiny number at all:
#
# $$\log \operatorname{softmax}(z)_k = z_k - \log \sum_j e^{z_j},$$
#
# where the log-sum-exp is computed with the same shift by the maximum. That is `cr.log_softmax`
# (and `cr.logsumexp`).

# %%
z = cr.tensor([0.0, -200.0])  # float32, the default dtype
with np.errstate(divide="ignore"):
    print("log(softmax(z)) ", cr.log(cr.softmax(z)))
print("log_softmax(z)  ", cr.log_softmax(z))

# %% [markdown]
# ## The cross-entropy loss
#
# Let $p = \operatorname{softmax}(z)$ be the predicted distribution and $y$ the true class.
# The cross-entropy loss is the negative log-probability that the model gives the true class:
#
# $$L = -\log p_y = -\sum_{k=1}^{K} t_k \log p_k,$$
#
# where $t$ is the one-hot encoding of $y$ ($t_y = 1$, all other $t_k = 0$). Minimising its
# mean over a training set is maximum-likelihood estimation: it makes the observed labels as
# probable as possible under the model.
#
# `nn.CrossEntropyLoss` takes the *logits*, not the probabilities, and class indices as
# targets. It computes $L = -z_y + \log \sum_j e^{z_j}$ through the stable log-softmax, so it
# never takes the logarithm of a rounded-off zero. Here are three predictions for a sample
# of class 0.

# %%
loss_fn = nn.CrossEntropyLoss()
cases = {
    "confident, right": [4.0, 0.0, 0.0],
    "unsure": [0.0, 0.0, 0.0],
    "confident, wrong": [-4.0, 4.0, 0.0],
}
rows = [f"{'':<17} {'p(class 0)':>10} {'loss':>7}"]
for name, logits in cases.items():
    logits = cr.tensor([logits])
    p0 = cr.softmax(logits)[0, 0].item()
    loss = loss_fn(logits, np.array([0])).item()
    rows.append(f"{name:<17} {p0:>10.4f} {loss:>7.3f}")
print("\n".join(rows))

# %% [markdown]
# The unsure prediction gives every class $1/3$ and costs $\log 3 \approx 1.1$. Being right
# with confidence costs almost nothing; being wrong with confidence costs a lot, and without
# bound: $-\log p_y \to \infty$ as $p_y \to 0$.
#
# ## The gradient: predicted minus target
#
# Differentiate $L = -z_y + \log \sum_j e^{z_j}$ with respect to a logit $z_k$. The first
# term gives $-1$ if $k = y$ and 0 otherwise, that is $-t_k$. The derivative of the
# log-sum-exp is $e^{z_k} / \sum_j e^{z_j} = p_k$. Together:
#
# $$\frac{\partial L}{\partial z_k} = p_k - t_k.$$
#
# This is the delta of the output layer that backpropagation starts from. Its size is the
# error in probability: it is large when the model is confidently wrong and vanishes when it
# is right. Let us compare it with what automatic differentiation finds, for a sample of
# class 1.

# %%
z = np.array([1.5, -0.3, 0.8, 2.0])
target = np.array([1])
autodiff = cr.grad(lambda logits: loss_fn(logits, target))(z[None]).numpy()[0]
formula = cr.softmax(z).numpy() - one_hot(target, 4)[0]

print("softmax(z)   ", np.round(cr.softmax(z).numpy(), 5))
print("autodiff     ", np.round(autodiff, 5))
print("p - t        ", np.round(formula, 5))

# %% [markdown]
# The two rows agree. The gradient's entries sum to zero (both $p$ and $t$ sum to 1): raising
# the true class's logit and lowering the others are the same move, as far as softmax is
# concerned.
#
# ## Why not squared error?
#
# One could also put the squared error $\sum_k (p_k - t_k)^2$ on top of softmax. It is a
# valid loss, but its gradient has to pass through the softmax's own derivative, which
# contains factors $p_k (1 - p_k)$. When the model is confidently wrong, $p_y$ is close to 0,
# that factor is close to 0, and the gradient vanishes exactly where learning is needed most.
# Cross-entropy's $\log$ cancels the exponential in the softmax and leaves $p - t$.
#
# To see it, take three classes with the true class 0, set the logits to $(s, 0, 0)$ and move
# $s$ from very wrong (negative) to very right (positive). The plot shows both losses and the
# size of their gradient with respect to $z_0$, the logit that should grow.

# %%
s_values = np.linspace(-10, 10, 201)
target = np.array([0])
t = one_hot(target, 3).astype(np.float64)


def cross_entropy(logits):
    return loss_fn(logits, target)


def squared_error(logits):
    return ((cr.softmax(logits) - t) ** 2).sum()


curves = {}
for name, loss in [("cross-entropy", cross_entropy), ("squared error", squared_error)]:
    value_and_grad = cr.value_and_grad(loss)
    values, slopes = [], []
    for s in s_values:
        value, grad = value_and_grad(np.array([[s, 0.0, 0.0]]))
        values.append(value.item())
        slopes.append(abs(grad.numpy()[0, 0]))
    curves[name] = (np.array(values), np.array(slopes))

fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.5), layout="constrained")
for name, colour in [("cross-entropy", "tab:blue"), ("squared error", "tab:red")]:
    left.plot(s_values, curves[name][0], color=colour, label=name)
    right.semilogy(s_values, curves[name][1], color=colour, label=name)
left.set(xlabel="logit of the true class, s", ylabel="loss", title="loss")
right.set(xlabel="logit of the true class, s", ylabel="|dL/ds| (log scale)")
right.set_title("gradient size")
for ax in (left, right):
    ax.axvline(0, color="gray", lw=0.5)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
plt.show()

at = np.searchsorted(s_values, -8.0)
for name, (_, slopes) in curves.items():
    print(f"{name:<14} |dL/ds| at s = -8: {slopes[at]:.2e}")

# %% [markdown]
# On the left, cross-entropy grows linearly as the prediction gets worse, while squared
# error levels off at its maximum: it cannot tell "wrong" from "very wrong". On the right,
# cross-entropy's gradient approaches 1 (that is $|p_0 - 1|$) for confident mistakes, while
# squared error's gradient shrinks exponentially. At $s = -8$ the printed values differ by
# orders of magnitude. A network trained with squared error on softmax outputs can sit on a
# confident mistake for a long time.
#
# ## A softmax classifier for handwritten digits
#
# Now a real data set: 1,797 grey images of 8x8 pixels, the digits 0 to 9, shipped with
# chainrule (`load_digits`). We flatten each image into 64 inputs scaled to $[0, 1]$ and
# train the simplest softmax classifier, one `nn.Linear(64, 10)` layer whose 10 outputs are
# the logits. This is multinomial logistic regression.

# %%
images, labels = load_digits()
X = images.reshape(len(images), 64).astype(np.float32) / 16
X_train, X_test, y_train, y_test = train_val_split(X, labels, val_fraction=0.3, seed=0)
print(f"{len(X_train)} training and {len(X_test)} test images, 10 classes")

cr.manual_seed(0)
model = nn.Linear(64, 10)

# %% [markdown]
# Before training, let us check the gradient formula in its batch form. With the mean over a
# batch of $N$ samples, each sample's delta is divided by $N$, so the deltas of the output
# layer form the matrix
#
# $$\Delta = \frac{1}{N} \left( P - T \right),$$
#
# with one row per sample: $P$ the softmax probabilities and $T$ the one-hot targets. The
# weight gradient is then $\Delta^\top X$ (see [the matrix form](06-matrix-form.md)). We
# compare both with backpropagation on the first 32 training images.

# %%
xb, yb = X_train[:32], y_train[:32]
logits = model(xb)
loss = loss_fn(logits, yb)
model.zero_grad()
loss.backward()

P = cr.softmax(logits.detach()).numpy()
T = one_hot(yb, 10)
delta = (P - T) / len(xb)
weight_error = np.abs(model.weight.grad.numpy() - delta.T @ xb).max()
bias_error = np.abs(model.bias.grad.numpy() - delta.sum(axis=0)).max()
print(f"largest |dL/dW - delta^T X|           {weight_error:.1e}")
print(f"largest |dL/db - column sums of delta| {bias_error:.1e}")

# %% [markdown]
# The differences are at the level of float32 rounding: the output layer's gradient really is
# "probabilities minus targets", spread over the inputs.
#
# Now train it with minibatch gradient descent for 20 epochs (`fit` with `SGD`, batches of
# 64), keeping the test images aside to measure accuracy.

# %%
history = fit(
    model,
    loss_fn,
    optim.SGD(model.parameters(), lr=0.5),
    (X_train, y_train),
    val_data=(X_test, y_test),
    epochs=20,
    batch_size=64,
    progress=False,
)

fig, ax = plt.subplots(figsize=(6, 3.5))
epochs = np.arange(1, history.epochs + 1)
ax.plot(epochs, history.train_loss, "o-", label="training")
ax.plot(epochs, history.val_loss, "s-", label="test")
ax.set(xlabel="epoch", ylabel="cross-entropy", title="Softmax regression on the digits")
ax.grid(alpha=0.3)
ax.legend()
plt.show()
print(f"test accuracy after {history.epochs} epochs: {history.val_accuracy[-1]:.3f}")

# %% [markdown]
# A single linear layer, without any hidden units, already classifies most of the test
# digits correctly. The training loss keeps falling, and the test loss follows it closely
# (after the first epochs only slightly above; early on the training loss, averaged over an
# epoch of changing weights, is the higher): the model is not yet overfitting.
#
# ## What the probabilities say
#
# Softmax gives more than a label: a distribution over the ten digits. Below are the first
# test images of the digits 0, 3, 4 and 8, followed by the two mistakes the model makes with
# the highest confidence, each with its predicted probabilities. The bar of the true class
# is drawn in green, the others in grey.

# %%
with cr.no_grad():
    probabilities = cr.softmax(model(X_test), axis=1).numpy()
predicted = probabilities.argmax(axis=1)
wrong = np.flatnonzero(predicted != y_test)
confident_wrong = wrong[np.argsort(-probabilities[wrong].max(axis=1))[:2]]
first_of = [np.flatnonzero(y_test == digit)[0] for digit in (0, 3, 4, 8)]
shown = first_of + list(confident_wrong)

fig, axes = plt.subplots(2, 6, figsize=(10, 3.8), height_ratios=[1, 0.8], layout="constrained")
for column, i in enumerate(shown):
    image, bars = axes[0, column], axes[1, column]
    image.imshow(X_test[i].reshape(8, 8), cmap="gray_r")
    image.set_title(f"true {y_test[i]}, said {predicted[i]}", fontsize=9)
    image.axis("off")
    colours = ["tab:green" if k == y_test[i] else "gray" for k in range(10)]
    bars.bar(range(10), probabilities[i], color=colours)
    bars.set_ylim(0, 1)
    bars.set_xticks(range(10))
    bars.tick_params(labelsize=7)
    if column > 0:
        bars.set_yticklabels([])
axes[1, 0].set_ylabel("probability")
fig.suptitle("Predicted distributions for test digits (last two: confident mistakes)")
plt.show()

for i in confident_wrong:
    loss_i = -np.log(probabilities[i, y_test[i]])
    p_true = probabilities[i, y_test[i]]
    print(f"test image {i}: p(true class {y_test[i]}) = {p_true:.3f}, loss {loss_i:.2f}")
print(f"mean test loss: {history.val_loss[-1]:.3f}")

# %% [markdown]
# The 0, the 3 and the 4 get most of the probability on their class. The 8 is classified
# correctly too, but with less than half of the probability, the rest spread over several
# digits: softmax reports uncertainty that the label alone would hide. The confident
# mistakes give the true class only a small probability, so each costs many times the
# average test loss (compare the printed values): cross-entropy charges most for exactly
# these, and its gradient $p - t$ on them is large, pushing the true class up and the wrongly
# chosen class down. Some of these mistakes are understandable; a few pixels of an 8x8 image
# are all the model has.
#
# ## Summary
#
# - Softmax maps logits to a probability distribution; it is unchanged by adding a constant
#   to all logits, which is how it is computed without overflow (subtract the maximum).
# - Work with log-probabilities through `log_softmax` or `logsumexp`, never `log(softmax(z))`.
# - Cross-entropy $-\log p_y$ is the negative log-likelihood of the true class.
#   `nn.CrossEntropyLoss` takes logits and fuses both steps, stable for any logits.
# - Its gradient with respect to the logits is $p - t$ (divided by $N$ for a batch mean):
#   large for confident mistakes, where squared error's gradient vanishes.
#
# Next: [gradient descent and its variants](09-gradient-descent.md), the algorithms that use
# these gradients to train.
