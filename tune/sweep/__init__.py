"""The only code that imports Ray or Optuna (tests/test_layout.py checks it): the sweep's driver,
the Ray trial and what it shows in the dashboard, the Optuna searcher and study, the search
space, checkpoint pruning, the cluster checks, Ray's state on resume, and the plain records.
Their APIs move between releases: keep the calls few and here."""


def __getattr__(name: str):
    from tune.moved import from_old_sweep

    return from_old_sweep(name)
