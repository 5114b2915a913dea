"""Figures drawn with matplotlib's object API (never pyplot state), always written atomically;
matplotlib is imported inside the functions, so ``import chainrule`` stays light."""
