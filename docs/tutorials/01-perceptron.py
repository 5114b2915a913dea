# %% [markdown]
# # The perceptron
#
# A perceptron draws a line: $y = \operatorname{sign}(w \cdot x + b)$.

# %%
import matplotlib.pyplot as plt

import chainrule as cr
from chainrule.classic import Perceptron
from chainrule.data import make_separable

X, y = make_separable(100, seed=0)
clf = Perceptron().fit(X, y)
print(clf.converged_, clf.n_epochs_, clf.n_updates_)

# %%
plt.scatter(X[:, 0], X[:, 1], c=y)
plt.title("two separable classes")
plt.show()
