# %% [markdown]
# # Speed: the compiled step, the kernels and the threads
#
# **You have** a training loop that works. **You want** it faster, and a fair way to tell
# whether a change made it faster.
#
# The shortest path is often to do nothing: `fit` and `chainrule train` already use the
# compiled training step. In a loop of your own, replace the four eager lines with one
# compiled step:
#
# ```python
# step = cr.compile(model, loss_fn, optimizer)
# for x, y in loader:
#     loss = step(x, y)     # zero_grad, forward, loss, backward, optimizer.step
# ```
#
# This recipe checks that the compiled step gives the eager loop's numbers, times the two
# fairly, shows what happens with a layer the compiler does not know, and covers the two
# other settings: the Numba kernels and the BLAS threads. Why each piece is fast, with the
# benchmarks against PyTorch, JAX and scikit-learn, is in [the performance
# guide](../performance.md).
#
# **About the timings on this page.** They were measured when the site was built, on a
# small machine shared with other jobs. Your numbers will differ, and so may the ratios.
# The method is what carries over; run the cells on your own machine.

# %%
import statistics
import sys
import time
import warnings

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import ScalarFormatter

import chainrule as cr
from chainrule import nn, optim
from chainrule.train import fit

X, y = cr.data.make_moons(4096, noise=0.2, seed=0)
X = X.astype(np.float32)


def small_network():
    cr.manual_seed(0)  # the same initial weights every time
    return nn.Sequential(
        nn.Linear(2, 16), nn.Tanh(), nn.Linear(16, 16), nn.Tanh(), nn.Linear(16, 2)
    )


# %% [markdown]
# ## The compiled step gives the eager loop's numbers
#
# `cr.compile` reads the `Sequential` once for each input signature (shapes, dtypes, train
# or eval mode). It allocates buffers once and then runs forward, loss and backward with no
# graph and no new array per operation. We train two copies of the same network for 200
# steps, one eagerly and one compiled, and compare the parameters:

# %%
eager_model, compiled_model = small_network(), small_network()
loss_fn = nn.CrossEntropyLoss()
eager_optimizer = optim.Adam(eager_model.parameters(), lr=1e-2)
step = cr.compile(compiled_model, loss_fn, optim.Adam(compiled_model.parameters(), lr=1e-2))

for start in range(0, 200 * 32, 32):
    xb, yb = X[start % 4096 : start % 4096 + 32], y[start % 4096 : start % 4096 + 32]
    eager_optimizer.zero_grad()
    eager_loss = loss_fn(eager_model(xb), yb)
    eager_loss.backward()
    eager_optimizer.step()
    compiled_loss = step(xb, yb)

difference = max(
    np.abs(a.data - b.data).max()
    for a, b in zip(eager_model.parameters(), compiled_model.parameters())
)
print(f"last loss: eager {float(eager_loss):.6f}, compiled {compiled_loss:.6f}")
print(f"largest parameter difference after 200 steps: {difference:.1e}")
print("compiled:", step.compiled, " reason:", repr(step.reason))

# %% [markdown]
# The two agree to float32 rounding. (The compiled step adds some sums in another order,
# so in general expect differences of that size, not bit-for-bit equality.)
# `step.compiled` says whether the last call ran compiled, and `step.reason` says why not
# when it did not; here it is empty.

# %% [markdown]
# ## Time it fairly
#
# A timing is only a comparison if both sides get the same treatment:
#
# - **Warm up first.** The first call of a compiled step builds its plan, and the first
#   optimiser steps load Numba's loops in a background thread. Time after a few hundred
#   steps, not from the first one.
# - **Repeat and take the median.** A single run is at the mercy of whatever else the
#   machine is doing. Time several runs of many steps each, and report the median (or the
#   minimum, the least disturbed run).
# - **Same everything else:** the same data, batch, seed, thread count, and one process
#   alone on the cores. Use separate models and optimisers for the two sides, so that one
#   side's state cannot affect the other's.
# - **Time what you care about.** Steps per second for the loop, `history.epoch_seconds` for
#   whole epochs with the data loading, wall time for the whole job.


# %%
def microseconds_per_step(run, steps=60, repeats=5):
    """Median time of one call of `run` over `repeats` runs of `steps` calls, after warm-up."""
    for _ in range(steps):
        run()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        for _ in range(steps):
            run()
        times.append((time.perf_counter() - started) / steps)
    return 1e6 * statistics.median(times)


def eager_and_compiled(batch):
    """Microseconds per step of the eager loop and of the compiled step, on fresh models."""
    xb, yb = X[:batch], y[:batch]
    model = small_network()
    optimizer = optim.Adam(model.parameters(), lr=1e-3)

    def eager_step():
        optimizer.zero_grad()
        loss_fn(model(xb), yb).backward()
        optimizer.step()

    other = small_network()
    compiled = cr.compile(other, loss_fn, optim.Adam(other.parameters(), lr=1e-3))
    return microseconds_per_step(eager_step), microseconds_per_step(lambda: compiled(xb, yb))


