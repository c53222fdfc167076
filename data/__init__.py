"""Text and files: tokenizer, vocab, dataset sources, the encode-once cache, splits and batches.

Imports neither model code nor Ray, so it can be used and tested on its own.
"""
