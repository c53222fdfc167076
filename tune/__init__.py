"""The CLI, the typed run config, training, and the only code that knows Ray Tune and Optuna."""
