# %% [markdown]
# # Your own CSV: train, predict, read the metrics
#
# **You have** a table in a CSV file, with a header and one column you want to predict.
# **You want** a trained network, its test metrics, and predictions for new rows.
#
# The shortest path is two commands:
#
# ```bash
# chainrule train --data penguins.csv --target species --out run
# chainrule predict run/model.safetensors new_penguins.csv --out predictions.csv
# ```
#
# This recipe runs them, reads what they write, does the same from Python, and shows the
# errors you get when a column is wrong. How each step works (reading, the task detection,
# the split, the preprocessing) is in [the tables guide](../tables.md); every option is in
# [the command-line guide](../command-line.md).

# %% [markdown]
# ## A table to work on
#
# We write the Palmer penguins (344 birds, 3 species) to `penguins.csv`. The table has what
# real tables have: text columns (`island`, `sex`), numbers, and missing values. Five rows,
# without their species, go into `new_penguins.csv`. They play the new data you want to
# predict.

# %%
import json
import os

import matplotlib.pyplot as plt
import pandas as pd
from IPython.display import Image, display
from palmerpenguins import load_penguins

import chainrule as cr

penguins = load_penguins()
penguins.to_csv("penguins.csv", index=False)
penguins.drop(columns="species").sample(5, random_state=1).to_csv("new_penguins.csv", index=False)
print(penguins.shape)
print(penguins.head(4).to_string(index=False))

# %% [markdown]
# ## Train from the command line
#
# `--target` names the column to predict. Every other column is an input unless it cannot
# help. `--quiet` turns off the progress bar, and `--out` names a new folder for the run.
# Without `--epochs`, the number of epochs follows the number of rows.

# %%
# !chainrule train --data penguins.csv --target species --quiet --out run

# %% [markdown]
# Read the output from the bottom up:
#
# - **`note: task: classification, as the target 'species' holds text`**: chainrule decided
#   the task itself and says why (see below for the rules and how to override them).
# - **test accuracy and macro F1**, each beside a *baseline*: what a model that learned
#   nothing scores by always guessing the most frequent class. A model is only as good as
#   its distance from that baseline.
# - **`wrote ...`**: the model, `metrics.json`, a checkpoint and the plots in `run/`.
#
# The test rows (20% by default, `--test-fraction`) were set aside before training,
# stratified by species, with the seed (`--seed`, default 0). The same command gives the
# same split and the same model.
#
# Penguins are easy to tell apart from their bills and flippers, so a perfect score on the
# 69 test rows is no surprise. On your own table, compare with the baseline first. The
# confusion matrix, `run/confusion_matrix.png`, shows which classes get mixed up. Here
# every test penguin lands on the diagonal:

# %%
display(Image("run/confusion_matrix.png", width=420))

# %% [markdown]
# ## Predict new rows
#
# `chainrule predict` reads a table with a header and matches the columns **by name**, in
# any order. A `species` column would be ignored. The preprocessing fitted during training
# is stored in the model file and applied as it was: standardising, the median for missing
# numbers, the one-hot columns of `island` and `sex`.

# %%
# !chainrule predict run/model.safetensors new_penguins.csv --out predictions.csv

# %%
predictions = pd.read_csv("predictions.csv")
print(predictions.round(3).to_string(index=False))

# %% [markdown]
# The output has one row per input row, in order: the `prediction` and one `proba_<class>`
# column per class. Without `--out`, the CSV goes to standard output, ready for a pipe.
# `chainrule info run/model.safetensors` lists the columns the model expects and what is
# done to each of them.

# %% [markdown]
# ## Read metrics.json
#
# Everything the run printed, and more, is in `run/metrics.json`. The per-epoch lists have
# one entry per epoch; the test metrics are single numbers. `config` records the settings
# used, defaults included, so that you can rerun the run.

# %%
with open("run/metrics.json") as file:
    metrics = json.load(file)

print("task:          ", metrics["task"])
print("epochs:        ", len(metrics["train_loss"]), "stopped by", metrics["stopped_by"])
print("test accuracy: ", round(metrics["test_accuracy"], 4))
print("baseline:      ", round(metrics["test_baseline_accuracy"], 4))
print("test macro F1: ", round(metrics["test_f1_macro"], 4))
print("config:        ", {k: metrics["config"][k] for k in ("hidden", "lr", "batch_size")})

# %% [markdown]
# The loss curves tell you whether more epochs would help, or whether the network has
# started to fit noise (the validation loss rises while the training loss falls):

# %%
fig, ax = plt.subplots(figsize=(6, 3.5))
ax.semilogy(metrics["train_loss"], label="training")
ax.semilogy(metrics["val_loss"], label="validation")
ax.set_xlabel("epoch")
ax.set_ylabel("cross-entropy")
ax.set_title("penguins: loss per epoch, from metrics.json")
ax.legend()
plt.show()

