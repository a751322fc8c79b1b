"""Where the explored flow runs: on a phone of its own when grading, here for the kit's tests.

The judge's `chatkit.engine.timelines.run.Run` sends one command per step of a timeline
and reads the report (`chatkit.phone.timeline`). `PhoneDevice` carries them over a
phone's line; `LocalDevice` hands them to the same phone code in this process, for the
kit's own tests and benchmarks, which run flows the kit trusts.
"""

from __future__ import annotations

import contextlib
from typing import Any

from chatkit.engine.remote import PhoneFailed, PhoneMisbehaved, RemotePhone
from chatkit.engine.timelines.run import Device
from chatkit.phone.link import REPORT_SECONDS
from chatkit.protocols import Flow


class LocalDevice(Device):
    """A flow run in this process, through the phone's own timeline code."""

    def __init__(self, flow: Flow) -> None:
        # Imported here: the phone's side imports this package's world and canon, so the
        # package cannot import it while it loads.
        from chatkit.phone.timeline import TimelineDevice

        self._device = TimelineDevice.here(flow)

    def call(self, command: dict[str, Any]) -> dict[str, Any]:
        return self._device.handle(command)

    def close(self) -> None:
        self._device.close()


class PhoneDevice(Device):
    """A scenario's phone, explored: each command is a round trip on its line."""

    def __init__(self, phone: RemotePhone, seconds: float = REPORT_SECONDS) -> None:
        self.phone = phone
        self.seconds = seconds
        """How long the judge waits for one step's report (the phone stops a loop in the flow
        long before)."""
        self._open = False
        """Whether the phone has more reports of its last command to send."""
        self._ahead = 0
        """How many more steps the last command let the phone run ahead into."""

    def call(self, command: dict[str, Any]) -> dict[str, Any]:
        while self._open:  # steps the phone ran ahead that the walk did not take
            with contextlib.suppress(PhoneFailed):  # in a step the walk never asked for:
                self.more()  # not a verdict
        self._ahead = len(command.get("then", ()))
        return self._result(self.phone.job({"do": "timeline", **command}, self.seconds))

    def more(self) -> dict[str, Any]:
        self._ahead -= 1
        try:
            report = self.phone.job_more(self.seconds)
        except BaseException:
            self._open = False  # a phone that failed sends nothing more of that command
            raise
        return self._result(report)

    def _result(self, report: dict[str, Any]) -> dict[str, Any]:
        result = report.get("result")
        self._open = type(result) is dict and result.get("more") is True
        if type(result) is not dict:
            raise PhoneMisbehaved("the phone's step of a timeline is not one")
        if self._open and self._ahead <= 0:
            self._open = False
            raise PhoneMisbehaved("the phone ran ahead further than the judge let it")
        return result

    def close(self) -> None:
        """Hang up: the exploration is over (or the phone misbehaved)."""
        self.phone.close()
