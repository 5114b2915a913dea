# %% [markdown]
# # scikit-learn pipelines, cross-validation and grid search
#
# **You have** scikit-learn code: pipelines, `cross_val_score`, `GridSearchCV`.
# **You want** a chainrule network inside it, and to know how it compares with
# scikit-learn's own `MLPClassifier`.
#
# `chainrule.sklearn` has `MLPClassifier` and `MLPRegressor` with the parameters of
# `sklearn.neural_network`'s MLPs (`hidden_layer_sizes`, `alpha`, `learning_rate_init`,
# `max_iter`, `early_stopping`, ...). The network is a chainrule `nn.Sequential`, trained by
# chainrule's optimisers and `train.fit`. Everything else is scikit-learn. It needs the
# `[sklearn]` extra: `pip install "chainrule[sklearn]"`.
#
# The shortest path:
#
# ```python
# from sklearn.pipeline import make_pipeline
# from sklearn.preprocessing import StandardScaler
# from chainrule.sklearn import MLPClassifier
#
# model = make_pipeline(StandardScaler(), MLPClassifier((32,), random_state=0))
# model.fit(X_train, y_train).score(X_test, y_test)
# ```

# %%
import warnings

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from sklearn.compose import TransformedTargetRegressor
from sklearn.datasets import load_breast_cancer, make_friedman1
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, KFold, cross_val_score, train_test_split
from sklearn.neural_network import MLPClassifier as SklearnMLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import chainrule as cr
from chainrule.sklearn import MLPClassifier, MLPRegressor

# %% [markdown]
# ## The data and one split
#
# The breast cancer table ships with scikit-learn: 569 tumours, 30 measurements each, two
# classes. The measurements live on very different scales (areas in the hundreds, smoothness
# near 0.1), which is exactly what a scaler is for. A quarter goes to a test set, stratified.

# %%
cr.manual_seed(0)  # the library generator, for anything not seeded by random_state
X, y = load_breast_cancer(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.25, stratify=y, random_state=0
)
print(f"train {X_train.shape}, test {X_test.shape}")
largest = X.max(axis=0)
print(f"largest value of a feature: from {largest.min():.3f} to {largest.max():.0f}")

# %% [markdown]
# ## A network in a pipeline
#
# `random_state` seeds the initial weights and the shuffling, as in scikit-learn, so the fit
# is repeatable. Without it, the seed comes from chainrule's library generator, which
# `cr.manual_seed` seeds. `learning_rate_init=0.01` (ten times the default) lets this small
# problem converge in about a hundred epochs instead of running into `max_iter`.

# %%
model = make_pipeline(
    StandardScaler(),
    MLPClassifier((32,), learning_rate_init=0.01, random_state=0),
)
model.fit(X_train, y_train)
net = model[-1]
print("test accuracy:", round(model.score(X_test, y_test), 4))
print("epochs run:   ", net.n_iter_, "  final loss:", round(net.loss_, 4))
print("classes:      ", net.classes_, "  output:", net.out_activation_)

# %% [markdown]
# The fitted estimator has scikit-learn's attributes (`n_iter_`, `loss_`, `loss_curve_`,
# `classes_`, `n_features_in_`) and `predict_proba`. Training stopped by scikit-learn's rule:
# the loss did not improve by `tol` for more than `n_iter_no_change` epochs. Two classes give
# one output unit, the logit of `classes_[1]`, trained with `nn.BCEWithLogitsLoss`.
#
# The trained network itself is `model_`, an ordinary chainrule module. Save it with
# `cr.save` like any other (see [model files](../model-files.md)). Note that the file holds the
# network only: the `StandardScaler` is scikit-learn's, so keep the whole pipeline (pickle or
# joblib) if you want to predict on raw rows later.

# %%
print(net.model_)
cr.save(net.model_, "mlp.safetensors")
loaded = cr.load("mlp.safetensors")
x = cr.tensor(model[0].transform(X_test).astype(np.float32))  # scale as the pipeline does
with cr.no_grad():
    same = np.array_equal(loaded(x).numpy(), net.model_(x).numpy())
print("the loaded network gives the same logits:", same)

# %% [markdown]
# ## Cross-validation
#
# One test split of 143 rows is a noisy measurement. `cross_val_score` refits a fresh copy of
# the pipeline (scikit-learn's `clone`) on each fold, and the scaler is fitted on the training
# folds only, so no information leaks from the held-out fold.

# %%
scores = cross_val_score(model, X_train, y_train, cv=3)
print("fold accuracies:", scores.round(4), " mean", scores.mean().round(4))

# %% [markdown]
# ## Grid search
#
# In a pipeline the parameters are named `<step>__<parameter>`, the step being the class name
# in lower case for `make_pipeline`. Here: two widths and two strengths of the L2 penalty
# `alpha`, three folds each, twelve fits and one refit of the best on the whole training set.

# %%
grid = GridSearchCV(
    model,
    {
        "mlpclassifier__hidden_layer_sizes": [(8,), (32,)],
        "mlpclassifier__alpha": [1e-4, 1.0],
    },
    cv=3,
)
grid.fit(X_train, y_train)
results = pd.DataFrame(grid.cv_results_)[["params", "mean_test_score", "rank_test_score"]]
print(results.round(4).to_string(index=False))
print("best:", grid.best_params_)
print("test accuracy of the refitted best:", round(grid.score(X_test, y_test), 4))

