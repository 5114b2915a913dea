"""The engine: tensors that record what is done to them, the graph walk that runs the chain rule
backwards over that record, and what is built directly on it (dtypes, the library's random
generator, tensor creation, derivatives of any order). It knows nothing above it."""