batches = [8, 32, 128, 512, 2048]
timings = np.array([eager_and_compiled(batch) for batch in batches])
print("batch   eager µs   compiled µs   eager / compiled")
for batch, (eager_us, compiled_us) in zip(batches, timings):
    print(f"{batch:5}   {eager_us:8.0f}   {compiled_us:11.0f}   {eager_us / compiled_us:8.1f}")

# %%
fig, ax = plt.subplots(figsize=(6, 3.8))
ax.loglog(batches, timings[:, 0], "o-", label="eager")
ax.loglog(batches, timings[:, 1], "s-", label="compiled")
ax.set_xlabel("batch size")
ax.set_ylabel("µs per training step (median)")
ax.set_title("2-16-16-2 network, Adam: one step")
ax.yaxis.set_major_formatter(ScalarFormatter())
ax.yaxis.set_minor_formatter(ScalarFormatter())
ax.legend()
plt.show()

# %% [markdown]
# For a small network, a step costs roughly the same for a batch of 8 as for a batch of
# 128: the time goes to Python and to the bookkeeping around NumPy's calls, not to
# arithmetic. This is where the compiled step helps most, because it removes the graph and
# the temporary arrays. For large batches, and for wide networks, the matrix products
# dominate. They are the same BLAS calls in both modes, so the two curves come closer. (The
# performance guide's B1 benchmark is such a case: there the compiled step gains little.)

# %% [markdown]
# ## A layer the compiler does not know
#
# The compiler has rules for `Sequential` models of `Linear`, `Tanh`, `ReLU`, `Sigmoid`,
# `LeakyReLU`, `Identity` and `Dropout` layers, and for the losses `CrossEntropyLoss`,
# `BCEWithLogitsLoss`, `MSELoss` and `HingeLoss`. Anything else still trains, but eagerly.
# The step emits one `CompileWarning` saying why, once per reason. We catch the warning to
# print it:

# %%
threshold_model = nn.Sequential(nn.Linear(2, 4), nn.Sign(), nn.Linear(4, 2))
threshold_step = cr.compile(
    threshold_model, loss_fn, optim.SGD(threshold_model.parameters(), lr=0.1)
)
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    for _ in range(3):
        threshold_step(X[:32], y[:32])
for warning in caught:
    print(f"{warning.category.__name__}: {warning.message}")
print("compiled:", threshold_step.compiled, " reason:", threshold_step.reason)

# %% [markdown]
# Three steps, one warning: the reason is remembered, and the step stays correct, only
# slower. `cr.compile(..., warn=False)` stays silent, and `step.reason` still says why.
# The same holds for a `Module` with a `forward` of your own, for `MultiMarginLoss`, for
# label smoothing, and for `reduction="none"`.
#
# `fit` uses the compiled step unless you pass `compile=False`. An unsupported model gets
# the same single warning, and the epochs run eagerly. Pass `compile=False` when you want
# the eager engine anyway: to step through a batch in a debugger, or to compare with the
# graph that `cr.explain` and `cr.viz.graph` show.

# %% [markdown]
# ## `fit(compile=True)` and `fit(compile=False)`
#
# On the digits, with Adam, five epochs each way. `History.epoch_seconds` has the time of
# every epoch. The first epoch of the first compiled run also pays for the warm-up, so we
# compare the later epochs:

# %%
images, labels = cr.data.load_digits()
digits = images.reshape(len(images), -1).astype(np.float32) / 16

histories = {}
for compiled in (True, False):
    cr.manual_seed(0)
    model = nn.mlp(64, [128, 64], 10)
    histories[compiled] = fit(
        model,
        loss_fn,
        optim.Adam(model.parameters(), lr=1e-3),
        (digits, labels),
        epochs=5,
        batch_size=32,
        progress=False,
        compile=compiled,
    )

for compiled, history in histories.items():
    later = statistics.median(history.epoch_seconds[1:])
    print(
        f"compile={compiled!s:5}  final loss {history.train_loss[-1]:.6f}  "
        f"median epoch (2-5) {1000 * later:.1f} ms"
    )

# %% [markdown]
# The losses are the same to float32 rounding; only the time differs.

# %% [markdown]
# ## The kernels: `cr.set_kernels`
#
# A few loops are compiled by Numba: Adam's update, ReLU's forward and backward, the
# softmax cross-entropy, plain SGD's update. Each has a NumPy twin that computes the same
# values. `cr.set_kernels("numpy")` switches to the twins for the whole process, and
# `cr.set_kernels("compiled")` (the default) switches back:

