"""The ground floor: what every room stands on and nothing of ours is under. The settings engine
(settings.py), atomic files and locks (files.py), the run directory's contract and its claim
(run_dir.py), and the bad-input error (errors.py). It imports nothing from data/, models/,
tune/ or results/ (tests/test_layout.py)."""
