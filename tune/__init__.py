"""The CLI, the typed run config and the run directory's claim; below them, by what each may
import:

- `tune/train/`: one model end to end (loop, checkpoint, device, inference). No Ray, no Optuna.
- `tune/sweep/`: the only code that imports Ray or Optuna (driver, trial, searcher, pruning,
  cluster checks, Ray's state, the records). May import everything else.
- `tune/outcome/`: what a finished sweep concludes (ensemble, baseline, summary). No Ray, no
  Optuna: it works from checkpoints and arrays.
- `tune/cli/`: one module per subcommand.

Run directories written before this layout pickled classes under their old module paths
(Ray's `tuner.pkl`, the searcher's state); `tune/moved.py` keeps those paths importable.
"""

from tune.moved import install as _install_moved

_install_moved()