# %%
print("kernels now:", cr.get_kernels())


def train_wide(kernels):
    cr.set_kernels(kernels)
    cr.manual_seed(0)
    model = nn.mlp(64, [256, 128], 10)
    history = fit(
        model,
        loss_fn,
        optim.Adam(model.parameters(), lr=1e-3),
        (digits, labels),
        epochs=10,
        batch_size=32,
        progress=False,
    )
    return history.train_loss[-1], statistics.median(history.epoch_seconds[1:])


for kernels in ("numpy", "compiled"):
    final_loss, seconds = train_wide(kernels)
    print(f"{kernels:8}  final loss {final_loss:.6f}  median epoch {1000 * seconds:.1f} ms")
print("kernels now:", cr.get_kernels())

# %% [markdown]
# When to switch to NumPy's loops:
#
# - on a machine where Numba cannot compile, or to save memory: Numba and LLVM take about
#   100 MB, loaded at the first optimiser step;
# - to profile, because cProfile sees NumPy's calls but not inside a compiled loop;
# - never for speed: the compiled loops are the fast path for long runs.
#
# For short runs it makes no difference. Numba takes most of a second to start, so `fit`
# uses NumPy's loops anyway when a run makes fewer than about $2 \cdot 10^7$ parameter
# updates (steps × parameters). The run above makes $2.9 \cdot 10^7$: 10 epochs of 57
# steps over 50,826 parameters.

# %% [markdown]
# ## The threads: `OPENBLAS_NUM_THREADS`
#
# The matrix products run in NumPy's BLAS library, OpenBLAS in NumPy's wheels, which
# starts one thread per core. It reads the thread count **when NumPy is imported**, so
# set it in the environment before Python starts, or at the very top of a script before
# `import numpy`:
#
# ```bash
# OPENBLAS_NUM_THREADS=1 python train.py
# ```
#
# In a running process, the `threadpoolctl` package (which scikit-learn installs) reads and
# limits the pools: `threadpool_limits(1)` as a context manager. Below, the same
# matrix-heavy step (a 256-512-512-10 network on batches of 1,024) runs in a fresh process
# with one BLAS thread and with two. The script turns Numba's loops off with
# `set_kernels("numpy")`, so that only the BLAS threads differ between the two runs.

# %%
with open("blas_threads.py", "w") as script:
    script.write(
        """
import statistics, time
import numpy as np
import chainrule as cr
from chainrule import nn, optim

cr.set_kernels("numpy")
cr.manual_seed(0)
rng = np.random.default_rng(0)
X = rng.standard_normal((1024, 256)).astype(np.float32)
y = rng.integers(0, 10, 1024)
model = nn.mlp(256, [512, 512], 10)
step = cr.compile(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.01))
for _ in range(5):
    step(X, y)
times = []
for _ in range(10):
    started = time.perf_counter()
    step(X, y)
    times.append(time.perf_counter() - started)
print(f"{1000 * statistics.median(times):.1f} ms per step")
"""
    )

print("cores:", len(__import__("os").sched_getaffinity(0)), " python:", sys.version.split()[0])
# !OPENBLAS_NUM_THREADS=1 python blas_threads.py
# !OPENBLAS_NUM_THREADS=2 python blas_threads.py

# %% [markdown]
# With free cores, two threads take less time per step than one, because the step is
# mostly matrix products. When the cores are busy with other work, extra threads only
# wait for each other: check this on the machine that will run the job. The rules of
# thumb:
#
# - one process alone on the machine: leave the default, one thread per core;
# - several processes on one machine (MPI ranks, parallel jobs of a sweep): one thread each,
#   `OPENBLAS_NUM_THREADS=1`, so that they don't fight over the cores (see [the MPI
#   recipe](05-mpi.md));
# - a small network (the moons above): threads don't help, because the matrices are too
#   small to split.

# %% [markdown]
# ## What can go wrong
#
# - **A `CompileWarning` in your output:** the model or loss has a part without a compiled
#   rule. The numbers are right, and the warning names the part. Replace the part if you
#   want the speed, or pass `warn=False` (or `fit(..., compile=False)`) to run eagerly on
#   purpose.
# - **`OPENBLAS_NUM_THREADS` has no effect:** it was set after NumPy was imported (in a
#   notebook, after the first cell). Restart the kernel with the variable set, or use
#   `threadpoolctl`.
# - **The first epoch is slow:** warm-up (plans, Numba's loops). Don't count it.
# - **`fit: the Adam optimizer holds none of the model's parameters`:** the optimiser was
#   built for another model (easy to do when timing two copies). Build it from
#   `model.parameters()` of the model you train.
