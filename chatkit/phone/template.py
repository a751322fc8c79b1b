"""The warm template phones are forked from: ``python -m chatkit.phone.template``.

Starting an interpreter and importing the kit takes a good part of a second; a
scenario needs a phone in a few milliseconds. So the judge starts this template once:
it imports the phone's runtime and compiles the learner's files, and runs none of
them. For each phone the judge hands it one end of a fresh socket pair; the template
forks, and the child confines itself (`chatkit.sandbox.confine`), caps its memory,
runs its own copy of the flow and answers the judge on that socket.

The template is the phones' parent, so it is the one that can stop them and see how
they ended: the judge asks it to kill a phone that stopped answering, and how one whose
line closed ended (a crash, or a kill from outside). It reaps its children as it goes,
so a pid it kills is always one of its own.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import sys
import time
from dataclasses import replace
from pathlib import Path
from types import FrameType
from typing import Any

from chatkit.blame import blame_frame, load_failure
from chatkit.limits import ENDING_SECONDS
from chatkit.phone.errors import blame_data
from chatkit.phone.frames import read_frame, write_frame
from chatkit.phone.hang_watch import HangWatch, StuckInLearnerCode
from chatkit.phone.runtime import Phone, serve
from chatkit.portable import limit_memory
from chatkit.sandbox import FlowCode
from chatkit.sandbox.confine import Confinement, ConfinementError
from chatkit.sandbox.shared_caches import forget_shared_caches
from chatkit.target import check_shape

MAX_ORDER = 4096
"""The largest order the judge sends the template."""


def _compiled(target: Path) -> tuple[FlowCode, BaseException | None]:
    """The learner's code, compiled (and not run); a syntax error is kept for each phone to tell."""
    code = FlowCode(target)
    try:
        code.code(code.path)
    except SyntaxError as error:
        return code, error
    return code, None


def main(target: Path, control: socket.socket) -> None:
    """The template: hand the judge a phone for each order, until the judge hangs up.

    One phone is always forked ahead, already confined and waiting for its order on its
    own line: the judge gets it at once, and the next one is forked while the judge works.
    """
    code, compiled_error = _compiled(target)
    forget_shared_caches()  # finds them once, here: each phone forked from now on knows them
    confinement = Confinement(code.folder, [], None)
    children: set[int] = set()
    ended: dict[int, int | str] = {}

    def fork_ahead() -> tuple[int, socket.socket]:
        mine, theirs = socket.socketpair()
        pid = os.fork()
        if pid == 0:
            control.close()
            mine.close()
            _phone(code, compiled_error, confinement, theirs, None)
        theirs.close()
        children.add(pid)
        return pid, mine

    ready = fork_ahead()
    try:
        while True:
            try:
                data = control.recv(MAX_ORDER)
            except OSError:
                return
            if not data:
                return
            _reap(children, ended)
            order: dict[str, Any] = json.loads(data)
            if order["do"] == "kill":
                if order["pid"] in children:
                    os.kill(order["pid"], signal.SIGKILL)
                control.send(b"{}")
                continue
            if order["do"] == "ended":
                status = _ended(order["pid"], children, ended)
                control.send(json.dumps({"status": status}).encode())
                continue
            pid, line = ready
            socket.send_fds(control, [json.dumps({"pid": pid}).encode()], [line.fileno()])
            line.close()
            ready = fork_ahead()
    finally:
        os.kill(ready[0], signal.SIGKILL)


def _phone(
    code: FlowCode,
    compiled_error: BaseException | None,
    confinement: Confinement,
    channel: socket.socket,
    order: dict[str, Any] | None,
) -> None:
    """The phone: confine, take its order (from the judge, if not given), load the flow,
    answer the judge; never return."""
    status = 0
    try:
        limit_memory()
        try:
            confinement.enter()
        except ConfinementError as error:
            write_frame(channel, {"confinement": str(error)})
            os._exit(1)
        if order is None:
            order = read_frame(channel)
        if compiled_error is not None:
            raise compiled_error
        ready = False

        def swallowed(message: str, frame: FrameType) -> None:
            place = blame_frame(frame, str(code.folder))
            stuck = {"type": "StuckInLearnerCode", "message": message, "where": blame_data(place)}
            told = {"events": [], "fatal": stuck} if ready else {"load": stuck}
            with contextlib.suppress(OSError):
                write_frame(channel, told)  # nothing more happened
            os._exit(1)

        with HangWatch(code.folder, swallowed=swallowed):  # the flow's own lines run from here
            phone = Phone(code, order["scenario"], order["device"], order["user"])
            check_shape(phone.client.flow, code.path)
            write_frame(channel, {"ready": True})
            ready = True
            serve(channel, phone)
    except BaseException as error:
        failure = load_failure(error, code.path)
        if isinstance(error, StuckInLearnerCode):  # not the flow's own sys.exit
            failure = replace(failure, message=f"while it was being imported, {error.code}")
        with contextlib.suppress(OSError):
            write_frame(
                channel,
                {
                    "load": {
                        "message": failure.message[:2000],
                        "type": failure.error_type,
                        "where": blame_data(failure.place),
                    }
                },
            )
        status = 1
    finally:
        os._exit(status)


KEEP_ENDED = 1024
"""How many ended phones the template remembers the end of."""


def _reap(children: set[int], ended: dict[int, int | str]) -> None:
    """Wait for every phone that has ended, and keep how the latest ones ended."""
    for pid in list(children):
        try:
            done, status = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            done, status = pid, None
        if done:
            children.discard(pid)
            ended[pid] = "unknown" if status is None else os.waitstatus_to_exitcode(status)
            if len(ended) > KEEP_ENDED:
                del ended[next(iter(ended))]


def _ended(pid: int, children: set[int], ended: dict[int, int | str]) -> int | str:
    """How phone ``pid`` ended: its exit code, or minus the signal that ended it (as
    `subprocess` says it), "running" or "unknown". A phone that closed its line is on
    its way out: it gets a moment."""
    deadline = time.monotonic() + ENDING_SECONDS
    while pid in children and time.monotonic() < deadline:
        _reap(children, ended)
        if pid in children:
            time.sleep(0.01)
    if pid in children:
        return "running"
    return ended.get(pid, "unknown")


def one_phone(target: Path, port: int) -> None:
    """Where there is no ``fork`` (Windows): this process is one phone. It dials the judge
    on loopback, says the one-time token the judge gave it, and takes its order."""
    channel = socket.create_connection(("127.0.0.1", port))
    write_frame(channel, {"token": sys.stdin.readline().strip()})
    order = json.loads(sys.stdin.readline())
    code, compiled_error = _compiled(target)
    _phone(code, compiled_error, Confinement(code.folder, [], None), channel, order)


if __name__ == "__main__":
    if sys.argv[1] == "--one":
        one_phone(Path(sys.argv[2]), int(sys.argv[3]))
    else:
        main(Path(sys.argv[1]), socket.socket(fileno=int(sys.argv[2])))
