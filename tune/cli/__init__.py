"""`rnn-tune` subcommands, one module each (parser + command function)."""
