"""`python -m bot.sample_site --port 8089 [--interval 4] [--seed 1]`: serve the sample site on its own."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging

from .server import BOT_APP_PASSWORD, BOT_USERNAME, MAIN_POST_ID, SampleSite


def _parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bot.sample_site",
        description="Serve the made-up WordPress discussion Thread Mirror's demo mirrors.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8089, help="port (default 8089; 0 picks a free one)")
    parser.add_argument(
        "--interval", type=float, default=4.0, help="seconds between new live comments (default 4; 0 = none)"
    )
    parser.add_argument("--seed", type=int, default=1, help="seed for the order of the live comments")
    parser.add_argument("-q", "--quiet", action="store_true", help="do not log each new comment")
    return parser.parse_args(argv)


async def _serve(args: argparse.Namespace) -> None:
    site = SampleSite(host=args.host, port=args.port, interval=args.interval, seed=args.seed)
    url = await site.start()
    post = site.posts[MAIN_POST_ID]
    print(f"Sample site: {url}/", flush=True)
    print(f"  REST API:  {site.api_root}", flush=True)
    print(f"  post {post.id}:   {site.post_link(post)}", flush=True)
    print(f"  login:     {BOT_USERNAME} / application password '{BOT_APP_PASSWORD}'", flush=True)
    if args.interval > 0:
        print(f"  a new comment every {args.interval:g} s; Ctrl-C stops", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await site.stop()


def main(argv: list[str] | None = None) -> None:
    args = _parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING if args.quiet else logging.INFO,
        format="%(asctime)s %(message)s",
        datefmt="%H:%M:%S",
    )
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args))


if __name__ == "__main__":
    main()
