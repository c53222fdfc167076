"""`rnn-tune vectors {list,fetch,add}`: the named pre-trained word vectors and the cache that
holds them.

`fetch NAME` downloads one now (a sweep or `train` would on first use); `add NAME FILE` registers
a copy you already have, for machines that cannot download (it is checked: readable vectors of
NAME's size; a file with the published checksum counts as the official one).
"""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "vectors", help="list, download or register pre-trained word vectors", description=__doc__
    )
    p.add_argument("--cache-dir", help="the cache (else $RNN_TUNE_CACHE_DIR or ~/.cache/rnn-tune)")
    actions = p.add_subparsers(dest="action", required=True)
    actions.add_parser("list", help="the named vectors, their size and whether they are cached")
    fetch = actions.add_parser("fetch", help="download NAME into the cache now")
    fetch.add_argument("name")
    add = actions.add_parser("add", help="register FILE as NAME's vectors in the cache")
    add.add_argument("name")
    add.add_argument("file")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from data.config import default_cache_dir
    from data.errors import DataError
    from data.vector_sources import SOURCES, cached, fetch, register

    cache_dir = Path(args.cache_dir).expanduser() if args.cache_dir else default_cache_dir()
    if args.action in ("fetch", "add") and args.name not in SOURCES:
        raise DataError(f"unknown vectors {args.name!r}: known are {', '.join(SOURCES)}")
    if args.action == "fetch":
        record = fetch(args.name, cache_dir)
        size = record["bytes"] / 1e6
        print(f"{args.name}: {record['path']} ({size:.0f} MB, md5 {record['md5']})")
    elif args.action == "add":
        record = register(args.name, Path(args.file), cache_dir)
        kind = "the official file" if record["official"] else "your own copy (not the official md5)"
        print(f"{args.name}: registered {args.file} as {kind}: {record['path']}")
    else:
        print(f"{'name':14s} {'dim':>4s} {'download':>9s}  cached  source")
        for name, source in SOURCES.items():
            record = cached(name, cache_dir)
            state = "-" if not record else "yes" if record["official"] else "own"
            size = source.size / 1e6
            print(f"{name:14s} {source.dim:4d} {size:6.0f} MB  {state:6s}  {source.about}")
        print(f"cache: {cache_dir / 'vectors'}")
    return 0
