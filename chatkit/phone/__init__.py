"""The phone: the learner's flow in a process of its own, and the judge's line to it.

The grader's judge never runs learner code. Each device of a scenario is a phone:
a process holding the learner's flow, its `chatkit.ChatState`, its clock and its
random numbers. The judge sends it plain-data commands (the user sends, an ack
arrives, the clock moves) and reads back plain data: every call the flow made to the
server, and the screen at every point the phone handed control back.

- `chatkit.phone.frames`: the wire, length-prefixed JSON with a size limit.
- `chatkit.phone.screen`: the screen as plain data, written by the phone and read,
  field by field, by the judge.
- `chatkit.phone.runtime`: the phone's side, turning commands into calls of
  ``send``/``reconcile``/``rollback``.
- `chatkit.phone.timeline`: the explorer's steps of a timeline, on the phone.
- `chatkit.phone.template`: the warm template phones are forked from.
- `chatkit.phone.link`: the judge's side, starting phones and talking to them.
"""
