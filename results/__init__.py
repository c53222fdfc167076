"""Tables and reports from a run directory's plain files (config.json, trials.jsonl, summary.json).

Never imports Ray, so reports can be made on a machine without a cluster.
"""
