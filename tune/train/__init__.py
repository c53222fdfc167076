"""One model end to end, without Ray or Optuna: the prologue, the training loop, inference,
checkpoints, the device and the per-epoch record. `rnn-tune train` runs on this alone; a sweep's
trial calls the same functions."""
