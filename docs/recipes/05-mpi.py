# %% [markdown]
# # Training on several processes with MPI
#
# **You have** a training script that runs in one process.
# **You want** several processes (the cores of one machine, or the machines of a cluster) to
# train one model together, and to be sure the result is the one you would have got alone.
#
# The shortest path is one argument and one launcher:
#
# ```python
# history = fit(model, loss_fn, optimizer, (X, y), batch_size=50, distributed=True)
# ```
#
# ```bash
# mpirun -n 2 python train.py
# ```
#
# The command line does the same by itself: `mpirun -n 2 chainrule train ...`.
# How it works, how to install MPI (`pip install "chainrule[mpi]"`), how to run across
# machines and what communication costs are in [the distributed training guide](../distributed.md).
# This recipe runs it and checks the promise: every rank ends with the same parameters,
# equal to one process's up to float32 rounding.

# %%
import subprocess
import textwrap

import numpy as np

from chainrule.distributed import shard_slice

# %% [markdown]
# ## The script
#
# An ordinary training script, with `distributed=True` added to `fit`. Every rank runs all of
# it: each builds the model and loads the data itself. `fit` then copies rank 0's initial
# weights to the others and gives every rank rank 0's shuffling, so they all see the same
# batches.
#
# Normally only rank 0 writes files (`distributed.is_main()`). For this check, every rank
# saves its parameters to its own file, named by the number of processes and its rank.

# %%
SCRIPT = """\
import numpy as np

import chainrule as cr
from chainrule import distributed, nn, optim
from chainrule.data import make_moons
from chainrule.train import fit

cr.manual_seed(0)
X, y = make_moons(400, noise=0.2, seed=0)
model = nn.mlp(2, [16], 2, "tanh")
optimizer = optim.Adam(model.parameters(), lr=0.01)
history = fit(model, nn.CrossEntropyLoss(), optimizer, (X, y), epochs=20,
              batch_size=50, progress=False, distributed=True)

k, r = distributed.world_size(), distributed.rank()
params = {name: p.numpy() for name, p in model.named_parameters()}
np.savez(f"params-{k}-{r}.npz", **params)
if distributed.is_main():
    print(f"{k} process(es): last epoch's loss {history.train_loss[-1]:.4f}, "
          f"accuracy {history.train_accuracy[-1]:.3f}")
"""
with open("train.py", "w") as file:
    file.write(SCRIPT)

# %% [markdown]
# ## Run it alone, then on two processes
#
# Without a launcher, `distributed=True` finds a world of one process and trains as usual.
# Under `mpirun -n 2`, two processes share every batch of 50: 25 samples each.

# %%
# !python train.py

# %%
# !mpirun -n 2 python train.py

# %% [markdown]
# Only rank 0 printed, and it printed the loss and accuracy of the whole batch: `fit` sums
# them over the ranks in the same allreduce as the gradients. Now the parameters:

# %%
alone = np.load("params-1-0.npz")
rank0, rank1 = np.load("params-2-0.npz"), np.load("params-2-1.npz")
for name in alone:
    identical = np.array_equal(rank0[name], rank1[name])
    gap = np.max(np.abs(rank0[name] - alone[name]) / (np.abs(alone[name]) + 1e-3))
    print(f"{name:9s} rank 0 == rank 1: {identical}   relative gap to one process: {gap:.0e}")

# %% [markdown]
# The two ranks hold **bitwise identical** parameters: after the allreduce every rank has the
# same gradient and takes the same optimiser step. Against the single process the parameters
# differ by a few float32 roundings (float32 resolves about $10^{-7}$, relative), not by
# anything a model would notice. Each rank sums its half of the batch, then the halves are
# added; floating-point sums taken in another order round differently, and 160 Adam steps
# carry those roundings along without letting them grow.

# %% [markdown]
# ## The batch size is global
#
# `batch_size=50` means 50 samples per step in total, whatever the number of ranks, so the
# optimiser sees the same gradients with 1, 2 or 8 processes, and the learning rate needs no
# change. Each rank keeps a contiguous slice; when the batch does not divide evenly, the first
# ranks take one sample more, and each rank's gradient is weighted by its share:

# %%
for n, k in [(50, 2), (50, 3), (10, 3), (2, 3)]:
    sizes = [len(range(n)[shard_slice(n, r, k)]) for r in range(k)]
    print(f"batch of {n:2d} over {k} ranks: {sizes}")

