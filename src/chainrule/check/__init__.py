"""Checking derivatives: central finite differences, ``gradcheck`` for any function,
``gradcheck_model`` for every parameter of a model, and the self-check of every op."""
