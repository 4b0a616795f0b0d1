"""`python -m tests.soak`: the full soak (what `make soak` runs), on its own WordPress and Synapse.

    python -m tests.soak --comments 2000 --replies 200 --kills 20

Prints the figures as a Markdown table; exits 1 when anything was lost, doubled or misordered.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import logging
import signal
import sys
import tempfile
from pathlib import Path

from tests.fake_discord import FakeDiscord
from tests.realwp import start_wordpress
from tests.soak.harness import Soak, SoakParams
from tests.synapse import start_synapse


def parse(argv: list[str] | None = None) -> tuple[SoakParams, Path | None]:
    parser = argparse.ArgumentParser(prog="python -m tests.soak", description=__doc__.split("\n\n")[0])
    defaults = SoakParams()
    for item in dataclasses.fields(SoakParams):
        flag = "--" + item.name.replace("_", "-")
        default = getattr(defaults, item.name)
        if isinstance(default, bool):
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=default)
        else:
            parser.add_argument(flag, type=type(default), default=default)
    parser.add_argument("--workdir", type=Path, help="keep the servers' and the bot's files here")
    args = vars(parser.parse_args(argv))
    workdir = args.pop("workdir")
    return SoakParams(**args), workdir


async def main(params: SoakParams, workdir: Path) -> int:
    print(f"soak in {workdir}: {params}", flush=True)
    task = asyncio.current_task()
    assert task is not None
    for stop in (signal.SIGTERM, signal.SIGINT):  # stopped: still end the servers and the bot
        asyncio.get_running_loop().add_signal_handler(stop, task.cancel)
    run = Path(tempfile.mkdtemp(prefix="run-", dir=workdir))  # a WordPress in workdir is reused
    wp = await asyncio.to_thread(start_wordpress, workdir / "wordpress")
    synapse = await asyncio.to_thread(start_synapse, run / "synapse")
    fake = FakeDiscord()
    await fake.start()
    try:
        (run / "bot").mkdir()
        report = await Soak(wp, synapse, fake, run / "bot", params).run()
    finally:
        await fake.stop()
        synapse.stop()
        wp.stop()
    print(report.table())
    for problem in report.problems[:20] + report.failed_jobs + report.unexpected_exits:
        print("problem:", problem)
    print("OK" if report.ok else "FAILED", flush=True)
    return 0 if report.ok else 1


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("soak").setLevel(logging.INFO)
    soak_params, keep = parse()
    if keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
        sys.exit(asyncio.run(main(soak_params, keep)))
    with tempfile.TemporaryDirectory(prefix="thread-mirror-soak-") as folder:
        sys.exit(asyncio.run(main(soak_params, Path(folder))))