# %% [markdown]
# ## What the task detection says
#
# The task follows from the target column:
#
# - text or true/false: **classification**;
# - whole numbers with at most 20 distinct values: **classification**;
# - any other numbers: **regression**.
#
# `cr.data.load_table` is the function the command line uses. Its `notes` say what was
# decided, in the words the command prints. Two targets show the point:

# %%
for target in ["body_mass_g", "year"]:
    table = cr.data.load_table("penguins.csv", target=target)
    print(f"{target}:")
    for note in table.notes:
        print("   ", note)

# %% [markdown]
# `body_mass_g` is regressed, and the two rows without a mass are dropped and counted.
# `year` holds only 2007, 2008 and 2009, so it would be **classified**. If the value is
# a quantity, that is wrong: give `--task regression` (in Python, `task="regression"`). For
# regression, `metrics.json` has `test_rmse`, `test_mae` and `test_r2` instead of
# accuracy, each against always predicting the training mean.
#
# Inputs are chosen the same way. Constant columns, and text columns with a different value
# in most rows (names, ids), are left out with a note. A column of whole-number ids is
# **kept** as a number, though: drop it with `--features`, which lists the inputs
# explicitly.

# %% [markdown]
# ## The same from Python
#
# `load_table` returns the split and preprocessed arrays (`X_train`, `y_train`, `X_val`,
# ...), the class names and the fitted preprocessor. From there it is an ordinary chainrule
# training loop, and `fit` takes the arrays as they are.

# %%
from chainrule import nn, optim
from chainrule.train import evaluate, fit

cr.manual_seed(0)
table = cr.data.load_table("penguins.csv", target="species", seed=0)
print(table.X_train.shape, table.X_val.shape, table.X_test.shape, table.classes)

model = nn.mlp(table.X_train.shape[1], [32], len(table.classes))
loss_fn = nn.CrossEntropyLoss()
history = fit(
    model,
    loss_fn,
    optim.Adam(model.parameters(), lr=1e-2),
    (table.X_train, table.y_train),
    val_data=(table.X_val, table.y_val),
    epochs=30,
    progress=False,
)
test_loss, test_accuracy = evaluate(model, loss_fn, (table.X_test, table.y_test))
print(f"test accuracy {test_accuracy:.4f}")

# %% [markdown]
# The network has 17 inputs for 7 columns: each number gets a column, plus a 0/1
# column where training had missing values, and each text column gets one-hot columns,
# with `(other)` for values never seen in training. `table.feature_names` lists them.
#
# To predict new raw rows with this model, save it with the fitted preprocessing in its
# metadata, under the key `table` (this is how `chainrule train` saves it). Then
# `chainrule predict`, `chainrule info` and `chainrule export` treat it like a model trained
# from the command line:

# %%
cr.save(model, "python-model.safetensors", metadata={"table": table.preprocessor.to_dict()})
# !chainrule predict python-model.safetensors new_penguins.csv

# %% [markdown]
# ## When a column is wrong
#
# chainrule refuses a table it cannot use before it trains, with one line that names the
# file, the column and the place. A misspelt target gets the nearest column name:

# %%
# !chainrule train --data penguins.csv --target Species --quiet --out run-typo

# %% [markdown]
# A numeric column with a stray text value is not silently turned into a category: the
# error names the line in the file. Here one mass was typed as `3,7 kg`:

# %%
broken = penguins.astype({"body_mass_g": object})
broken.loc[40, "body_mass_g"] = "3,7 kg"
broken.to_csv("broken.csv", index=False)
# !chainrule train --data broken.csv --target species --quiet --out run-broken

# %% [markdown]
# Line 42 is the 41st data row, because the header is line 1. Fix the value, or write `NA`
# if it is missing. In Python, the same problem is a `TableError` with the same message:

# %%
try:
    cr.data.load_table("broken.csv", target="species")
except cr.data.TableError as error:
    print("TableError:", error)

# %% [markdown]
# Prediction checks its input the same way. New rows that lack a column the model needs are
# refused, with the missing column named:

# %%
penguins.drop(columns=["species", "island"]).head(3).to_csv("no_island.csv", index=False)
# !chainrule predict run/model.safetensors no_island.csv

# %% [markdown]
# Neither failed command leaves anything behind: there is no `run-typo` or `run-broken`
# folder.

# %%
print(sorted(name for name in os.listdir() if name.startswith("run")))

# %% [markdown]
# An existing `--out` folder is never overwritten either. To try other settings, give a new
# folder.