# %% [markdown]
# A rank with an empty slice (the last line) contributes zero to the sum and still joins the
# allreduce. More ranks only pay when each slice stays large enough to keep a core busy:
# communication costs the same per step whatever the batch (see the guide's tables).

# %% [markdown]
# ## Your own loop
#
# Without `fit`, wrap the model and optimiser in `distributed.DataParallel`. Making it checks
# that all ranks built the same model and copies rank 0's weights. `shard` keeps this rank's
# slice of a batch. `step` replaces `optimizer.step()`: one allreduce of all gradients, then
# the step. Seed the `DataLoader` with the same seed everywhere, so that all ranks draw the
# same batches.

# %%
LOOP = """\
import numpy as np

import chainrule as cr
from chainrule import distributed, nn, optim
from chainrule.data import DataLoader, TensorDataset, make_moons

cr.manual_seed(0)
X, y = make_moons(400, noise=0.2, seed=0)
model = nn.mlp(2, [16], 2, "tanh")
optimizer = optim.Adam(model.parameters(), lr=0.01)
loss_fn = nn.CrossEntropyLoss()
parallel = distributed.DataParallel(model, optimizer)
loader = DataLoader(TensorDataset(X, y), batch_size=50, shuffle=True, seed=0)
for epoch in range(20):
    for inputs, targets in loader:
        inputs, targets = parallel.shard(inputs, targets)
        optimizer.zero_grad()
        if len(inputs):  # empty when the batch has fewer samples than ranks
            loss_fn(model(inputs), targets).backward()
        parallel.step()

r = distributed.rank()
np.savez(f"loop-{r}.npz", **{n: p.numpy() for n, p in model.named_parameters()})
if distributed.is_main():
    print(f"{parallel.allreduces} allreduces, {len(inputs)} samples per rank per step")
"""
with open("loop.py", "w") as file:
    file.write(LOOP)

# %%
# !mpirun -n 2 python loop.py

# %%
a, b = np.load("loop-0.npz"), np.load("loop-1.npz")
print("ranks identical:", all(np.array_equal(a[name], b[name]) for name in a))

# %% [markdown]
# ## What can go wrong
#
# To show the failures without their long MPI banners, the next cells run `mpirun` from
# Python and print only the line that matters.


# %%
def run(*command):
    """Run a command; return its exit code and its output (stdout and stderr) as lines."""
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    return done.returncode, (done.stdout + done.stderr).splitlines()


# %% [markdown]
# **More ranks than cores.** Open MPI gives each core one slot and refuses to start more
# ranks than slots. Add `--oversubscribe` when you mean it (tests, a laptop); for speed, more
# ranks than cores only makes them take turns.

# %%
code, lines = run("mpirun", "-n", "3", "python", "train.py")
first = next(i for i, line in enumerate(lines) if "not enough slots" in line)
print("exit code", code)
print(lines[first], lines[first + 1].strip())

# %% [markdown]
# **A different model on some rank.** Every rank must build the same model: a size read from
# a rank-dependent file, or a random architecture, breaks this. `DataParallel` (and so
# `fit`) compares the parameters before any training and names the first one that differs.
# An uncaught exception on a rank aborts the whole job, so nothing waits forever.

# %%
BAD = SCRIPT.replace("[16]", "[16 + distributed.rank()]")  # 16 hidden units on rank 0, 17 on 1
with open("bad.py", "w") as file:
    file.write(BAD)
code, lines = run("mpirun", "-n", "2", "python", "bad.py")
error = next(line for line in lines if line.startswith("ValueError"))
print("exit code", code)
print(textwrap.fill(error, 88))

# %% [markdown]
# Other things to know:
#
# - **Running as root** (a container, CI): Open MPI refuses with "prterun has detected an
#   attempt to run as root". Add `--allow-run-as-root`, or set `OMPI_ALLOW_RUN_AS_ROOT=1` and
#   `OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1` where you launch.
# - **Forgetting `distributed=True`.** `mpirun -n 2` then starts two independent trainings of
#   the whole data, each as long as one alone, both writing the same files.
# - **Threads.** Two ranks that each start a BLAS thread per core fight over the cores. Give
#   each rank one: `OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 mpirun -n 2 ...` (see
#   [the speed recipe](04-speed.md)).
# - **Dropout** draws different random numbers on each rank, so a model with dropout does not
#   reproduce the one-process run exactly (it still trains correctly).
# - **A rank that hangs** without crashing (a stuck file system, a deadlock of your own) looks
#   to MPI like a slow rank. Bound the job: `mpirun --timeout 3600 ...`.
