"""What a finished sweep concludes, from checkpoints and arrays (no Ray, no Optuna): the ensemble
of its top trials, the baseline fitted on the same splits with the paired test, and summary.json.
"""