# %% [markdown]
# The differences between the four settings are small on such an easy table: read the
# `mean_test_score` column before trusting the ranking. `grid.best_estimator_` is the
# refitted pipeline; `n_jobs=2` runs the folds in parallel processes, which works because the
# estimators pickle.

# %% [markdown]
# ## Against scikit-learn's own MLPClassifier
#
# Same pipeline, same split, same settings; only the class changes. Both minimise the same
# objective (mean log-loss plus $\frac{\alpha}{2} \sum W^2$ divided by the batch size) with
# Adam and the same stopping rule, but they start from different random weights, so expect
# close, not equal, numbers.

# %%
ours = make_pipeline(
    StandardScaler(), MLPClassifier((32,), learning_rate_init=0.01, random_state=0)
).fit(X_train, y_train)
theirs = make_pipeline(
    StandardScaler(), SklearnMLPClassifier((32,), learning_rate_init=0.01, random_state=0)
).fit(X_train, y_train)
for name, pipe in [("chainrule", ours), ("scikit-learn", theirs)]:
    print(
        f"{name:13s} test accuracy {pipe.score(X_test, y_test):.4f}  "
        f"epochs {pipe[-1].n_iter_:3d}  final loss {pipe[-1].loss_:.4f}"
    )

# %%
fig, ax = plt.subplots(figsize=(6, 3.5))
ax.plot(ours[-1].loss_curve_, label="chainrule.sklearn.MLPClassifier")
ax.plot(theirs[-1].loss_curve_, "--", label="sklearn MLPClassifier")
ax.set_yscale("log")
ax.set_xlabel("epoch")
ax.set_ylabel("training loss (log scale)")
ax.set_title("Same objective, same optimiser, different initial weights")
ax.legend()
plt.show()

# %% [markdown]
# The two curves fall alike and stop after a similar number of epochs. What chainrule does
# not have is the `lbfgs` solver (see below); its networks train by stochastic gradients
# only. On speed, see [the performance page](../performance.md).

# %% [markdown]
# ## Regression: scale the target too
#
# `MLPRegressor` minimises half the mean squared error, as scikit-learn's does. Its default
# learning rate assumes targets of order 1, so wrap the pipeline in a
# `TransformedTargetRegressor`, which standardises `y` for training and undoes it for
# predictions. `make_friedman1` is a nonlinear function of 5 of its 10 inputs, plus noise;
# its target runs from about 0 to 30.

# %%
Xr, yr = make_friedman1(400, noise=0.5, random_state=0)
folds = KFold(3, shuffle=True, random_state=0)
with warnings.catch_warnings():
    warnings.simplefilter("ignore", ConvergenceWarning)  # the unscaled run hits max_iter
    for scale_y in (False, True):
        pipe = make_pipeline(
            StandardScaler(), MLPRegressor((32,), learning_rate_init=0.01, random_state=0)
        )
        if scale_y:
            pipe = TransformedTargetRegressor(pipe, transformer=StandardScaler())
        r2 = cross_val_score(pipe, Xr, yr, cv=folds, scoring="r2")
        print(f"target scaled: {scale_y!s:5}  R^2 per fold {r2.round(3)}")

# %% [markdown]
# With the raw target, every fold runs into `max_iter` (the warnings silenced above) with the
# output still far from the target's scale; scaled, the same network fits far better in the
# same budget.

# %% [markdown]
# ## What can go wrong
#
# **`ConvergenceWarning: ... stopped at max_iter=... epochs without converging`.** The loss
# was still improving when `max_iter` ran out. The model is usable, but raise `max_iter` or
# `learning_rate_init`, scale the inputs, or use `early_stopping=True`. Here with the
# defaults (`learning_rate_init=0.001`) and a short budget:

# %%
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    make_pipeline(StandardScaler(), MLPClassifier((32,), max_iter=50, random_state=0)).fit(
        X_train, y_train
    )
for warning in caught:
    print(f"{warning.category.__name__}: {warning.message}")

# %% [markdown]
# **A setting scikit-learn has and chainrule does not.** Settings are checked in `fit`, as
# in scikit-learn, so a grid search fails on the first bad value, with the setting named:

# %%
for bad in [{"solver": "lbfgs"}, {"activation": "softmax"}, {"hidden_layer_sizes": (0,)}]:
    try:
        MLPClassifier(**bad).fit(X_train, y_train)
    except ValueError as error:
        print(f"{bad}: {error}")

# %% [markdown]
# **A parameter name without its step.** In a pipeline, `alpha` alone is not a parameter; it
# is `mlpclassifier__alpha`. `model.get_params().keys()` lists the valid names.

# %%
try:
    GridSearchCV(model, {"alpha": [1e-4, 1.0]}, cv=3).fit(X_train, y_train)
except ValueError as error:
    print(str(error).splitlines()[0][:80], "...")

# %% [markdown]
# **A continuous target in a classifier.** `MLPClassifier` wants labels; for numbers use
# `MLPRegressor`. The message is scikit-learn's, from the same input checks its own
# estimators run:

# %%
try:
    MLPClassifier().fit(Xr, yr)
except ValueError as error:
    print(error)

# %% [markdown]
# **scikit-learn's `MLPRegressor` and positional arguments.** When you swap the classes, pass
# the settings by keyword. Since scikit-learn 1.7 its `MLPRegressor` takes `loss` as first
# argument, so `MLPRegressor((32,))` means `hidden_layer_sizes` in chainrule and `loss` in
# scikit-learn, whose fit then refuses it.
